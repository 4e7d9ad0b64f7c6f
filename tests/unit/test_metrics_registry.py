"""onestop.metrics: the metric families and their labels, the text format, the token, and
that no label can take a dossier code, a phone, an email or a path, whatever the platform
is handed."""
from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from contracts import REGISTRY as EVENT_TYPES
from contracts.operations import REASONS
from onestop import metrics
from onestop.catalog import load_catalog
from onestop.circuit import CircuitBreaker, CircuitOpen
from onestop.errors import PermanentError, TransientError
from tests.unit.test_access import SERVICES, http_entrypoints

CODE, PHONE, EMAIL = "VYDA-260213-0007", "+84912345678", "an.nguyen@example.vn"
HOSTILE = (CODE, PHONE, EMAIL, "/api/v1/dossiers/VYDA-260213-0007", "Nguyễn Văn An", "", None, 7)

LABELS = {  # metric family -> its label names, as docs/metrics.md, the dashboard and the rules use them
    "onestop_events_consumed": ("service", "event_type", "center", "outcome"),
    "onestop_events_published": ("service", "event_type", "center"),
    "onestop_handler_seconds": ("service", "event_type"),
    "onestop_retries": ("service", "event_type"),
    "onestop_dead_letters": ("service", "reason"),
    "onestop_outbox_pending": ("service",),
    "onestop_outbox_lag_seconds": ("service",),
    "onestop_provider_calls": ("provider", "outcome"),
    "onestop_provider_seconds": ("provider", "outcome"),
    "onestop_breaker_state": ("provider",),
    "onestop_breaker_opened": ("provider",),
    "onestop_messages_held": ("center",),
    "onestop_messages_holds": ("center", "reason"),
    "onestop_webhook_subscriptions_stopped": ("center", "reason"),
    "onestop_http_requests": ("service", "route", "method", "status"),
    "onestop_http_request_seconds": ("service", "route"),
}


def families() -> dict:
    return {f.name: f for f in text_string_to_metric_families(metrics.render()[2].decode("utf-8"))}


def allowed_values() -> dict[str, set]:
    """Every value each label may take: fixed sets, the catalog's centers, the entrypoints' rules."""
    rules = {metrics.route(url) for name in SERVICES for _, _, url in http_entrypoints(name)}
    return {"service": set(metrics.SERVICES), "event_type": set(EVENT_TYPES), "center": set(load_catalog().centers),
            "outcome": set(metrics.CONSUMED_OUTCOMES) | set(metrics.PROVIDER_OUTCOMES), "reason": set(REASONS)
            | set(metrics.HOLD_REASONS) | set(metrics.STOP_REASONS), "provider": set(metrics.PROVIDERS), "route": rules,
            "method": set(metrics.METHODS), "status": {str(s) for s in range(100, 600)}}


def feed_everything_hostile() -> list:
    """Every recording function, handed what a caller or a message could put there; the breakers
    made (they are reported while they live)."""
    breakers = []
    for bad in HOSTILE:
        metrics.consumed(bad, {"type": bad, "center": bad}, bad, "ok", 0.01)
        metrics.consumed("routing", bad, bad, "retried", 0.01)
        metrics.dead_lettered(bad, bad)
        metrics.published(bad, [{"event": {"type": bad, "center": bad}}])
        metrics.held(bad, bad)
        metrics.http_request(bad, None, bad, bad, 0.01)
        metrics.http_request("intake", None, "GET", 404, 0.01)
        with pytest.raises(TransientError):
            metrics.provider_call(bad, _fail, TransientError("down"))
        breakers.append(CircuitBreaker(str(bad)))
        metrics.breaker_opened(str(bad))
    return breakers


def _fail(exc):
    raise exc


def test_every_family_is_exposed_with_its_labels():
    breakers = feed_everything_hostile()
    metrics.OUTBOX_PENDING.labels("intake").set(0)  # a service's relay sets these at scrape time
    metrics.OUTBOX_LAG.labels("intake").set(0)
    metrics.MESSAGES_HELD.labels("hue-vyda").set(0)
    metrics.WEBHOOKS_STOPPED.labels("hue-vyda", "gone").set(0)
    found = families()
    assert set(LABELS) <= set(found), set(LABELS) - set(found)
    for name, labels in LABELS.items():
        for sample in found[name].samples:
            assert set(sample.labels) - {"le"} == set(labels), (name, sample)
    scraped = {s.name for f in found.values() for s in f.samples if s.name.startswith("onestop_")}
    assert set(metrics.FAMILIES) <= {n.removesuffix("_count") for n in scraped} | scraped
    assert breakers


