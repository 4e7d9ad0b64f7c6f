"""The audit log proves itself to outsiders: a running audit service signs checkpoints, serves
proofs, and every way of rewriting its store is caught by whoever kept an earlier checkpoint.

The judges import nothing of ours: examples/audit_verify.py (the offline
verifier, run as a process, fed the API's own answers as files) and
examples/audit_witness.py (the witness, a process of its own on the broker).
The attacker has the database, and in the worst case also deletes the
checkpoints file and the store's checkpoints, restarts audit, and lets it sign
whatever the store now holds.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from contracts import REGISTRY
from contracts.audit import leaf_hash as event_leaf_hash
from onestop.config import Settings
from onestop.messaging.topology import EVENTS
from onestop.storage.mongo import database
from services.audit.store import AuditRepository
from tests.conftest import free_port
from tests.integration.test_delivery import publish, received_event
from tests.support.staff import bearer
from tests.support.tap import Tap


def queue_consumers(amqp_uri, name) -> int:
    from kombu import Connection
    with Connection(amqp_uri) as conn:
        return conn.default_channel.queue_declare(name, passive=True).consumer_count
from tests.support.wait import until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
VERIFY, WITNESS = ROOT / "examples" / "audit_verify.py", ROOT / "examples" / "audit_witness.py"
CENTER, AUDITOR = "hue-vyda", bearer("auditor", "auditor-01")
FIRST, LATER = 12, 5  # entries before the holder's checkpoint, entries after it


def events(n: int, start: int = 1) -> list[dict]:
    return [received_event(code=f"VYDA-261201-{i:04d}") for i in range(start, start + n)]


class Audit:
    """The audit service as its own process (`nameko run`, as deployed), on the test's vhost and
    store; killed with SIGKILL and started again on the same address, store and files."""

    def __init__(self, config):
        self.config, self.port, self.process = config, free_port(), None
        self.env = {**os.environ, **{k: str(v) for k, v in config.items()}, "AUDIT_CHECKPOINT_INTERVAL": "3600",
                    "WEB_SERVER_ADDRESS": f"127.0.0.1:{self.port}", "PYTHONWARNINGS": "ignore"}
        settings = Settings.load(self.env)
        self.db = database(settings, "audit")
        self.ledger = Path(settings.audit_checkpoints_file)
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self):
        nameko = Path(sys.executable).parent / "nameko"
        self.process = subprocess.Popen([str(nameko), "run", "--config", str(ROOT / "deploy" / "nameko.yaml"),
                                         "services.audit.service"], cwd=ROOT, env=self.env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        until(self._healthy, 60, 0.1, "audit healthy")
        return self

    def _healthy(self) -> bool:
        assert self.process.poll() is None, "audit exited"
        try:
            return requests.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def kill(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=20)

    def restart(self):
        self.kill()
        return self.start()

    def record(self, batch):
        before = self.db.entries.count_documents({})
        for event in batch:
            publish(self.config["AMQP_URI"], event)
        until(lambda: self.db.entries.count_documents({}) == before + len(batch), 20, 0.05, "audit entries")

    def get(self, path, **params):
        return requests.get(f"{self.url}{path}", params=params, headers=AUDITOR, timeout=10)

    def sign(self):
        return requests.post(f"{self.url}/api/v1/audit/checkpoints", json={"center": CENTER}, headers=AUDITOR,
                             timeout=10)

    def vkeys(self):
        keys = requests.get(f"{self.url}/api/v1/audit/keys", timeout=10).json()["keys"]
        return [k["vkey"] for k in keys if k["center"] == CENTER]


@pytest.fixture
def audit(config):
    if Settings.load(config).embedded_store == "memory" and not Settings.load(config).mongo_uri:
        pytest.skip("the attacker writes the store from outside audit's process: not the in-memory store")
    running = Audit(config).start()
    yield running
    running.kill()


def verifier(tmp_path, command, vkeys, **files) -> subprocess.CompletedProcess:
    """examples/audit_verify.py <command>, each input written to a file as the API returned it."""
    args = [sys.executable, str(VERIFY), command]
    for vkey in vkeys:
        args += ["--vkey", vkey]
    for option, content in files.items():
        for i, item in enumerate(content if isinstance(content, list) else [content]):
            path = tmp_path / f"{option}-{i}.{'txt' if isinstance(item, str) else 'json'}"
            path.write_text(item if isinstance(item, str) else json.dumps(item))
            args += [f"--{option}", str(path)] if i == 0 else [str(path)]
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


def all_entries(audit: Audit) -> list[dict]:
    pages, start = [], 0
    while start is not None:
        answer = audit.get("/api/v1/audit/entries", center=CENTER, start=start, limit=7)
        if answer.status_code != 200:
            break
        pages.append(answer.json())
        start = answer.json()["next"]
    return pages


def test_a_checkpoint_proves_a_dossiers_entries_and_the_next_checkpoint_extends_it(audit, tmp_path):
    audit.record(events(FIRST))
    signed = audit.sign()
    assert signed.status_code == 201, signed.text
    first = signed.json()
    assert first["tree_size"] == FIRST and first["note"].startswith(f"onestop.local/audit/{CENTER}\n{FIRST}\n")
    assert audit.sign().status_code == 200  # nothing new: the same checkpoint
    assert json.loads(audit.ledger.read_text().splitlines()[-1])["note"] == first["note"]  # the file outside

    audit.record(events(LATER, FIRST + 1))
    second = audit.sign().json()
    timeline = audit.get(f"/api/v1/audit/dossiers/VYDA-261201-{FIRST + 2:04d}", proofs="true").json()
    entry = timeline["entries"][0]
    assert entry["leaf_hash"] == event_leaf_hash(json.loads(entry["leaf"]))
    assert entry["inclusion"]["tree_size"] == FIRST + LATER

    vkeys = audit.vkeys()
    assert verifier(tmp_path, "dossier", vkeys, timeline=timeline).returncode == 0
    proof = audit.get("/api/v1/audit/proofs/consistency", center=CENTER, first=FIRST, second=FIRST + LATER).json()
    kept = verifier(tmp_path, "consistency", vkeys, old=first["note"], new=second["note"], proof=proof)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert verifier(tmp_path, "log", vkeys, checkpoint=second["note"], entries=all_entries(audit)).returncode == 0
    receipt = requests.get(f"{audit.url}/api/v1/audit/receipts/{entry['leaf_hash']}", timeout=10).json()
    assert receipt["leaf_index"] == entry["leaf_index"] and "leaf" not in receipt
    assert verifier(tmp_path, "receipt", vkeys, receipt=receipt).returncode == 0


def test_a_bad_request_for_a_proof_names_the_field(audit):
    audit.record(events(3))
    audit.sign()
    for params, field in (({"first": 2, "second": 9}, "second"), ({"first": "x", "second": 2}, "first"),
                          ({"second": 2}, "first")):
        answer = audit.get("/api/v1/audit/proofs/consistency", center=CENTER, **params)
        assert answer.status_code == 422 and answer.json()["fields"][0]["field"] == field
    answer = audit.get("/api/v1/audit/proofs/inclusion", center=CENTER, leaf_index=3)
    assert answer.status_code == 422 and answer.json()["fields"][0]["field"] == "leaf_index"
    assert audit.get("/api/v1/audit/proofs/inclusion", center=CENTER, leaf_hash="ab" * 32).status_code == 404
    assert audit.get("/api/v1/audit/entries", center=CENTER, limit=1001).json()["fields"][0]["field"] == "limit"


# The tampering: each takes the database (and a copy of it taken earlier) and rewrites it.

def _swap(db, a: int, b: int) -> None:
    ea, eb = (db.entries.find_one({"seq": s}) for s in (a, b))
    keep = ("_id", "seq", "center")
    db.entries.delete_many({"seq": {"$in": [a, b]}})
    for doc in ({**eb, **{k: ea[k] for k in keep}}, {**ea, **{k: eb[k] for k in keep}}):
        db.entries.insert_one(doc)


def _cut(db, last: int, head: str) -> None:
    db.entries.delete_many({"seq": {"$gt": last}})
    if head == "lower":
        kept = db.entries.find_one({"seq": last})
        db.heads.update_one({"_id": CENTER}, {"$set": {"seq": last, "hash": kept["hash"]}})
    elif head == "delete":
        db.heads.delete_many({})


def _rewrite_and_recompute(db, seq: int) -> None:
    """Entry `seq` changed, and every hash after it recomputed, with our own code: a perfect forgery
    of the chain, the tree's nodes and the head."""
    stored = [e["event"] for e in db.entries.find({}, {"event": 1}).sort("seq", 1)]
    stored[seq - 1]["data"]["applicant"] = "X. X. X."
    for name in ("entries", "heads"):
        db[name].delete_many({})
    forged = AuditRepository(db)
    for event in stored:
        forged.append(event, "2026-12-01T00:00:00.000Z")


