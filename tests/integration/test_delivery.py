"""Delivery basics on real RabbitMQ: nothing lost, nothing doubled, centers apart."""
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest
import requests
from kombu import Connection

from contracts import make_event
from onestop.errors import InvalidInput, TransientError, Unavailable
from onestop.messaging.consumer import reliable_handler
from onestop.messaging.outbox import with_outbox
from onestop.messaging.publisher import ConfirmedPublisher
from onestop.messaging.topology import EVENTS
from onestop.storage.mongo import database
from onestop.config import Settings
from services.audit.service import AuditService
from services.intake.service import IntakeService
from services.notification.service import NotificationService
from services.routing.service import RoutingService
from tests.support.samples import dossier
from tests.support.staff import AUDITOR, COUNTER
from tests.support.wait import until

pytestmark = pytest.mark.integration


def queue_depth(amqp_uri, name):
    with Connection(amqp_uri) as conn:
        return conn.default_channel.queue_declare(name, passive=True).message_count


def drain(amqp_uri, name):
    """Take every message off a queue: [(headers, body)]."""
    out = []
    with Connection(amqp_uri) as conn:
        channel = conn.default_channel
        while (message := channel.basic_get(name, no_ack=True)) is not None:
            out.append((message.headers, orjson.loads(message.body)))
    return out


def received_event(code="VYDA-260213-0001", center="hue-vyda", **data):
    payload = {"code": code, "official_code": f"00.00.H57.{code}", "procedure_code": "1.001193",
               "procedure_name": "Đăng ký khai sinh", "field": "justice", "channel": "counter",
               "received_at": "2026-02-13T02:00:00Z", "appointment_date": "2026-02-13", "working_days": 0,
               "missing_documents": [], "applicant": "N. V. A.", "status": "received"}
    payload.update(data)
    return make_event("dossier.received.v1", center=center, subject=code, data=payload,
                      actor={"id": "counter", "role": "counter_staff"})


def publish(amqp_uri, event, routing_key=None):
    ConfirmedPublisher(amqp_uri).publish(event, exchange=EVENTS,
                                         routing_key=routing_key or f"{event['type']}.{event['center']}")


def test_a_redelivered_event_has_one_effect_each(services, config, sinks):
    """The same event twice: one assignment, one audit entry, one SMS, one email.

    The dossier was received in February, so it is overdue by now and routing may
    also escalate it to staff (two more notification.sent entries, emails to
    staff); the citizen's SMS and email are counted at the sinks."""
    routing, audit, notification = (services.start(c) for c in (RoutingService, AuditService, NotificationService))
    event = received_event(code="VYDA-260213-0042")
    contact = make_event("citizen.contact.v1", center="hue-vyda", subject=event["subject"], data={
        "code": event["subject"], "full_name": "Lê Thị Hoa", "phone": "+84912000042",
        "email": "twice@example.vn", "channels": ["sms", "email"], "language": "vi"},
        actor={"id": "counter", "role": "counter_staff"})
    ConfirmedPublisher(config["AMQP_URI"]).publish(contact, exchange="onestop.private",
                                                   routing_key="citizen.contact.v1.hue-vyda")
    publish(config["AMQP_URI"], event)
    publish(config["AMQP_URI"], event)
    until(lambda: sinks.sms(to="+84912000042"), 15, 0.1, "the SMS")
    timeline = until(lambda: (r := requests.get(f"{audit.http}/api/v1/audit/dossiers/VYDA-260213-0042",
                                                headers=AUDITOR)).ok
                     and len([e for e in r.json()["entries"] if e["type"] == "notification.sent.v1"]) >= 2
                     and r.json()["entries"], 15, 0.1, "the audit timeline")
    types = sorted(e["type"] for e in timeline)
    assert types.count("dossier.received.v1") == 1
    assert types.count("dossier.assigned.v1") == 1 and types.count("dossier.routed.v1") == 1
    for queue in ("onestop.routing.hue-vyda", "onestop.notification.hue-vyda", "onestop.audit.hue-vyda"):
        until(lambda: queue_depth(config["AMQP_URI"], queue) == 0, 10, 0.1, f"{queue} drained")
    assert len(sinks.sms(to="+84912000042")) == 1
    assert len(sinks.emails(to="twice@example.vn")) == 1
    db = database(Settings.load(config), "routing")
    assert db.assignments.count_documents({"_id": "VYDA-260213-0042"}) == 1


