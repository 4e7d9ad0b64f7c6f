"""Witness OneStop's audit log: cosign its checkpoints, and raise the alarm if it ever rewrites history.

A witness is run by someone other than the center (an inspectorate, a neighbouring center, a citizens'
group), with nothing of OneStop: Python 3.11, `cryptography`, `kombu`, and audit_verify.py next to it.
For each log (one per center) it keeps the last checkpoint it cosigned. For every checkpoint the audit
service announces (event audit.checkpoint.v1 on the exchange onestop.events) it checks the log's
signature, asks the audit API for a consistency proof from the cosigned checkpoint to the new one,
checks that proof offline, and only then cosigns (C2SP tlog-cosignature, cosignature/v1), saves it and
announces audit.cosigned.v1. A log that shrank, forked, or cannot prove that its new checkpoint extends
the old one gets an audit.inconsistency.v1 event and a log line beginning "INCONSISTENCY"; the witness
then keeps the checkpoint it cosigned last, so every later checkpoint is judged against it too. A smaller
checkpoint it cosigned before, with the same root, is a late copy of an announcement (a redelivery): it is
logged as stale, neither cosigned again nor an alarm.

    python examples/audit_witness.py keygen --name witness.example.org/w1 --key-file witness.key
    python examples/audit_witness.py run --amqp amqp://user:pass@host:5672/onestop --audit http://host:8004 \\
        --token TOKEN --vkey LOG_VKEY [--vkey ...] --key-file witness.key --state-dir witness-state \\
        [--centers hue-vyda,hue-phuxuan] [--queue NAME] [--no-publish]

keygen writes a new Ed25519 key (mode 0600; keep it secret) and prints the witness's vkey: publish that,
so anyone can check its cosignatures (audit_verify.py checkpoint --vkey LOG_VKEY --witness VKEY note.txt).

run: --vkey is a log's verifier key, one per center (its name is the log's origin, as listed by the
public GET /api/v1/audit/keys; check it out of band), two during a key rotation; checkpoints of a log
without a --vkey are ignored. --token is a staff bearer token (an auditor's) for the consistency proofs.
The queue (default "witness.<name>", durable, quorum) is bound to "audit.checkpoint.v1.<center>" for
each of --centers (default all), so checkpoints announced while the witness is down wait for it. The
first checkpoint of a log is trusted on first use (logged as a WARNING). --no-publish only logs.
SIGTERM or Ctrl-C stops it cleanly; an unfinished message is delivered again at the next start.
"""
from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from kombu import Connection, Exchange, Queue, binding
from kombu.mixins import ConsumerMixin
from kombu.serialization import register

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from audit_verify import (ALG_COSIGNATURE_V1, ALG_ED25519, SIGNATURE_PREFIX, Checkpoint, InputError,  # noqa: E402
                          VerificationError, Vkey, cosignature_message, format_vkey, key_id, parse_checkpoint,
                          parse_note, parse_vkey, valid_name, verify_consistency, verify_note)

log = logging.getLogger("audit_witness")

EVENTS = Exchange("onestop.events", type="topic", durable=True,
                  arguments={"alternate-exchange": "onestop.unrouted"})  # exactly as the platform declares it
CHECKPOINT = "audit.checkpoint.v1"
CLOUDEVENTS = "application/cloudevents+json"  # the events' content type: CloudEvents 1.0, structured mode
register("cloudevents", json.dumps, json.loads, content_type=CLOUDEVENTS, content_encoding="utf-8")
COSIGNED = "audit.cosigned.v1"
INCONSISTENCY = "audit.inconsistency.v1"
HISTORY = 10_000  # cosigned sizes remembered per log, to tell a late copy of an announcement from a shrunk log
MAX_BACKOFF = 60.0  # seconds between two tries while the audit API is unreachable


class TransientError(Exception):
    """The audit API could not answer now (unreachable, 5xx, 429, our token refused): try again later."""


class ProofUnavailable(Exception):
    """The audit API answered, but with no consistency proof (4xx, 409): the log cannot prove it."""


# --- The decision (pure) -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Decision:
    """ok: cosign `checkpoint`. Otherwise `reason` is one of the spec's inconsistency reasons."""

    ok: bool
    reason: str
    detail: str
    checkpoint: Checkpoint | None = None


