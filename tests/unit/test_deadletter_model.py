"""The pure parts of the dead-letter tool: queue names, reading a dead letter, replay headers, tables."""
from datetime import datetime

import orjson
import pytest

from onestop.ops.deadletters.letter import DlqName, audit_event, describe, fresh_headers, parse_queue
from onestop.ops.deadletters.queues import management, vhost_of
from onestop.ops.deadletters.command import detail, one_line, table
from contracts import parse_event

ENVELOPE = {"specversion": "1.0", "id": "6f0c2c1e-1d7a-4a53-9d7e-0f8f3f1f2a11", "type": "dossier.received.v1",
            "source": "onestop/intake/hue-vyda", "time": "2026-02-13T02:00:00.000Z", "subject": "VYDA-260213-0007",
            "center": "hue-vyda", "correlation_id": "corr-1", "actor": {"id": "counter", "role": "counter_staff"},
            "data": {"code": "VYDA-260213-0007"}}
CONSUMER_HEADERS = {"x-onestop-reason": "permanent", "x-onestop-error": "PermanentError('unknown procedure 9.999999')",
                    "x-onestop-history": ["2026-02-13T02:00:00.100Z ConnectionError('mongo')"],
                    "x-onestop-dead-lettered-at": "2026-02-13T02:00:01.000Z", "x-onestop-attempt": 1,
                    "x-onestop-routing-key": "dossier.received.v1.hue-vyda"}
BODY = orjson.dumps(ENVELOPE)


@pytest.mark.parametrize("text", ["routing/hue-vyda", "onestop.routing.hue-vyda.dlq", " routing/hue-vyda "])
def test_a_queue_is_named_in_full_or_as_service_slash_center(text):
    queue = parse_queue(text)
    assert queue == DlqName("routing", "hue-vyda")
    assert (queue.name, queue.work_queue) == ("onestop.routing.hue-vyda.dlq", "onestop.routing.hue-vyda")


@pytest.mark.parametrize("text", ["onestop.routing.hue-vyda", "routing", "routing/hue-vyda/x", "onestop.a.b.c.dlq",
                                  "onestop.routing.hue-vyda.retry.200", "Routing/Hue"])
def test_anything_else_is_refused_with_the_forms_it_takes(text):
    with pytest.raises(ValueError, match="routing/hue-vyda"):
        parse_queue(text)


@pytest.mark.parametrize("uri, vhost", [("amqp://guest:guest@127.0.0.1:5672//", "/"),
                                        ("amqp://guest:guest@127.0.0.1:5672/onestop-it-1", "onestop-it-1"),
                                        ("amqp://guest:guest@127.0.0.1:5672", "/")])
def test_the_vhost_comes_from_the_amqp_uri(uri, vhost):
    assert vhost_of(uri) == vhost


def test_management_credentials_come_from_its_url_else_from_the_amqp_uri():
    assert management("http://ops:s3cret@rabbit:15672/", "amqp://a:b@h//") == ("http://rabbit:15672", ("ops", "s3cret"))
    assert management("http://rabbit:15672", "amqp://a:b@h//") == ("http://rabbit:15672", ("a", "b"))


def test_a_letter_our_consumer_dead_lettered_reads_from_its_headers():
    letter = describe(BODY, CONSUMER_HEADERS, {"message_id": ENVELOPE["id"]})
    assert (letter.id, letter.reason, letter.event_type, letter.subject) == (
        ENVELOPE["id"], "permanent", "dossier.received.v1", "VYDA-260213-0007")
    assert "9.999999" in letter.error and letter.history == CONSUMER_HEADERS["x-onestop-history"]
    assert (letter.dead_lettered_at, letter.routing_key) == ("2026-02-13T02:00:01.000Z", "dossier.received.v1.hue-vyda")
    assert letter.envelope == ENVELOPE and letter.replay_count == 0


def test_a_letter_the_broker_dead_lettered_reads_from_x_death():
    headers = {"x-onestop-error": "TimeoutError()", "x-death": [
        {"queue": "onestop.routing.hue-vyda", "reason": "delivery_limit", "count": 1, "exchange": "onestop.events",
         "routing-keys": ["dossier.received.v1.hue-vyda"], "time": datetime(2026, 2, 13, 2, 0, 5)},
        {"queue": "onestop.routing.hue-vyda.retry.200", "reason": "expired", "count": 1}]}
    letter = describe(BODY, headers, {})
    assert letter.id == ENVELOPE["id"]  # no message_id: the envelope's id
    assert letter.reason == "delivery_limit"
    assert letter.dead_lettered_at == "2026-02-13T02:00:05.000Z"  # py-amqp's naive time is UTC
    assert letter.routing_key == "dossier.received.v1.hue-vyda"
    assert "onestop.routing.hue-vyda (delivery_limit" in letter.error and "TimeoutError()" in letter.error


@pytest.mark.parametrize("body", [b"\xff not json", b'"a string"', b'{"__type__": "bytes", "__value__": "x"}'])
def test_a_body_that_is_not_an_event_still_gets_a_stable_id_and_no_envelope(body):
    first, again = describe(body, {}, {}), describe(body, {}, {})
    assert first.envelope is None and first.id == again.id and first.id.startswith("sha1-")
    assert first.reason == "unknown"
    assert "cannot be replayed" in detail(first, DlqName("audit", "hue-vyda"))


def test_a_replay_carries_fresh_headers_so_retries_start_from_zero():
    letter = describe(BODY, {**CONSUMER_HEADERS, "x-onestop-replay-count": 1, "x-death": [{"reason": "x"}]}, {})
    headers = fresh_headers(letter, DlqName("routing", "hue-vyda"))
    assert headers == {"x-onestop-replayed-from": "onestop.routing.hue-vyda.dlq", "x-onestop-replay-count": 2}


def test_the_audit_event_is_valid_and_the_same_for_the_same_replay():
    queue = DlqName("routing", "hue-vyda")
    letter = describe(BODY, CONSUMER_HEADERS, {"message_id": ENVELOPE["id"]})
    event = audit_event(letter, queue, "ops-lan")
    parse_event(event)
    assert (event["type"], event["subject"], event["center"]) == (
        "deadletter.replayed.v1", "VYDA-260213-0007", "hue-vyda")
    assert event["data"]["replayed_by"] == "ops-lan" and event["data"]["event_id"] == ENVELOPE["id"]
    # the letter was dead-lettered in the form before CloudEvents: its correlation still carries over
    assert event["correlationid"] == "corr-1" and (event["actorid"], event["actorrole"]) == ("ops-lan", "operator")
    assert audit_event(letter, queue, "ops-lan")["id"] == event["id"]  # a re-publish after a crash is deduplicated
    replayed_again = describe(BODY, {**CONSUMER_HEADERS, "x-onestop-replay-count": 1}, {})
    assert audit_event(replayed_again, queue, "ops-lan")["id"] != event["id"]  # a later replay is recorded too


def test_tables_align_their_columns():
    text = table(["SERVICE", "QUEUE", "MESSAGES"], [("routing", "onestop.routing.hue-vyda.dlq", 1),
                                                   ("audit", "onestop.audit.hue-vyda.dlq", 120)], right=("MESSAGES",))
    assert text.splitlines() == ["SERVICE  QUEUE                         MESSAGES",
                                 "routing  onestop.routing.hue-vyda.dlq         1",
                                 "audit    onestop.audit.hue-vyda.dlq         120"]


def test_long_errors_are_cut_to_one_line():
    assert one_line("Traceback\n  boom " + "x" * 100, 20) == "Traceback boom xxxx…"
    assert one_line("short") == "short"
