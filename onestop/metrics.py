"""Prometheus metrics: the one home of every metric object, their bounded labels, and `/metrics`.

Each service is one process with prometheus_client's default registry (no
multiprocess mode). docs/metrics.md lists every metric; deploy/prometheus and
deploy/grafana read them by these names.

Labels stay bounded: a label value is one of a fixed set (the contracts' event
types, the catalog's centers, the dead-letter reasons, the services, the
providers, the entrypoints' URL rules) or ``other``. Nothing a caller or a
message chooses freely (a dossier code, a person, a phone, an email, a path)
can become a label value.

Figures that only mean something now (the outbox's pending count and lag, the
held messages, a breaker's state, which turns half-open with time alone) are
computed when Prometheus scrapes: a service registers a source with `on_scrape`.

    >>> event_type("dossier.received.v1"), event_type("VYDA-260213-0007"), center("hue-vyda"), center("x@y.vn")
    ('dossier.received.v1', 'other', 'hue-vyda', 'other')
"""
from __future__ import annotations

import hmac
import logging
import os
import threading
import time
import weakref
from collections import Counter as Tally

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest

from contracts import REGISTRY as EVENT_TYPES
from contracts.operations import REASONS
from contracts.webhooks import REASONS as STOP_REASONS

log = logging.getLogger(__name__)

OTHER = "other"
SERVICES = ("intake", "routing", "notification", "audit", "webhooks", "alerts", "console")
PROVIDERS = ("smtp", "sms", "webhook")
PROVIDER_OUTCOMES = ("ok", "transient", "permanent", "refused", "error")  # refused: the breaker was open
CONSUMED_OUTCOMES = ("ok", "retried", "dead_lettered", "requeued")
HOLD_REASONS = ("hour", "day")  # services/notification/limits.py: the window whose limit was reached
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}
LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

EVENTS_CONSUMED = Counter("onestop_events_consumed", "Events a reliable_handler settled, by how it settled them",
                          ["service", "event_type", "center", "outcome"])
EVENTS_PUBLISHED = Counter("onestop_events_published", "Events the outbox relay published (broker-confirmed)",
                           ["service", "event_type", "center"])
HANDLER_SECONDS = Histogram("onestop_handler_seconds", "Time from a message's delivery to its handler's end",
                            ["service", "event_type"], buckets=LATENCY)
RETRIES = Counter("onestop_retries", "Failed deliveries sent to a delay queue to be tried again",
                  ["service", "event_type"])
DEAD_LETTERS = Counter("onestop_dead_letters", "Messages moved to a dead-letter queue, by reason",
                       ["service", "reason"])
OUTBOX_PENDING = Gauge("onestop_outbox_pending", "Events written to the outbox, not yet published", ["service"])
OUTBOX_LAG = Gauge("onestop_outbox_lag_seconds", "Age of the oldest event waiting in the outbox (0: none)",
                   ["service"])
PROVIDER_CALLS = Counter("onestop_provider_calls", "Calls to an outside provider, by outcome",
                         ["provider", "outcome"])
PROVIDER_SECONDS = Histogram("onestop_provider_seconds", "Duration of calls to an outside provider",
                             ["provider", "outcome"], buckets=LATENCY)
BREAKER_STATE = Gauge("onestop_breaker_state", "A provider's circuit breaker: 0 closed, 1 half-open, 2 open",
                      ["provider"])
BREAKER_OPENED = Counter("onestop_breaker_opened", "Times a provider's circuit breaker opened", ["provider"])
MESSAGES_HELD = Gauge("onestop_messages_held", "Citizen messages held by a recipient limit now", ["center"])
# Not "onestop_messages_held_total": a counter of that name would take the gauge's name too.
MESSAGES_HOLDS = Counter("onestop_messages_holds", "Citizen messages a recipient limit held, by the limit",
                              ["center", "reason"])
WEBHOOKS_STOPPED = Gauge("onestop_webhook_subscriptions_stopped",
                         "Webhook subscriptions the platform stopped delivering to now (paused: retries exhausted; "
                         "disabled: 410 Gone), per center of the subscription", ["center", "reason"])