def judge(last: Checkpoint | None, note: str, fetch_proof, vkeys, cosigned: dict | None = None) -> Decision:
    """Decide on a checkpoint note, given the checkpoint cosigned last for its log (None: never) and
    the earlier ones (`cosigned`: size -> root hex).

    A smaller checkpoint this witness cosigned before, with the same root, is a late copy of an
    announcement (a redelivery): "stale", neither cosigned again nor an alarm. Any other smaller one
    says the log shrank.

    fetch_proof(first, second) returns the audit API's consistency answer ({"origin", "first", "second",
    "hashes"}), raises ProofUnavailable when the log answers with no proof, or TransientError (which
    passes through: no decision can be made now). Only what the log signed is trusted.
    """
    try:
        checkpoint = verify_note(note, vkeys)
    except VerificationError as error:
        return Decision(False, "bad_signature", str(error))
    if last is None:
        return Decision(True, "first_seen", f"trust on first use: nothing cosigned before for {checkpoint.origin}",
                        checkpoint)
    if last.origin != checkpoint.origin:
        raise ValueError(f"judging {checkpoint.origin} against the state of {last.origin}")
    if checkpoint.size < last.size:
        if (cosigned or {}).get(str(checkpoint.size)) == checkpoint.root_hex:
            return Decision(True, "stale", f"size {checkpoint.size} was cosigned before, with this root; the "
                            f"log is at {last.size} since", checkpoint)
        return Decision(False, "log_shrank", f"size {checkpoint.size} is smaller than the cosigned size "
                        f"{last.size}", checkpoint)
    if checkpoint.size == last.size:
        if checkpoint.root == last.root:
            return Decision(True, "unchanged", f"same tree as cosigned (size {last.size})", checkpoint)
        return Decision(False, "fork", f"size {last.size} again with root {checkpoint.root_hex}, cosigned "
                        f"with root {last.root_hex}", checkpoint)
    return _judge_growth(last, checkpoint, fetch_proof)


def _judge_growth(last: Checkpoint, checkpoint: Checkpoint, fetch_proof) -> Decision:
    """A bigger tree: cosign it only if the log proves it starts with the cosigned one."""
    if last.size == 0:
        return Decision(True, "consistent", "every tree extends the empty tree", checkpoint)
    try:
        answer = fetch_proof(last.size, checkpoint.size)
    except ProofUnavailable as error:
        return Decision(False, "no_consistency_proof", str(error), checkpoint)
    try:
        verify_consistency(last.size, checkpoint.size, _proof_hashes(answer, last, checkpoint),
                           last.root, checkpoint.root)
    except VerificationError as error:
        return Decision(False, "consistency_proof_failed", str(error), checkpoint)
    return Decision(True, "consistent", f"proven to extend the cosigned size {last.size}", checkpoint)


def _proof_hashes(answer, last: Checkpoint, checkpoint: Checkpoint) -> list[bytes]:
    """The hashes of a consistency answer, once it is shown to be the proof that was asked for."""
    if not isinstance(answer, dict) or not isinstance(answer.get("hashes"), list):
        raise VerificationError("the audit API's answer is not a consistency proof")
    asked = (checkpoint.origin, last.size, checkpoint.size)
    got = (answer.get("origin"), answer.get("first"), answer.get("second"))
    if got != asked:
        raise VerificationError(f"the audit API answered the proof of {got}, not of {asked}")
    hashes = answer["hashes"]
    if not all(isinstance(h, str) and len(h) == 64 and h == h.lower() for h in hashes):
        raise VerificationError("a hash of the proof is not 64 lowercase hex digits")
    try:
        return [bytes.fromhex(h) for h in hashes]
    except ValueError:
        raise VerificationError("a hash of the proof is not 64 lowercase hex digits") from None


# --- Keys and cosignatures -------------------------------------------------------------------------------

