"""Least privilege on the broker: the users of deploy/rabbitmq/definitions.json, made on a
vhost of the test's own (uniquely named, deleted afterwards), do what they need and no more."""
import json
import uuid

import pytest
import requests
from amqp.exceptions import AccessRefused
from kombu import Connection, Exchange, Producer, Queue
from standardwebhooks import Webhook

from contracts import REGISTRY
from onestop.dev.broker_users import ensure_users, uri_for
from onestop.dev.rabbit_admin import drop_user, import_definitions
from onestop.messaging.publisher import ConfirmedPublisher
from onestop.messaging.topology import EVENTS, PRIVATE, ServiceQueues, declare_service, work_queue_name
from onestop.messaging.users import platform_users
from onestop.ops.brokerusers import SHIPPED, topology_definitions
from onestop.ops.deadletters.queues import browse, list_queues, replay
from services.alerts.service import AlertsService
from services.audit.service import AuditService
from services.intake.service import IntakeService
from services.notification.service import NotificationService
from services.routing.service import RoutingService
from services.webhooks.service import WebhooksService
from tests.integration.test_delivery import received_event
from tests.integration.test_pipeline import submit, timeline
from tests.support.receiver import Receiver
from tests.support.samples import dossier
from tests.support.staff import bearer
from tests.support.tap import Tap
from tests.support.wait import until

pytestmark = pytest.mark.integration
CONTACT = REGISTRY["citizen.contact.v1"]


@pytest.fixture
def users(amqp_uri, tmp_path):
    """{role: AMQP URI} of every platform user but the administrator (guest plays it), made as
    `make run` makes its own, and the topology loaded as the broker loads its definitions at boot."""
    vhost = amqp_uri.rsplit("/", 1)[1]
    prefix = f"onestop-test-{uuid.uuid4().hex[:8]}-"
    import_definitions(topology_definitions(vhost))
    try:
        yield ensure_users(amqp_uri, tmp_path / "broker-users.json", prefix, subscribers=("probe",))
    finally:
        for user in platform_users(("probe",)):
            if user.role != "admin":
                drop_user(prefix + user.role)


def refused(uri: str, act) -> str:
    """The broker's refusal of `act(channel)` for the URI's user; fails if it was allowed."""
    with Connection(uri, connect_timeout=5) as conn:
        with pytest.raises(AccessRefused) as caught:
            act(conn.default_channel)
    return str(caught.value)


def existing(exchange) -> Exchange:
    """The exchange declared passively, as a subscriber does (examples/subscriber.py)."""
    return Exchange(exchange.name, type=exchange.type, passive=True)


def bind(name: str, exchange, key: str = "#"):
    return lambda channel: Queue(name, exchange=existing(exchange), routing_key=key, durable=False,
                                 auto_delete=True).bind(channel).declare()


def test_a_subscriber_reads_public_events_and_is_refused_the_private_exchange(users):
    sub = users["sub-probe"]
    assert "Queue.bind: (403) ACCESS_REFUSED - access to exchange 'onestop.private'" in refused(
        sub, bind("sub.probe.contacts", PRIVATE))
    assert "ACCESS_REFUSED" in refused(sub, bind("onestop.notification.hue-vyda", EVENTS))  # not its queue
    with Connection(sub) as conn:
        queue = Queue("sub.probe.mine", exchange=existing(EVENTS), routing_key="#.hue-vyda",
                      exclusive=True).bind(conn.default_channel)
        queue.declare()
        ConfirmedPublisher(users["routing"]).publish({"id": "e1"}, exchange=EVENTS,
                                                     routing_key="dossier.routed.v1.hue-vyda", message_id="e1")
        message = until(lambda: queue.get(no_ack=True), 5, 0.05, "the public event")
    assert message.payload == {"id": "e1"}
    forged = lambda ch: (Producer(ch).publish({"id": "forged"}, exchange=EVENTS.name, routing_key="x"),  # noqa: E731
                         ch.queue_declare("sub.probe.x"))  # a round trip: the refusal of the publish arrives first
    assert "Basic.publish: (403)" in refused(sub, forged)


def test_only_notification_reads_contact_data_and_no_service_reads_anothers_queue(users):
    routing_queue = work_queue_name("routing", "hue-vyda")
    assert "Queue.bind: (403)" in refused(users["routing"], bind(routing_queue, PRIVATE, CONTACT.routing_key("hue-vyda")))
    with Connection(users["notification"]) as conn:
        bind(work_queue_name("notification", "hue-vyda"), PRIVATE, CONTACT.routing_key("hue-vyda"))(conn.channel())
    assert "ACCESS_REFUSED" in refused(users["routing"],
                                       lambda ch: ch.basic_get(work_queue_name("notification", "hue-vyda")))
    assert "ACCESS_REFUSED" in refused(users["intake"], bind("onestop.intake.hue-vyda", PRIVATE))


