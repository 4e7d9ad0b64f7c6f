"""`onestop dlq` on real RabbitMQ, run as the operator types it (a subprocess per command)."""
import os
import pty
import re
import subprocess
import sys
from urllib.parse import quote

import amqp
import orjson
import pytest
import requests
from kombu import Connection

from onestop.config import Settings
from onestop.messaging.publisher import ConfirmedPublisher
from onestop.messaging.topology import ServiceQueues, declare_service
from onestop.storage.mongo import database
from services.audit.service import AuditService
from services.routing.service import RoutingService
from tests.conftest import MGMT
from tests.integration.test_delivery import drain, publish, queue_depth, received_event
from tests.support.staff import AUDITOR
from tests.support.wait import until

pytestmark = pytest.mark.integration

DLQ = "onestop.routing.hue-vyda.dlq"
WORK = "onestop.routing.hue-vyda"


def dlq_command(config, *args):
    return [sys.executable, "-m", "onestop.ops.cli", "dlq", *args, "--amqp", config["AMQP_URI"], "--mgmt", MGMT]


def dlq(config, *args, user="ops-test"):
    """Run `onestop dlq ...` with no terminal on stdin, the way a script would."""
    return subprocess.run(dlq_command(config, *args), capture_output=True, text=True, timeout=90,
                          stdin=subprocess.DEVNULL, env={**os.environ, "USER": user})