def _restore(db, copy: dict) -> None:
    for name, docs in copy.items():
        db[name].delete_many({})
        for doc in docs:
            db[name].insert_one(doc)


TAMPERING = {
    "flip a field": lambda db, old: db.entries.update_one({"seq": 3}, {"$set": {"event.data.applicant": "X. Y."}}),
    "delete an entry": lambda db, old: db.entries.delete_one({"seq": 5}),
    "reorder two entries": lambda db, old: _swap(db, 4, 6),
    "truncate the tail": lambda db, old: _cut(db, 9, head="keep"),
    "truncate the tail and lower the head": lambda db, old: _cut(db, 9, head="lower"),
    "truncate the tail and delete the head": lambda db, old: _cut(db, 9, head="delete"),
    "rewrite an entry and recompute everything after it": lambda db, old: _rewrite_and_recompute(db, 2),
    "replace the store with an empty one": lambda db, old: _restore(db, {"entries": [], "heads": [],
                                                                         "checkpoints": []}),
    "roll the store back to an older backup": lambda db, old: _restore(db, old),
}
# Entries changed, removed or moved where no hash of the tree audit reads to sign is touched: the next
# checkpoint still states the tree truly; the entries fail their own proofs, and the log its recomputation.
TREE_INTACT = {"flip a field", "delete an entry", "reorder two entries"}
# What an attacker would leave: a store that is consistent in itself, which audit, without its
# checkpoints, would take at its word. The others are broken on their face: audit never signs them.
SELF_CONSISTENT = {"truncate the tail and lower the head", "truncate the tail and delete the head",
                   "rewrite an entry and recompute everything after it", "replace the store with an empty one",
                   "roll the store back to an older backup"}