HTTP_REQUESTS = Counter("onestop_http_requests", "HTTP requests answered, by route (the URL rule) and status",
                        ["service", "route", "method", "status"])
HTTP_SECONDS = Histogram("onestop_http_request_seconds", "Time to answer an HTTP request", ["service", "route"],
                         buckets=LATENCY)

# The metric families this module defines (what the dashboard and the rules may use), as scraped.
FAMILIES = ("onestop_events_consumed_total", "onestop_events_published_total", "onestop_handler_seconds",
            "onestop_retries_total", "onestop_dead_letters_total", "onestop_outbox_pending",
            "onestop_outbox_lag_seconds", "onestop_provider_calls_total", "onestop_provider_seconds",
            "onestop_breaker_state", "onestop_breaker_opened_total", "onestop_messages_held",
            "onestop_messages_holds_total", "onestop_webhook_subscriptions_stopped", "onestop_http_requests_total",
            "onestop_http_request_seconds")


# -- bounded label values ---------------------------------------------------------------------------

def _one_of(allowed):
    allowed = frozenset(allowed)
    return lambda value: value if value in allowed else OTHER


event_type = _one_of(EVENT_TYPES)
reason = _one_of(REASONS)
service = _one_of(SERVICES)
provider = _one_of(PROVIDERS)
hold_reason = _one_of(HOLD_REASONS)
stop_reason = _one_of(STOP_REASONS)
method = _one_of(METHODS)
_centers: frozenset | None = None


def center(value) -> str:
    """A center of the catalog, or ``other``."""
    global _centers
    if _centers is None:
        from onestop.catalog import load_catalog  # read once, on first use, not at import
        _centers = frozenset(load_catalog().centers)
    return value if value in _centers else OTHER


def status(value) -> str:
    return str(value) if isinstance(value, int) and 100 <= value <= 599 else OTHER


def route(rule) -> str:
    """An entrypoint's URL rule as docs/access.md writes it, converters dropped:
    ``/api/v1/dossiers/<string:code>`` -> ``/api/v1/dossiers/<code>``. Only rules the
    code declares get here (onestop.web.metering); anything else is ``other``."""
    if not isinstance(rule, str) or not rule.startswith("/"):
        return OTHER
    out, rest = [], rule
    while "<" in rest:
        head, _, tail = rest.partition("<")
        param, _, rest = tail.partition(">")
        out.append(f"{head}<{param.rpartition(':')[2]}>")
    return "".join(out) + rest


# -- what the kernel records ------------------------------------------------------------------------

_children: dict[tuple, tuple] = {}  # bounded label values -> their series: the hot path skips labels()


def consumed(service_name: str, body, center_id: str, outcome: str, seconds: float | None = None) -> None:
    """One delivery settled by a reliable_handler: its outcome, and how long the worker took."""
    key = (service(service_name), event_type(body.get("type") if isinstance(body, dict) else None),
           center(center_id), outcome if outcome in CONSUMED_OUTCOMES else OTHER)
    series = _children.get(key)
    if series is None:
        name, kind = key[0], key[1]
        series = _children[key] = (EVENTS_CONSUMED.labels(*key), HANDLER_SECONDS.labels(name, kind),
                                   RETRIES.labels(name, kind))
    series[0].inc()
    if seconds is not None:
        series[1].observe(seconds)
    if outcome == "retried":
        series[2].inc()


def dead_lettered(service_name: str, why: str) -> None:
    DEAD_LETTERS.labels(service(service_name), reason(why)).inc()


def published(service_name: str, entries) -> None:
    """Outbox entries the broker confirmed: counted per type and center, one increment each."""
    tally = Tally((e["event"].get("type"), e["event"].get("center")) for e in entries)
    name = service(service_name)
    for (kind, where), count in tally.items():
        EVENTS_PUBLISHED.labels(name, event_type(kind), center(where)).inc(count)


def provider_call(provider_name: str, fn, *args):
    """``fn(*args)``, counted and timed by outcome: ok, transient, permanent, refused (an open breaker)."""
    from onestop.circuit import CircuitOpen
    from onestop.errors import PermanentError, TransientError

    started, outcome = time.perf_counter(), "error"
    try:
        result = fn(*args)
        outcome = "ok"
        return result
    except CircuitOpen:
        outcome = "refused"
        raise
    except TransientError:
        outcome = "transient"
        raise
    except PermanentError:
        outcome = "permanent"
        raise
    finally:
        name = provider(provider_name)
        PROVIDER_CALLS.labels(name, outcome).inc()
        PROVIDER_SECONDS.labels(name, outcome).observe(time.perf_counter() - started)