def test_a_poison_event_is_dead_lettered_with_its_reason(services, config):
    services.start(RoutingService)
    event = received_event(code="VYDA-260213-0043", procedure_code="9.999999")  # no such procedure
    publish(config["AMQP_URI"], event)
    dlq = "onestop.routing.hue-vyda.dlq"
    until(lambda: queue_depth(config["AMQP_URI"], dlq) == 1, 15, 0.1, "the dead letter")
    [(headers, body)] = drain(config["AMQP_URI"], dlq)
    assert headers["x-onestop-reason"] == "permanent"
    assert "9.999999" in headers["x-onestop-error"]
    assert body["id"] == event["id"]


class Refuser:
    """A subscriber whose handler fails every event with ``Refuser.error``, and counts its tries."""

    name = "refuser"
    error: Exception | None = None
    tries: list = []

    @reliable_handler(("public", "dossier.received.v1"))
    def on_received(self, event):
        Refuser.tries.append(event["id"])
        raise Refuser.error


@pytest.fixture
def refuser(services):
    def start(error: Exception):
        Refuser.error, Refuser.tries = error, []
        return services.start(Refuser)
    return start


def test_a_domain_error_is_dead_lettered_at_once_with_its_reason(refuser, config):
    """The same event would be refused the same way on every try: one try, no delay queue."""
    refuser(InvalidInput([{"field": "data.procedure_code", "reason": "not a procedure of this center"}],
                         "The event was not accepted."))
    event = received_event(code="VYDA-260213-0047")
    publish(config["AMQP_URI"], event)
    dlq = "onestop.refuser.hue-vyda.dlq"
    until(lambda: queue_depth(config["AMQP_URI"], dlq) == 1, 15, 0.1, "the dead letter")
    [(headers, body)] = drain(config["AMQP_URI"], dlq)
    assert headers["x-onestop-reason"] == "permanent" and body["id"] == event["id"]
    error = headers["x-onestop-error"]
    assert error.startswith("InvalidInput(") and "The event was not accepted." in error
    assert "x-onestop-attempt" not in headers and headers["x-onestop-history"] == []  # never retried
    assert Refuser.tries == [event["id"]]


def test_an_unavailable_platform_is_retried_like_any_outage(refuser, config):
    """Unavailable is about the platform, not the message: retried with backoff, then dead-lettered."""
    refuser(Unavailable("The catalog is not loaded."))
    event = received_event(code="VYDA-260213-0048")
    publish(config["AMQP_URI"], event)
    dlq = "onestop.refuser.hue-vyda.dlq"
    until(lambda: queue_depth(config["AMQP_URI"], dlq) == 1, 20, 0.1, "the dead letter")
    [(headers, _body)] = drain(config["AMQP_URI"], dlq)
    assert headers["x-onestop-reason"] == "retries_exhausted" and "Unavailable(" in headers["x-onestop-error"]
    assert len(headers["x-onestop-history"]) == 4 and Refuser.tries == [event["id"]] * 4


def test_a_failing_handler_retries_with_backoff_then_dead_letters(refuser, config):
    """A prerequisite that has not arrived (TransientError): retried, then DLQ."""
    refuser(TransientError("the contact of VYDA-260213-0044 has not arrived yet"))
    publish(config["AMQP_URI"], received_event(code="VYDA-260213-0044"))
    dlq = "onestop.refuser.hue-vyda.dlq"
    until(lambda: queue_depth(config["AMQP_URI"], dlq) == 1, 20, 0.1, "the dead letter")
    [(headers, _body)] = drain(config["AMQP_URI"], dlq)
    assert headers["x-onestop-reason"] == "retries_exhausted"
    assert len(headers["x-onestop-history"]) == 4  # the first try and one retry per delay (0.2, 0.4, 0.8 s)


def test_an_event_no_queue_is_bound_for_is_kept(services, config):
    services.start(AuditService)
    publish(config["AMQP_URI"], received_event(), routing_key="dossier.received.v1.hue-nowhere")
    until(lambda: queue_depth(config["AMQP_URI"], "onestop.unrouted") == 1, 10, 0.1, "the unrouted copy")