class Witness:
    """examples/audit_witness.py as another agency runs it: its own key, state and queue."""

    def __init__(self, tmp_path, config, audit: Audit):
        key = tmp_path / "witness.key"
        made = subprocess.run([sys.executable, str(WITNESS), "keygen", "--name", "witness.test",
                               "--key-file", str(key)], capture_output=True, text=True, timeout=30, check=True)
        self.vkey = made.stdout.strip().splitlines()[-1]
        args = [sys.executable, str(WITNESS), "run", "--amqp", config["AMQP_URI"], "--audit", audit.url,
                "--token", AUDITOR["Authorization"].split()[1], "--key-file", str(key),
                "--state-dir", str(tmp_path / "witness-state"), "--centers", CENTER]
        for vkey in audit.vkeys():
            args += ["--vkey", vkey]
        self.log = (tmp_path / "witness.log").open("w+")
        self.process = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        until(lambda: self._listening(config["AMQP_URI"]), 20, 0.1, "the witness's queue")

    def _listening(self, amqp_uri) -> bool:
        assert self.process.poll() is None, self.output()
        try:
            return queue_consumers(amqp_uri, "witness.witness.test") > 0
        except Exception:  # not declared yet
            return False

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text()

    def stop(self):
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=20)


@pytest.fixture
def witness_factory(tmp_path, config):
    started = []

    def start(audit):
        started.append(Witness(tmp_path, config, audit))
        return started[-1]
    yield start
    for witness in started:
        witness.stop()


class Heard:
    """Every event about the log a subscriber received so far (a tap drains its queue)."""

    def __init__(self, amqp_uri):
        self.tap, self.seen = Tap(amqp_uri, EVENTS, "audit.#"), []

    def __call__(self, kind):
        self.seen += self.tap.messages()
        return [m for m in self.seen if m["type"] == kind]