def test_the_operator_replays_a_dead_letter_and_reads_no_work_queue(users):
    queues = ServiceQueues("routing", "hue-vyda", (("public", "dossier.received.v1"),), (0.2,), 5)
    with Connection(users["routing"]) as conn:  # as routing's worker declares them, and dead-letters one
        declare_service(conn.default_channel, [queues])
    event = received_event()
    ConfirmedPublisher(users["routing"]).publish(event, exchange="", routing_key=queues.dlq_name,
                                                 message_id=event["id"])
    operator = users["operator"]
    rows = list_queues(operator, "http://127.0.0.1:15672", service="routing", center="hue-vyda")
    assert [(row.queue, row.messages) for row in rows] == [(queues.dlq_name, 1)]
    assert [letter.id for letter in browse(operator, queues.dlq_name)] == [event["id"]]
    assert [letter.id for letter in replay(operator, queues.dlq_name, actor="ops-01").replayed] == [event["id"]]
    with Connection(users["routing"]) as conn:
        assert conn.default_channel.queue_declare(queues.name, passive=True).message_count == 1
    assert "ACCESS_REFUSED" in refused(operator, lambda ch: ch.basic_get(queues.name))


def test_the_pipeline_runs_with_each_service_on_its_own_user(users, services, sinks):
    started = {cls.name: services.start(cls, AMQP_URI=users[cls.name])
               for cls in (IntakeService, RoutingService, NotificationService, AuditService)}
    started["webhooks"] = services.start(WebhooksService, AMQP_URI=users["webhooks"], WEBHOOK_ALLOW_LOOPBACK="true",
                                         WEBHOOK_ALLOW_HTTP="true", WEBHOOK_POLL_INTERVAL="0.1")
    receiver = Receiver().start()
    try:
        hook = requests.post(f"{started['webhooks'].http}/api/v1/subscriptions", timeout=10,
                             headers=bearer("integrator", "portal-tinh", centers=("hue-vyda",)),
                             json={"url": receiver.url("/least"), "centers": ["hue-vyda"],
                                   "event_types": ["dossier.received.v1"]})
        assert hook.status_code == 201, hook.text
        code = submit(started["intake"], dossier(phone="0912000016", email="least@example.vn"))["code"]
        timeline(started["audit"], code, "dossier.received.v1", "dossier.routed.v1", "dossier.assigned.v1",
                 "notification.sent.v1")
        sms = until(lambda: sinks.sms(to="+84912000016"), 10, 0.1, "the SMS")  # contact data reached notification
        assert code in sms[0]["text"]
        delivered = until(lambda: receiver.received("/least"), 15, 0.1, "the webhook")  # webhooks on its own user
        assert Webhook(hook.json()["secret"]).verify(delivered[0]["body"], delivered[0]["headers"])["subject"] == code
    finally:
        receiver.stop()


def test_alerts_reads_the_queues_and_publishes_on_its_own_user(users, services, sinks, amqp_uri):
    """Issue 17, alerts: the management API's queue list (its "management" tag), a dead-letter queue's
    depth, its own queues and outbox, all on the alerts user."""
    ops = f"ops-{uuid.uuid4().hex[:6]}@onestop.local"
    tap = Tap(amqp_uri, EVENTS, "ops.alert_raised.v1.hue-vyda", name="test.tap.alerts-user")
    services.start(AlertsService, AMQP_URI=users["alerts"], ALERTS_INTERVAL=0.3, OPERATORS_EMAIL=ops)
    queues = ServiceQueues("routing", "hue-vyda", (("public", "dossier.received.v1"),), (1.0,), 5)
    with Connection(users["routing"]) as conn:
        declare_service(conn.default_channel, [queues])
    event = received_event()
    ConfirmedPublisher(users["routing"]).publish(event, exchange="", routing_key=queues.dlq_name,
                                                 message_id=event["id"])
    mail = until(lambda: sinks.emails(to=ops), 15, 0.1, "the dead letter's alert")
    assert mail[0]["subject"] == "[OneStop alert] Dead letters of routing at hue-vyda"
    raised = until(lambda: tap.messages(), 10, 0.1, "ops.alert_raised.v1, published by the alerts user")
    assert raised[0]["data"]["key"] == f"dead_letter:{queues.dlq_name}"


def test_the_shipped_definitions_load_and_their_users_cannot_log_in_without_a_password(amqp_uri):
    """deploy/rabbitmq/definitions.json as the broker imports it at boot, on the test's vhost with
    prefixed names (the administrator left out: this broker is shared)."""
    vhost, prefix = amqp_uri.rsplit("/", 1)[1], f"onestop-test-{uuid.uuid4().hex[:8]}-"
    shipped = json.loads(SHIPPED.read_text())
    users = [{**u, "name": prefix + u["name"]} for u in shipped["users"] if "administrator" not in u["tags"]]
    names = {u["name"] for u in users}
    grants = [{**p, "user": prefix + p["user"], "vhost": vhost} for p in shipped["permissions"]
              if prefix + p["user"] in names]
    topology = {key: [{**item, "vhost": vhost} for item in shipped[key]] for key in ("exchanges", "queues", "bindings")}
    import_definitions({"users": users, "permissions": grants, **topology})
    try:
        with pytest.raises(AccessRefused):
            Connection(uri_for(amqp_uri, prefix + "intake", ""), connect_timeout=5).connect()
        with Connection(amqp_uri) as conn:  # the topology is there (a passive declare raises NotFound if not)
            for exchange in shipped["exchanges"]:
                conn.default_channel.exchange_declare(exchange["name"], exchange["type"], passive=True)
    finally:
        for name in names:
            drop_user(name)