def test_a_worker_serves_only_its_centers(services, config):
    services.start(RoutingService, CENTERS="hue-vyda")
    audit = services.start(AuditService)
    publish(config["AMQP_URI"], received_event(code="VYDA-260213-0045"))
    publish(config["AMQP_URI"], received_event(code="PXUA-260213-0045", center="hue-phuxuan"))
    until(lambda: any(e["type"] == "dossier.assigned.v1" for e in requests.get(
        f"{audit.http}/api/v1/audit/dossiers/VYDA-260213-0045", headers=AUDITOR).json().get("entries", [])),
          15, 0.1, "vyda routed")
    assert queue_depth(config["AMQP_URI"], "onestop.routing.hue-phuxuan") == 1  # waiting for its own worker
    services.start(RoutingService, CENTERS="hue-phuxuan")
    until(lambda: queue_depth(config["AMQP_URI"], "onestop.routing.hue-phuxuan") == 0, 15, 0.1, "phuxuan drained")


def test_codes_stay_unique_under_concurrency_and_across_restarts(services, config):
    intake = services.start(IntakeService)
    post = lambda _: requests.post(f"{intake.http}/api/v1/dossiers", json=dossier(), headers=COUNTER, timeout=30).json()["code"]  # noqa: E731
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(post, range(40)))
    assert len(set(codes)) == 40
    intake.kill()
    restarted = services.start(IntakeService)
    code = requests.post(f"{restarted.http}/api/v1/dossiers", json=dossier(), headers=COUNTER, timeout=30).json()["code"]
    assert code not in codes and int(code[-4:]) == 41


def test_events_written_before_a_crash_are_published_after_restart(services, config):
    """The outbox: a dossier whose events were never published (the process died
    after the write) has them published by the next intake process."""
    db = database(Settings.load(config), "intake")
    event = received_event(code="VYDA-260213-0046")
    db.dossiers.insert_one(with_outbox({"_id": "VYDA-260213-0046", "code": "VYDA-260213-0046"}, [event]))
    audit = services.start(AuditService)
    services.start(IntakeService)
    until(lambda: requests.get(f"{audit.http}/api/v1/audit/dossiers/VYDA-260213-0046", headers=AUDITOR).ok,
          15, 0.1, "the event")
    until(lambda: db.dossiers.find_one({"_id": "VYDA-260213-0046"})["outbox"] == [], 5, 0.1, "outbox emptied")


def test_a_pipelined_batch_arrives_whole_and_the_publisher_survives_a_lost_connection(amqp_uri):
    """publish_many returns once every message is confirmed; after the broker drops its
    connection, the next batch fails (nothing counts as sent) and the one after reconnects."""
    from onestop.messaging.publisher import Unconfirmed
    from kombu import Queue
    queue = Queue("test.batch", EVENTS, routing_key="dossier.received.v1.#", durable=True)
    with Connection(amqp_uri) as conn:
        queue(conn.default_channel).declare()
    publisher = ConfirmedPublisher(amqp_uri)
    events = [received_event(code=f"VYDA-260213-{i:04d}") for i in range(1, 301)]
    publisher.publish_many([{"body": e, "exchange": EVENTS, "routing_key": f"dossier.received.v1.hue-vyda",
                             "message_id": e["id"]} for e in events])
    assert queue_depth(amqp_uri, "test.batch") == 300  # all confirmed means all on the queue
    got = drain(amqp_uri, "test.batch")
    assert [body["id"] for _h, body in got] == [e["id"] for e in events]  # in order, each once

    publisher._batch[0].connection.sock.close()  # the connection breaks under the publisher
    more = [{"body": e, "exchange": EVENTS, "routing_key": "dossier.received.v1.hue-vyda", "message_id": e["id"]}
            for e in events[:5]]
    with pytest.raises(Exception) as failure:
        publisher.publish_many(more, timeout=5)
    assert not isinstance(failure.value, AssertionError)
    publisher.publish_many(more)  # a fresh connection
    assert queue_depth(amqp_uri, "test.batch") >= 5
    assert Unconfirmed.__doc__
