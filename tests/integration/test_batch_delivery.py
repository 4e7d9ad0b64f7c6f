"""`batch_handler` on real RabbitMQ (issue 18): deliveries taken in batches, acked with one
multiple ack once the worker returned, a failed batch gone again one by one."""
import threading

import pytest
from kombu import Connection

from contracts import make_event
from onestop.errors import InvalidInput
from onestop.messaging.consumer import batch_handler, reliable_handler
from onestop.messaging.publisher import ConfirmedPublisher
from onestop.messaging.topology import EVENTS
from tests.support.wait import until

pytestmark = pytest.mark.integration
POISON = "VYDA-260213-0666"


class Batcher:
    """Keeps each batch it is handed; refuses any batch that holds the poison dossier."""

    name = "batcher"
    batches: list = []
    gate = threading.Event()  # the first batch waits on it, so that the next ones fill up meanwhile

    @batch_handler(("public", "dossier.received.v1"), batch=25)
    def on_received(self, events):
        Batcher.gate.wait(10)
        if any(e["subject"] == POISON for e in events):
            raise InvalidInput([{"field": "data.code", "reason": "refused by the test"}])
        Batcher.batches.append([e["id"] for e in events])


def received(i: int, center: str = "hue-vyda", code: str | None = None) -> dict:
    code = code or f"VYDA-260213-{i:04d}"
    return make_event("dossier.received.v1", center=center, subject=code, data={
        "code": code, "official_code": f"00.00.H57.{code}", "procedure_code": "1.001193",
        "procedure_name": "Đăng ký khai sinh", "field": "justice", "channel": "counter",
        "received_at": "2026-02-13T02:00:00Z", "appointment_date": "2026-02-13", "working_days": 0,
        "missing_documents": [], "applicant": "N. V. A.", "status": "received"},
        actor={"id": "counter", "role": "counter_staff"})


def publish_all(amqp_uri, events):
    ConfirmedPublisher(amqp_uri).publish_many([{"body": e, "exchange": EVENTS, "message_id": e["id"],
                                                "routing_key": f"{e['type']}.{e['center']}"} for e in events])


def depth(amqp_uri, name):
    with Connection(amqp_uri) as conn:
        return conn.default_channel.queue_declare(name, passive=True).message_count


@pytest.fixture
def batcher(services):
    Batcher.batches, Batcher.gate = [], threading.Event()
    return services.start(Batcher)


def test_deliveries_come_in_batches_each_once_and_all_acked(batcher, services, config):
    events = [received(i, center=("hue-vyda", "hue-phuxuan")[i % 2]) for i in range(1, 201)]
    publish_all(config["AMQP_URI"], events)
    Batcher.gate.set()
    until(lambda: sum(map(len, Batcher.batches)) >= 200, 20, 0.05, "every event handled")
    handled = [i for batch in Batcher.batches for i in batch]
    assert sorted(handled) == sorted(e["id"] for e in events)  # each once
    assert max(map(len, Batcher.batches)) == 25 and len(Batcher.batches) < 200  # batches, at most 25 each
    for center in ("hue-vyda", "hue-phuxuan"):  # each center's events in their order
        mine = [e["id"] for e in events if e["center"] == center]
        assert [i for i in handled if i in set(mine)] == mine
    services.stop_all()  # what was not acked goes back to the queue when the connection closes
    assert depth(config["AMQP_URI"], "onestop.batcher.hue-vyda") == 0
    assert depth(config["AMQP_URI"], "onestop.batcher.hue-phuxuan") == 0


def test_a_failed_batch_goes_again_one_by_one_and_only_the_bad_event_is_dead_lettered(batcher, config):
    events = [received(i) for i in range(1, 31)]
    events[12] = received(0, code=POISON)
    publish_all(config["AMQP_URI"], events)
    Batcher.gate.set()
    until(lambda: depth(config["AMQP_URI"], "onestop.batcher.hue-vyda.dlq") == 1, 20, 0.05, "the dead letter")
    until(lambda: sum(map(len, Batcher.batches)) >= 29, 20, 0.05, "the good events")
    handled = [i for batch in Batcher.batches for i in batch]
    assert handled == [e["id"] for e in events if e["subject"] != POISON]  # in order, each once
    assert any(len(b) == 1 for b in Batcher.batches)  # the refused batch's went again one by one


class TwoEntrypoints:
    name = "twofold"

    @batch_handler(("public", "dossier.received.v1"))
    def batched(self, events):
        pass

    @reliable_handler(("public", "dossier.routed.v1"), queue="twofold-routed")
    def single(self, event):
        pass


def test_a_batch_handler_must_be_its_containers_only_reliable_entrypoint(services):
    with pytest.raises(RuntimeError, match="only reliable entrypoint"):
        services.start(TwoEntrypoints)