@pytest.mark.parametrize("tampering", list(TAMPERING))
def test_every_rewrite_of_the_store_is_caught_by_a_holder_of_an_earlier_checkpoint(
        tampering, audit, config, tmp_path, witness_factory):
    heard = Heard(config["AMQP_URI"])
    audit.record(events(6))
    older = {name: list(audit.db[name].find()) for name in ("entries", "heads", "checkpoints")}  # the backup
    audit.record(events(FIRST - 6, 7))
    witness = witness_factory(audit)
    held = audit.sign().json()  # the checkpoint the holder (a citizen, an inspector, the witness) keeps
    vkeys = audit.vkeys()
    until(lambda: f"size {FIRST}" in witness.output(), 20, 0.1, "the witness cosigning the first checkpoint")
    audit.record(events(LATER, FIRST + 1))

    TAMPERING[tampering](audit.db, older)
    audit.restart()

    # The holder: the log's first entries no longer give the root it kept.
    judged = verifier(tmp_path, "log", vkeys, checkpoint=held["note"], entries=all_entries(audit) or [
        {"center": CENTER, "origin": held["origin"], "entries": [], "next": None}])
    assert judged.returncode == 1, f"{tampering}: the offline verifier did not catch it\n{judged.stdout}"

    # Audit itself will not sign over a changed tree while its checkpoints file is there, and raises an alarm.
    refused = audit.sign()
    if tampering in TREE_INTACT:
        assert refused.status_code == 201, refused.text  # a true statement about the tree; the entry is the lie
    else:
        assert refused.status_code == 409, f"{tampering}: audit signed over it: {refused.text}"
        until(lambda: heard("audit.alarm.v1"), 10, 0.1, "an audit.alarm.v1 event")

    # The worst case: the attacker also removes every checkpoint audit kept, and restarts it.
    audit.ledger.unlink()
    audit.db.checkpoints.delete_many({})
    audit.restart()
    if tampering not in SELF_CONSISTENT:
        assert audit.sign().status_code == 409, f"{tampering}: audit signed a store that is broken on its face"
        return
    audit.record(events(2, 100))  # the forged log goes on (an emptied one starts again from #1)
    forged = audit.sign()
    assert forged.status_code == 201, forged.text
    proof = audit.get("/api/v1/audit/proofs/consistency", center=CENTER, first=held["tree_size"],
                      second=forged.json()["tree_size"])
    if proof.status_code == 200:  # else the log cannot even offer a proof: it shrank
        judged = verifier(tmp_path, "consistency", vkeys, old=held["note"], new=forged.json()["note"],
                          proof=proof.json())
        assert judged.returncode == 1, f"{tampering}: the forged checkpoint passed as consistent"
    until(lambda: heard("audit.inconsistency.v1"), 30, 0.2, "the witness's audit.inconsistency.v1")
    alarm = heard("audit.inconsistency.v1")[0]
    REGISTRY.parse_event(alarm)  # the witness speaks the platform's contract
    assert alarm["data"]["cosigned_size"] == FIRST and alarm["data"]["witness"] == "witness.test"
    assert "INCONSISTENCY" in witness.output()


def test_a_citizens_receipt_carries_the_leaf_its_audit_entry_proves(services, config, sinks, tmp_path):
    """The counter's receipt and the receipt email name the leaf hash of the dossier.received.v1
    intake published; the public proof link finds it in the log and proves it against a checkpoint."""
    from services.audit.service import AuditService
    from services.intake.service import IntakeService
    from services.notification.service import NotificationService
    from tests.support.samples import dossier
    from tests.support.staff import COUNTER

    heard = Tap(config["AMQP_URI"], EVENTS, "dossier.received.v1.*")
    audit = services.start(AuditService)
    intake = services.start(IntakeService, AUDIT_RECEIPT_URL=f"{audit.http}/api/v1/audit/receipts/{{leaf_hash}}")
    services.start(NotificationService, AUDIT_RECEIPT_URL=f"{audit.http}/api/v1/audit/receipts/{{leaf_hash}}")
    answer = requests.post(f"{intake.http}/api/v1/dossiers", json=dossier(center=CENTER, email="receipt-leaf@example.vn"),
                           headers=COUNTER, timeout=10)
    assert answer.status_code == 201, answer.text
    receipt = answer.json()
    [published] = until(lambda: heard.messages() or None, 20, 0.1, "the dossier.received.v1 event")
    assert receipt["audit"]["leaf_hash"] == event_leaf_hash(published)
    proof_link = receipt["audit"]["proof"]
    assert proof_link == f"{audit.http}/api/v1/audit/receipts/{receipt['audit']['leaf_hash']}"

    mail = until(lambda: [m for m in sinks.emails(to="receipt-leaf@example.vn") if receipt["code"] in m["text"]]
                 or None, 20, 0.1, "the receipt email")[-1]
    assert receipt["audit"]["leaf_hash"] in mail["text"] and proof_link in mail["text"]

    found = until(lambda: (r := requests.get(proof_link, timeout=10)).status_code == 200 and r.json(), 20, 0.1,
                  "audit recording the receipt's event")
    assert found["inclusion"] is None  # no checkpoint covers it yet
    assert requests.post(f"{audit.http}/api/v1/audit/checkpoints", json={"center": CENTER}, headers=AUDITOR,
                         timeout=10).status_code == 201
    proved = requests.get(proof_link, timeout=10).json()
    vkeys = [k["vkey"] for k in requests.get(f"{audit.http}/api/v1/audit/keys", timeout=10).json()["keys"]
             if k["center"] == CENTER]
    assert verifier(tmp_path, "receipt", vkeys, receipt=proved).returncode == 0