def held(center_id: str, window: str) -> None:
    MESSAGES_HOLDS.labels(center(center_id), hold_reason(window)).inc()


def http_request(service_name: str, rule, verb: str, code, seconds: float) -> None:
    name, where = service(service_name), route(rule) if rule else OTHER
    HTTP_REQUESTS.labels(name, where, method(verb), status(code)).inc()
    HTTP_SECONDS.labels(name, where).observe(seconds)


# -- breakers: their state is read when scraped -----------------------------------------------------

_breakers: "weakref.WeakSet" = weakref.WeakSet()


def track_breaker(breaker) -> None:
    """A circuit breaker to report (onestop.circuit calls it for each one it makes)."""
    _breakers.add(breaker)
    BREAKER_OPENED.labels(provider(breaker.name))  # the series exists, at 0, before the first opening


def breaker_opened(name: str) -> None:
    BREAKER_OPENED.labels(provider(name)).inc()


def _breaker_states() -> None:
    worst: dict[str, int] = {}
    for breaker in list(_breakers):  # two breakers of one provider (tests run several containers): the worst
        name = provider(breaker.name)
        worst[name] = max(worst.get(name, 0), BREAKER_STATES.get(breaker.state, 2))
    for name, value in worst.items():
        BREAKER_STATE.labels(name).set(value)


# -- scrape-time sources ----------------------------------------------------------------------------

_sources: dict[object, object] = {}
_sources_lock = threading.Lock()


def on_scrape(key, source) -> None:
    """Call ``source()`` before every scrape (it sets gauges); ``key`` names it for `off_scrape`."""
    with _sources_lock:
        _sources[key] = source


def off_scrape(key, gauges=(), *labels) -> None:
    """Stop calling the source, and drop the gauges' series of these labels (they would go stale)."""
    with _sources_lock:
        _sources.pop(key, None)
    for gauge in gauges:
        try:
            gauge.remove(*labels)
        except KeyError:  # never scraped
            pass


def outbox_source(service_name: str, relay):
    """The scrape-time source of a service's outbox figures (onestop.messaging.outbox.OutboxRelay)."""
    name = service(service_name)

    def source():
        OUTBOX_PENDING.labels(name).set(relay.pending())
        OUTBOX_LAG.labels(name).set(relay.lag_seconds())
    return source


def refresh() -> None:
    """Run every scrape-time source; one that fails (its store is down) leaves its last figures."""
    _breaker_states()
    with _sources_lock:
        sources = list(_sources.values())
    for source in sources:
        try:
            source()
        except Exception:  # noqa: BLE001  (a scrape must answer whatever one source does)
            log.warning("a metrics source failed; its figures are from the last scrape", exc_info=True)


# -- /metrics ---------------------------------------------------------------------------------------

def token_accepted(authorization: str | None, token: str | None = None) -> bool:
    """True without METRICS_TOKEN; with it, only ``Authorization: Bearer <METRICS_TOKEN>``."""
    token = os.environ.get("METRICS_TOKEN", "") if token is None else token
    if not token:
        return True
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def render(authorization: str | None = None, token: str | None = None) -> tuple[int, dict, bytes]:
    """``(status, headers, body)`` of `/metrics`: the Prometheus text format, or a 401 when
    METRICS_TOKEN is set and the request does not carry it. Any service (nameko or not) answers
    its `/metrics` with this."""
    if not token_accepted(authorization, token):
        return 401, {"Content-Type": "application/json; charset=utf-8",
                     "WWW-Authenticate": 'Bearer realm="onestop-metrics"'}, (
            b'{"error": "unauthorized", "message": "This endpoint needs the metrics token '
            b'(Authorization: Bearer <METRICS_TOKEN>).", "reason": "metrics_token"}')
    refresh()
    return 200, {"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"}, generate_latest(REGISTRY)