def test_no_label_can_take_a_code_a_person_or_a_path():
    breakers = feed_everything_hostile()
    allowed = allowed_values()
    found = families()
    seen = 0
    for family in (f for name, f in found.items() if name.startswith("onestop_")):
        for sample in family.samples:
            for label, value in sample.labels.items():
                if label == "le":
                    continue
                seen += 1
                assert value in allowed[label] | {metrics.OTHER}, (sample.name, label, value)
    text = metrics.render()[2].decode("utf-8")
    assert seen and breakers
    assert [bad for bad in (CODE, PHONE, EMAIL, "Nguyễn") if bad in text] == [], "personal data in /metrics"


def test_labels_map_anything_unknown_to_other():
    assert metrics.event_type("dossier.overdue.v1") == "dossier.overdue.v1"
    assert metrics.center("hue-phuxuan") == "hue-phuxuan"
    assert metrics.reason("retries_exhausted") == "retries_exhausted"
    assert metrics.route("/api/v1/work/dossiers/<string:code>/actions/<action>") == \
        "/api/v1/work/dossiers/<code>/actions/<action>"
    for bad in HOSTILE:
        assert {metrics.event_type(bad), metrics.center(bad), metrics.reason(bad), metrics.service(bad),
                metrics.provider(bad), metrics.method(bad), metrics.hold_reason(bad), metrics.status(bad)} \
            == {"other"}, bad


def test_provider_calls_are_counted_by_outcome():
    def count(outcome):
        return metrics.PROVIDER_CALLS.labels("sms", outcome)._value.get()
    before = {o: count(o) for o in metrics.PROVIDER_OUTCOMES}
    assert metrics.provider_call("sms", lambda: "id-1") == "id-1"
    for exc in (TransientError("down"), PermanentError("refused"), CircuitOpen("open"), KeyError("bug")):
        with pytest.raises(type(exc)):
            metrics.provider_call("sms", _fail, exc)
    assert {o: count(o) - before[o] for o in metrics.PROVIDER_OUTCOMES} == {
        "ok": 1, "transient": 1, "permanent": 1, "refused": 1, "error": 1}


def test_a_breaker_shows_its_state_when_scraped_and_counts_its_openings():
    clock = [0.0]
    breaker = CircuitBreaker("smtp", failure_threshold=1, reset_timeout=10, clock=lambda: clock[0])
    opened = metrics.BREAKER_OPENED.labels("smtp")._value.get()

    def state():
        return next(s.value for s in families()["onestop_breaker_state"].samples if s.labels["provider"] == "smtp")
    assert state() == 0
    with pytest.raises(TransientError):
        breaker.call(_fail, TransientError("down"))
    assert state() == 2 and metrics.BREAKER_OPENED.labels("smtp")._value.get() == opened + 1
    clock[0] = 11  # half-open by time alone: no call needed for the figure to change
    assert state() == 1
    breaker.call(lambda: None)
    assert state() == 0
    del breaker


def test_scrape_sources_run_at_each_scrape_and_a_failing_one_does_not_break_it():
    # the label `other`: no service's source sets it, whatever other tests of this process left running
    calls = []
    metrics.on_scrape("test-ok", lambda: (calls.append(1), metrics.OUTBOX_PENDING.labels("other").set(len(calls))))
    metrics.on_scrape("test-broken", lambda: 1 / 0)
    try:
        metrics.render()
        status, headers, body = metrics.render()
        assert status == 200 and headers["Content-Type"] == metrics.CONTENT_TYPE_LATEST and len(calls) == 2
        assert 'onestop_outbox_pending{service="other"} 2.0' in body.decode()
    finally:
        metrics.off_scrape("test-broken")
        metrics.off_scrape("test-ok", (metrics.OUTBOX_PENDING,), "other")
    assert 'onestop_outbox_pending{service="other"}' not in metrics.render()[2].decode()


@pytest.mark.parametrize("authorization,ok", [
    (None, False), ("", False), ("Bearer wrong", False), ("Basic s3cret-token", False),
    ("Bearer s3cret-token", True), ("bearer s3cret-token", True)])
def test_with_a_metrics_token_only_its_bearer_gets_the_metrics(authorization, ok):
    status, headers, body = metrics.render(authorization, token="s3cret-token")
    assert (status == 200) == ok
    if not ok:
        assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer") and b"s3cret" not in body
        assert b"onestop_" not in body


def test_without_a_token_anyone_gets_the_metrics():
    assert metrics.render(None, token="")[0] == 200