def dlq_on_terminal(config, *args, typed: str):
    """Run `onestop dlq ...` with a terminal on stdin on which the operator types `typed`."""
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(dlq_command(config, *args), stdin=terminal, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        os.write(controller, typed.encode() + b"\n")
        out, err = process.communicate(timeout=90)
    finally:
        os.close(terminal)
        os.close(controller)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def declare_routing(config):
    """Routing's queues as its workers declare them, without a worker consuming them."""
    settings = Settings.load(config)
    queues = ServiceQueues("routing", "hue-vyda", (("public", "dossier.received.v1"),),
                           settings.retry_delays, settings.delivery_limit)
    with Connection(config["AMQP_URI"]) as conn:
        declare_service(conn.default_channel, [queues])


def dead_letter(config, event, reason="retries_exhausted", error="ServerSelectionTimeoutError('mongo:27017')"):
    """Put an event in routing's DLQ as the consumer would have after it failed."""
    headers = {"x-onestop-reason": reason, "x-onestop-error": error, "x-onestop-attempt": 3,
               "x-onestop-history": [f"2026-02-13T02:00:0{n}.000Z {error}" for n in range(4)],
               "x-onestop-dead-lettered-at": "2026-02-13T02:00:09.000Z",
               "x-onestop-routing-key": "dossier.received.v1.hue-vyda"}
    ConfirmedPublisher(config["AMQP_URI"]).publish(event, exchange="", routing_key=DLQ, message_id=event["id"],
                                                   headers=headers)


def take_all(amqp_uri, name):
    """Every message of a queue, taken off it: the event id of each, or the raw body."""
    out = []
    with Connection(amqp_uri) as conn:
        while (message := conn.default_channel.basic_get(name, no_ack=True)) is not None:
            body = message.body if isinstance(message.body, bytes) else message.body.encode()
            out.append(orjson.loads(body)["id"] if body.startswith(b"{") else body)
    return out


def timeline(audit, code):
    response = requests.get(f"{audit.http}/api/v1/audit/dossiers/{code}", headers=AUDITOR, timeout=10)
    return response.json()["entries"] if response.ok else []


def test_a_poison_event_is_listed_and_shown_and_browsing_leaves_it_there(services, config):
    services.start(RoutingService)
    poison = received_event(code="VYDA-260213-0101", procedure_code="9.999999")  # no such procedure
    publish(config["AMQP_URI"], poison)
    until(lambda: queue_depth(config["AMQP_URI"], DLQ) == 1, 15, 0.1, "the dead letter")

    listing = dlq(config, "list")
    assert listing.returncode == 0, listing.stderr
    assert re.search(rf"^routing\s+hue-vyda\s+{re.escape(DLQ)}\s+1$", listing.stdout, re.M), listing.stdout
    assert re.search(r"^routing\s+hue-phuxuan\s+\S+\s+0$", listing.stdout, re.M)
    only = dlq(config, "list", "--service", "routing", "--center", "hue-vyda")
    assert len([line for line in only.stdout.splitlines() if line.startswith("routing")]) == 1

    table = dlq(config, "show", "routing/hue-vyda")
    assert table.returncode == 0, table.stderr
    assert f"{DLQ}: 1 dead letter" in table.stdout
    row = next(line for line in table.stdout.splitlines() if poison["id"] in line)
    assert "permanent" in row and "VYDA-260213-0101" in row and "9.999999" in row

    full = dlq(config, "show", DLQ, "--id", poison["id"])
    assert full.returncode == 0, full.stderr
    assert re.search(r"^reason\s+permanent$", full.stdout, re.M)
    assert "PermanentError('unknown center hue-vyda or procedure 9.999999')" in full.stdout
    assert '"subject": "VYDA-260213-0101"' in full.stdout
    assert queue_depth(config["AMQP_URI"], DLQ) == 1  # browsed twice, still there

    # Replayed without a fix, it fails again and comes back, its replay counted.
    replayed = dlq(config, "replay", "routing/hue-vyda", "--id", poison["id"])
    assert replayed.returncode == 0, replayed.stderr
    until(lambda: "replayed before   1 times" in dlq(config, "show", DLQ, "--id", poison["id"]).stdout,
          15, 0.2, "the poison event back in the DLQ")


def test_a_replay_after_the_fix_routes_the_dossier_and_is_in_its_audit_timeline(services, config):
    audit = services.start(AuditService)
    declare_routing(config)  # routing is down: it failed on this event earlier
    event = received_event(code="VYDA-260213-0102")
    dead_letter(config, event)
    services.start(RoutingService)  # the fix: routing is back

    replay = dlq(config, "replay", "routing/hue-vyda", "--id", event["id"], "--actor", "ops-lan")
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert f"replayed   {event['id']}" in replay.stdout
    assert "1 replayed to onestop.routing.hue-vyda by ops-lan" in replay.stdout

    entries = until(lambda: (found := timeline(audit, "VYDA-260213-0102"))
                    and {"dossier.assigned.v1", "deadletter.replayed.v1"} <= {e["type"] for e in found} and found,
                    15, 0.1, "the assignment and the replay in the audit timeline")
    [record] = [e for e in entries if e["type"] == "deadletter.replayed.v1"]
    assert record["actor"] == {"id": "ops-lan", "role": "operator"}
    assert record["data"] | {"replayed_at": None} == {
        "service": "routing", "center": "hue-vyda", "queue": DLQ, "event_id": event["id"],
        "event_type": "dossier.received.v1", "reason": "retries_exhausted", "replay_count": 1,
        "replayed_by": "ops-lan", "replayed_at": None}
    assert queue_depth(config["AMQP_URI"], DLQ) == 0
    assert database(Settings.load(config), "routing").assignments.count_documents({"_id": "VYDA-260213-0102"}) == 1


def test_replay_all_puts_each_back_with_fresh_headers_in_order_and_audits_each(services, config):
    audit = services.start(AuditService)
    declare_routing(config)  # no routing worker: the replayed events wait in its work queue
    events = [received_event(code=f"VYDA-260213-02{n:02d}") for n in range(3)]
    for event in events:
        dead_letter(config, event)

    replay = dlq(config, "replay", "routing/hue-vyda", "--all", user="ops-minh")  # the actor defaults to $USER
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "3 replayed to onestop.routing.hue-vyda by ops-minh" in replay.stdout

    assert queue_depth(config["AMQP_URI"], DLQ) == 0
    waiting = drain(config["AMQP_URI"], WORK)
    assert [body["id"] for _headers, body in waiting] == [e["id"] for e in events]
    for headers, _body in waiting:  # no attempt count, history or x-death: retries start from zero
        assert {k: v for k, v in headers.items() if k.startswith("x-onestop")} == {
            "x-onestop-replayed-from": DLQ, "x-onestop-replay-count": 1}
        assert "x-death" not in headers
    for event in events:
        entries = until(lambda: timeline(audit, event["subject"]), 15, 0.1, f"the replay of {event['subject']}")
        assert [(e["type"], e["data"]["replayed_by"]) for e in entries] == [("deadletter.replayed.v1", "ops-minh")]


def test_browsing_keeps_every_dead_letter_in_order_and_unknown_queues_are_named(config):
    declare_routing(config)
    events = [received_event(code=f"VYDA-260213-03{n:02d}") for n in range(40)]  # more than a return batch
    for event in events:
        dead_letter(config, event)
    with Connection(config["AMQP_URI"]) as conn:  # raw bytes: kombu would wrap them in JSON
        conn.default_channel.basic_publish_confirm(amqp.Message(b"\xff not json", delivery_mode=2), exchange="",
                                                   routing_key=DLQ)

    for _ in range(2):
        shown = dlq(config, "show", "routing/hue-vyda", "--limit", "5")
        assert shown.returncode == 0, shown.stderr
        assert f"{DLQ}: 41 dead letters (the first 5)" in shown.stdout
        assert [line.split()[1] for line in shown.stdout.splitlines()[2:]] == [e["id"] for e in events[:5]]
    assert take_all(config["AMQP_URI"], DLQ) == [e["id"] for e in events] + [b"\xff not json"]

    # Browsing gives messages back with a requeue: only a delivery limit could make that lose them.
    vhost = config["AMQP_URI"].rsplit("/", 1)[1]
    info = requests.get(f"{MGMT}/api/queues/{quote(vhost, safe='')}/{DLQ}", auth=("guest", "guest"), timeout=30).json()
    assert "x-delivery-limit" not in info["arguments"]
    assert "delivery-limit" not in (info.get("effective_policy_definition") or {})

    unknown = dlq(config, "show", "routing/hue-nowhere")
    assert unknown.returncode == 2 and "no queue onestop.routing.hue-nowhere.dlq" in unknown.stderr
    malformed = dlq(config, "purge", "onestop.routing.hue-vyda", "--yes")
    assert malformed.returncode == 2 and "is not a dead-letter queue" in malformed.stderr


def test_purge_wants_the_queue_name_typed_or_yes(config):
    declare_routing(config)
    for n in range(3):
        dead_letter(config, received_event(code=f"VYDA-260213-04{n:02d}"))

    scripted = dlq(config, "purge", "routing/hue-vyda")
    assert scripted.returncode == 1 and "pass --yes" in scripted.stderr
    wrong = dlq_on_terminal(config, "purge", "routing/hue-vyda", typed="routing")
    assert wrong.returncode == 1, wrong.stdout + wrong.stderr
    assert "Type the queue name to confirm" in wrong.stdout and "not purged" in wrong.stderr
    assert queue_depth(config["AMQP_URI"], DLQ) == 3

    typed = dlq_on_terminal(config, "purge", "routing/hue-vyda", typed=DLQ)
    assert typed.returncode == 0 and f"purged 3 dead letters from {DLQ}" in typed.stdout
    dead_letter(config, received_event(code="VYDA-260213-0410"))
    forced = dlq(config, "purge", DLQ, "--yes")
    assert forced.returncode == 0 and f"purged 1 dead letter from {DLQ}" in forced.stdout
    assert queue_depth(config["AMQP_URI"], DLQ) == 0