def _public_bytes(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def witness_vkey(name: str, private_key: Ed25519PrivateKey) -> str:
    """The vkey others check this witness's cosignatures with: <name>+<id>+base64(0x04 || public key)."""
    return format_vkey(name, ALG_COSIGNATURE_V1, _public_bytes(private_key))


def cosign(checkpoint: Checkpoint, name: str, private_key: Ed25519PrivateKey, timestamp: int) -> str:
    """The cosignature/v1 line (with its newline) for a checkpoint:
    "— <name> base64(key id || 8-byte big-endian timestamp || Ed25519 signature)"."""
    signature = private_key.sign(cosignature_message(checkpoint.text, timestamp))
    raw = key_id(name, ALG_COSIGNATURE_V1, _public_bytes(private_key)) + timestamp.to_bytes(8, "big") + signature
    return f"{SIGNATURE_PREFIX}{name} {base64.b64encode(raw).decode('ascii')}\n"


def keygen(name: str, key_file: str) -> str:
    """Write a new witness key to key_file (created, never overwritten, mode 0600); return its vkey."""
    if not valid_name(name):
        raise InputError(f"the witness name {name!r} must be non-empty, without spaces or '+'")
    private_key = Ed25519PrivateKey.generate()
    seed = private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    record = json.dumps({"name": name, "seed": base64.b64encode(seed).decode("ascii")}) + "\n"
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InputError(f"{key_file} exists: a witness key is never overwritten") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(record)
        handle.flush()
        os.fsync(handle.fileno())
    return witness_vkey(name, private_key)


def load_key(key_file: str) -> tuple[str, Ed25519PrivateKey]:
    """The witness's name and private key, from a file keygen wrote."""
    try:
        record = json.loads(Path(key_file).read_text(encoding="utf-8"))
        name, seed = record["name"], base64.b64decode(record["seed"], validate=True)
        private_key = Ed25519PrivateKey.from_private_bytes(seed)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InputError(f"{key_file} is not a witness key written by keygen ({error})") from None
    if os.stat(key_file).st_mode & 0o077:
        log.warning("%s can be read by others: chmod 600 it", key_file)
    return name, private_key


# --- State: the last cosigned checkpoint of each log --------------------------------------------------------

class StateDir:
    """One JSON file per origin; written whole or not at all (tmp file, fsync, rename, fsync the folder),
    so a crash never leaves a witness that forgot, or half-remembers, what it cosigned."""

    def __init__(self, path: str):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    def _file(self, origin: str) -> Path:
        return self.path / (urllib.parse.quote(origin, safe="") + ".json")

    def load(self, origin: str) -> dict | None:
        try:
            return json.loads(self._file(origin).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    def last_cosigned(self, origin: str) -> Checkpoint | None:
        record = self.load(origin)
        return parse_checkpoint(parse_note(record["note"]).text) if record else None

    def cosigned(self, origin: str) -> dict:
        """Every size -> root hex this witness cosigned for the log (the last HISTORY of them)."""
        record = self.load(origin)
        return dict(record.get("cosigned", {})) if record else {}

    def save(self, origin: str, record: dict) -> None:
        target = self._file(origin)
        tmp = target.with_name(target.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(record, handle, ensure_ascii=False, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        folder = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


# --- The audit API ------------------------------------------------------------------------------------

def classify_http_error(status: int, message: str) -> Exception:
    """What an HTTP error answer means for the witness. 429 and 5xx: later. 401/403: the witness's own
    token was refused, which says nothing about the log: later too, loudly. Any other 4xx (404, 409, 400):
    the log has no proof to give."""
    if status == 429 or status >= 500:
        return TransientError(f"the audit API answered {status}: {message}")
    if status in (401, 403):
        return TransientError(f"the audit API refused the witness's token ({status}: {message}); fix --token")
    return ProofUnavailable(f"the audit API answered {status} instead of a proof: {message}")


def _error_message(body: bytes) -> str:
    try:
        return str(json.loads(body.decode("utf-8")).get("message", ""))[:200]
    except (ValueError, AttributeError, UnicodeDecodeError):
        return body[:200].decode("utf-8", "replace")


class AuditAPI:
    """GET /api/v1/audit/proofs/consistency, with the witness's bearer token."""

    def __init__(self, base_url: str, token: str, timeout: float = 10.0):
        self.base_url, self.token, self.timeout = base_url.rstrip("/"), token, timeout

    def consistency(self, center: str, first: int, second: int) -> dict:
        query = urllib.parse.urlencode({"center": center, "first": first, "second": second})
        request = urllib.request.Request(f"{self.base_url}/api/v1/audit/proofs/consistency?{query}", headers={
            "Authorization": f"Bearer {self.token}", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                body = answer.read()
        except urllib.error.HTTPError as error:
            raise classify_http_error(error.code, _error_message(error.read())) from None
        except (urllib.error.URLError, OSError) as error:
            raise TransientError(f"the audit API is unreachable: {error}") from None
        try:
            return json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise ProofUnavailable("the audit API answered 200 with no JSON") from None


# --- The witness: judge, remember, announce --------------------------------------------------------------

def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Witness:
    """What happens to one checkpoint event: judge it, then either cosign, save the state and announce
    audit.cosigned.v1, or announce audit.inconsistency.v1 and keep the state as it was."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey, vkeys: list[Vkey], state: StateDir,
                 consistency, publish=None, clock=time.time):
        self.name, self.private_key, self.vkeys, self.state = name, private_key, vkeys, state
        self.consistency, self.publish, self.clock = consistency, publish, clock

    def handle(self, event) -> Decision | None:
        """Decide on one audit.checkpoint.v1 envelope; None when it is not ours to judge.
        TransientError passes through: nothing was decided, saved or announced."""
        data = event.get("data") if isinstance(event, dict) else None
        fields = [data.get(key) if isinstance(data, dict) else None for key in ("center", "origin", "note")]
        if not all(isinstance(value, str) for value in fields) or not fields[1].endswith("/" + fields[0]):
            log.warning("ignored: not an audit.checkpoint.v1 event with center, origin and note: %.200r", event)
            return None
        center, origin, note = fields
        vkeys = [v for v in self.vkeys if v.name == origin]
        if not vkeys:
            log.warning("ignored: a checkpoint of %s, for which no --vkey was given", origin)
            return None
        last = self.state.last_cosigned(origin)
        decision = judge(last, note, lambda first, second: self.consistency(center, first, second), vkeys,
                         self.state.cosigned(origin))
        if decision.reason == "stale":
            log.info("stale: %s", decision.detail)
        elif decision.ok:
            self._cosign(event, center, note, decision)
        else:
            self._alarm(event, center, origin, last, decision)
        return decision

    def _cosign(self, event: dict, center: str, note: str, decision: Decision) -> None:
        checkpoint, now = decision.checkpoint, int(self.clock())
        cosigned_note = note + cosign(checkpoint, self.name, self.private_key, now)
        cosigned_at = _iso(datetime.fromtimestamp(now, timezone.utc))
        history = {**self.state.cosigned(checkpoint.origin), str(checkpoint.size): checkpoint.root_hex}
        self.state.save(checkpoint.origin, {"origin": checkpoint.origin, "tree_size": checkpoint.size,
                                            "root_hash": checkpoint.root_hex, "note": note,
                                            "cosigned_note": cosigned_note, "cosigned_at": cosigned_at,
                                            "cosigned": dict(list(history.items())[-HISTORY:])})
        if decision.reason == "first_seen":
            log.warning("trust on first use: cosigned %s size %d root %s (nothing cosigned before)",
                        checkpoint.origin, checkpoint.size, checkpoint.root_hex)
        else:
            log.info("cosigned %s size %d", checkpoint.origin, checkpoint.size)
        self._announce(COSIGNED, event, center, checkpoint.origin, {
            "center": center, "origin": checkpoint.origin, "tree_size": checkpoint.size,
            "root_hash": checkpoint.root_hex, "witness": self.name, "cosigned_note": cosigned_note,
            "cosigned_at": cosigned_at})

    def _alarm(self, event: dict, center: str, origin: str, last: Checkpoint | None, decision: Decision) -> None:
        claimed = decision.checkpoint
        size = claimed.size if claimed else event["data"].get("tree_size")
        root = claimed.root_hex if claimed else event["data"].get("root_hash")
        log.error("INCONSISTENCY %s %s: %s (cosigned size %s root %s; announced size %s root %s)", origin,
                  decision.reason, decision.detail, last and last.size, last and last.root_hex, size, root)
        self._announce(INCONSISTENCY, event, center, origin, {
            "center": center, "origin": origin, "witness": self.name, "reason": decision.reason,
            "detail": decision.detail, "cosigned_size": last.size if last else None,
            "cosigned_root_hash": last.root_hex if last else None, "tree_size": size, "root_hash": root})

    def _announce(self, event_type: str, cause: dict, center: str, origin: str, data: dict) -> None:
        if self.publish is None:
            return
        event_id = str(uuid.uuid4())
        self.publish({
            "specversion": "1.0", "id": event_id, "type": event_type, "source": f"witness/{self.name}",
            "time": _iso(datetime.fromtimestamp(self.clock(), timezone.utc)), "subject": origin,
            "datacontenttype": "application/json",
            "dataschema": f"https://onestop.local/schemas/events/{event_type}.json",
            "center": center, "correlationid": cause.get("correlationid") or cause.get("id") or event_id,
            "actorid": self.name, "actorrole": "system", "data": data})


# --- The broker ----------------------------------------------------------------------------------------

class Publisher:
    """Publishes an envelope to onestop.events as "<type>.<center>", persistent, waiting for the broker's
    confirm, so the checkpoint event is acked only once its verdict is out."""

    def __init__(self, amqp_uri: str):
        self.connection = Connection(amqp_uri, transport_options={"confirm_publish": True})
        self.producer = self.connection.Producer()

    def __call__(self, envelope: dict) -> None:
        self.producer.publish(envelope, exchange=EVENTS, routing_key=f"{envelope['type']}.{envelope['center']}",
                              serializer="cloudevents", delivery_mode=2, message_id=envelope["id"], declare=[EVENTS],
                              headers={"ce-type": envelope["type"], "ce-center": envelope["center"]},
                              retry=True, retry_policy={"max_retries": 10, "interval_start": 0.5,
                                                        "interval_step": 1, "interval_max": 5})

    def close(self) -> None:
        self.connection.release()


def witness_queue(name: str, centers: list[str]) -> Queue:
    """The witness's own durable quorum queue, bound to the checkpoints of its centers."""
    return Queue(name, bindings=[binding(EVENTS, routing_key=f"{CHECKPOINT}.{center}") for center in centers],
                 durable=True, queue_arguments={"x-queue-type": "quorum"})


class Runner(ConsumerMixin):
    """One checkpoint at a time; while the audit API cannot answer, the same one again, backing off."""

    def __init__(self, connection: Connection, queue: Queue, witness: Witness, stopping: threading.Event,
                 consuming: threading.Event | None = None):
        self.connection, self.queue, self.witness, self.stopping = connection, queue, witness, stopping
        self.consuming = consuming or threading.Event()

    def on_consume_ready(self, connection, channel, consumers, **kwargs) -> None:
        self.consuming.set()  # the queue is declared and bound: announcements from now on reach it

    def on_connection_error(self, exc, interval) -> None:
        self.consuming.clear()
        super().on_connection_error(exc, interval)

    def get_consumers(self, Consumer, channel):
        return [Consumer(queues=[self.queue], callbacks=[self.on_message], accept=["json", CLOUDEVENTS], prefetch_count=1,
                         on_decode_error=self.on_decode_error)]

    def on_decode_error(self, message, error) -> None:
        log.warning("dropped a message that is not JSON: %s", error)
        message.ack()

    def on_message(self, body, message) -> None:
        delay = 1.0
        while not self.stopping.is_set():
            try:
                self.witness.handle(body)
            except TransientError as error:
                log.warning("no decision yet, %s; trying again in %.0f s", error, delay)
                self.stopping.wait(delay)
                delay = min(delay * 2, MAX_BACKOFF)
                continue
            message.ack()
            return
        # stopping: the message stays unacked and comes back at the next start


def fetch_vkeys(url: str, stopping: threading.Event) -> list[str]:
    """The active and retired keys the log lists about itself, once it answers. A witness that takes
    them from the log it watches trusts the log on first use: for development only."""
    delay = 1.0
    while not stopping.is_set():
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                keys = json.loads(answer.read().decode("utf-8"))["keys"]
            log.warning("DEVELOPMENT: trusting the log's own key listing %s; a witness checks the keys out of band",
                        url)
            return [k["vkey"] for k in keys]
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning("the log's keys are not readable yet at %s (%s); trying again in %.0f s", url, error, delay)
            stopping.wait(delay)
            delay = min(delay * 2, MAX_BACKOFF)
    return []


class Status:
    """GET /healthz (200 once consuming) and GET /cosigned (each log's last cosigned note), for operators."""

    def __init__(self, address: str, state: "StateDir", consuming: threading.Event):
        import http.server

        host, _, port = address.rpartition(":")
        status = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                code, body = status.answer(self.path)
                payload = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.state, self.consuming = state, consuming
        self.server = http.server.ThreadingHTTPServer((host or "127.0.0.1", int(port)), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path: str) -> tuple[int, dict]:
        if path == "/healthz":
            ok = self.consuming.is_set()
            return (200 if ok else 503), {"status": "ok" if ok else "starting"}
        if path == "/cosigned":
            records = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(self.state.path.glob("*.json"))]
            return 200, {"cosigned": [{k: r[k] for k in ("origin", "tree_size", "root_hash", "cosigned_note",
                                                          "cosigned_at")} for r in records]}
        return 404, {"message": "GET /healthz or /cosigned"}

    def close(self) -> None:
        self.server.shutdown()


def run(args) -> int:
    name, private_key = load_key(args.key_file)
    if not args.token:
        raise InputError("give the witness a bearer token for the consistency proofs: --token or $WITNESS_TOKEN")
    stopping = threading.Event()
    vkey_texts = args.vkey or fetch_vkeys(args.vkeys_from, stopping)
    vkeys = [parse_vkey(text.strip()) for text in vkey_texts]
    if any(v.alg != ALG_ED25519 for v in vkeys):
        raise InputError("--vkey takes the log's keys (type 0x01); a witness key (0x04) cosigns, it signs no log")
    centers = [c.strip() for c in args.centers.split(",") if c.strip()] if args.centers else ["*"]
    publisher = None if args.no_publish else Publisher(args.amqp)
    state, consuming = StateDir(args.state_dir), threading.Event()
    witness = Witness(name, private_key, vkeys, state, AuditAPI(args.audit, args.token).consistency, publisher)
    status = Status(args.http, state, consuming) if args.http else None
    with Connection(args.amqp) as connection:
        runner = Runner(connection, witness_queue(args.queue or f"witness.{name}", centers), witness, stopping,
                        consuming)

        def stop(signum, frame):
            runner.should_stop = True
            stopping.set()
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        log.info("witness %s watching %s for %s", name, ", ".join(centers), ", ".join(v.label for v in vkeys))
        runner.run()
    if publisher:
        publisher.close()
    if status:
        status.close()
    log.info("witness %s stopped", name)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    keys = commands.add_parser("keygen", help="write a new witness key and print its vkey")
    keys.add_argument("--name", required=True, help="the witness's name, a schema-less URL: witness.example.org/w1")
    keys.add_argument("--key-file", required=True, help="where to write the key (must not exist)")
    runs = commands.add_parser("run", help="witness the log's checkpoints")
    runs.add_argument("--amqp", required=True, help="the broker, e.g. amqp://user:pass@host:5672/vhost")
    runs.add_argument("--audit", required=True, help="the audit API's base URL, e.g. http://127.0.0.1:8004")
    runs.add_argument("--token", default=os.environ.get("WITNESS_TOKEN"),
                      help="a staff bearer token for the consistency proofs (default: $WITNESS_TOKEN)")
    trust = runs.add_mutually_exclusive_group(required=True)
    trust.add_argument("--vkey", action="append", help="a log's verifier key, checked out of band; once per center")
    trust.add_argument("--vkeys-from", metavar="URL",
                       help="DEVELOPMENT ONLY: take the logs' keys from the log's own GET /api/v1/audit/keys")
    runs.add_argument("--http", metavar="HOST:PORT",
                      help="serve GET /healthz and GET /cosigned (the last cosigned note of each log) there")
    runs.add_argument("--key-file", required=True, help="the witness key written by keygen")
    runs.add_argument("--state-dir", required=True, help="where the last cosigned checkpoint of each log is kept")
    runs.add_argument("--centers", help="comma-separated centers to witness (default: all)")
    runs.add_argument("--queue", help="the queue's name (default: witness.<name>)")
    runs.add_argument("--no-publish", action="store_true", help="log the verdicts, announce nothing")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        if args.command == "keygen":
            print(keygen(args.name, args.key_file))
            return 0
        return run(args)
    except InputError as error:
        print(f"audit_witness: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
