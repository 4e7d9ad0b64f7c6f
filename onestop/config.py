"""Settings, read from the nameko container config first, then the environment.

Every port and URI can be changed through environment variables; tests that run
several containers in one process pass their own values in the container config.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

DEFAULTS = {
    "AMQP_URI": "amqp://guest:guest@127.0.0.1:5672/onestop-dev",  # make run's own vhost, never the shared "/"
    "MONGO_URI": "",  # MongoDB; unset, each service keeps its data in the embedded store (EMBEDDED_STORE)
    "MONGO_DB_PREFIX": "onestop_",
    "EMBEDDED_STORE": "sqlite",  # without MONGO_URI: sqlite (durable, in DATA_DIR) or memory (mongomock, lost at exit)
    "DATA_DIR": "var/data",  # the SQLite store's files, one per service (relative to the working directory)
    "EMBEDDED_SYNC": "full",  # full: each commit is fsync'd (survives power loss); normal: survives a process crash
    "CENTERS": "all",
    "SMTP_HOST": "127.0.0.1",
    "SMTP_PORT": "1025",
    "SMTP_FROM": "OneStop <no-reply@onestop.local>",
    "SMTP_USER": "",
    "SMTP_PASSWORD": "",
    "SMTP_STARTTLS": "false",
    "SMTP_TIMEOUT": "10",
    "SMS_URL": "http://127.0.0.1:8026/api/v1/sms",
    "SMS_TOKEN": "",
    "SMS_SENDER": "ONESTOP",
    "SMS_TIMEOUT": "10",
    "CIRCUIT_FAILURES": "5",  # consecutive provider failures that open its circuit breaker
    "CIRCUIT_RESET": "30",  # seconds an open breaker refuses calls before one trial
    "RETRY_DELAYS": "1,5,30,120,600",
    "DELIVERY_LIMIT": "10",
    # The deprecated event form (before CloudEvents) is also published to onestop.events.legacy until
    # subscribers have moved (docs/events.md, "Migrating"); off stops the copy.
    "EVENTS_LEGACY_FORM": "on",
    "CHAOS": "",  # fault injection for the fault suite (onestop.messaging.chaos); off
    "PUBLIC_STATUS_URL": "http://127.0.0.1:8001/api/v1/dossiers/{code}",
    "RATING_URL": "http://127.0.0.1:8001/api/v1/dossiers/{code}/rating",  # the link in the rating invitation
    "DUE_SOON": "1d,3h",  # working time before the due time at which dossier.due_soon fires
    "TIMER_INTERVAL": "30",  # seconds between two looks at the deadline timers
    "STATUS_RATE_LIMIT": "30/60",  # citizen status lookups and ratings per client address: requests/seconds
    "TRUSTED_PROXIES": "",  # comma-separated IPs/CIDRs whose X-Forwarded-For is believed
    # Limits against floods (README, "Configuration"): messages per citizen address, dossiers per caller.
    "CITIZEN_MESSAGES_PER_HOUR": "10",  # to one phone or one email address, in any 60 minutes
    "CITIZEN_MESSAGES_PER_DAY": "30",  # to one phone or one email address, in any 24 hours
    "COUNTER_SUBMIT_LIMIT": "60/60",  # dossiers per counter-staff token: requests/seconds
    "PORTAL_SUBMIT_LIMIT": "600/60",  # dossiers per portal client: requests/seconds
    "LOOKUP_LOCK_AFTER": "5",  # wrong lookup codes that lock a dossier's detail lookup
    "LOOKUP_LOCK_SECONDS": "900",  # how long it stays locked after the last wrong code
    "AUDIT_RATE_LIMIT": "60/60",  # audit API requests per client address: requests/seconds
    # The audit log's checkpoints (docs/audit.md): each center's log is named AUDIT_ORIGIN/<center>.
    "AUDIT_ORIGIN": "onestop.local/audit",
    "AUDIT_KEYS_FILE": "var/keys/audit-signing.json",  # Ed25519 signing keys, never in the database
    "AUDIT_CHECKPOINTS_FILE": "",  # every signed checkpoint, one JSON a line; default <DATA_DIR>/<prefix>audit.checkpoints.jsonl
    "AUDIT_CHECKPOINT_INTERVAL": "60",  # seconds between two checkpoints of a log that grew
    "AUDIT_RECEIPT_URL": "http://127.0.0.1:8004/api/v1/audit/receipts/{leaf_hash}",  # the receipt's proof link
    # Days after a dossier closes (returned, withdrawn) that intake and notification keep the citizen's
    # personal data; docs/privacy.md says why 90.
    "PERSONAL_DATA_RETENTION_DAYS": "90",
    "RETENTION_SWEEP_INTERVAL": "3600",  # seconds between two looks for personal data past its retention
    # Webhooks (docs/webhooks.md). The retry schedule: the delays between a failed attempt and the next
    # (Standard Webhooks' own suggestion, extended to about 3.7 days); each delay gets +-WEBHOOK_JITTER.
    "WEBHOOK_RETRY_SCHEDULE": "5s,5m,30m,2h,5h,10h,10h,14h,24h,24h",
    "WEBHOOK_JITTER": "0.2",  # a fraction: each delay is drawn from [d * (1 - j), d * (1 + j)]
    "WEBHOOK_RETRY_AFTER_MAX": "1d",  # the longest Retry-After (429/503) honoured as it is
    "WEBHOOK_CONNECT_TIMEOUT": "5",  # seconds to connect to a receiver
    "WEBHOOK_READ_TIMEOUT": "15",  # seconds a receiver may stay silent
    "WEBHOOK_TOTAL_TIMEOUT": "30",  # seconds one attempt may take in all
    "WEBHOOK_SECRET_GRACE": "1d",  # how long a rotated-out secret keeps signing beside the new one
    "WEBHOOK_CONCURRENCY": "50",  # subscriptions delivered at once per process (one green thread each)
    "WEBHOOK_POLL_INTERVAL": "1",  # seconds between two looks for subscriptions with work due
    # Issue 18: seconds between two matchings of webhooks' queue bindings to the live subscriptions (a repair:
    # every create, change and delete matches them before answering; services/webhooks/bindings.py)
    "WEBHOOK_BINDINGS_INTERVAL": "300",
    "WEBHOOK_ALLOW_NETWORKS": "",  # comma-separated CIDRs receivers may be in despite the SSRF rules
    "WEBHOOK_ALLOW_LOOPBACK": "false",  # true: 127.0.0.0/8 and ::1 allowed (development)
    "WEBHOOK_ALLOW_HTTP": "false",  # true: http:// receivers allowed (development); else https only
    "OPERATORS_EMAIL": "",  # comma-separated addresses told when a subscription is paused
    "WEBHOOK_KEEP_DELIVERED": "30d",  # how long a delivered event is kept (to be replayed); undelivered: for ever
    # Issue 17, alerts (docs/operations.md, "Alerts"): the alerts service watches and emails OPERATORS_EMAIL.
    "ALERTS_INTERVAL": "15",  # seconds between two looks at the broker and the services' /healthz
    "ALERTS_QUEUE_GROWTH_SECONDS": "300",  # a work queue growing at every look for this long raises an alert
    "ALERTS_OUTBOX_LAG": "60",  # seconds: an outbox's oldest unpublished event older than this raises an alert
    "ALERTS_RESOLVE_AFTER": "",  # seconds a condition stays clear before its alert is resolved; "": 2 intervals
    "ALERTS_TARGETS": "",  # the services watched: name=base URL,... (make run's launcher fills it in)
    "ALERTS_HTTP_TIMEOUT": "3",  # seconds a /healthz may take before the service counts as down
    "ALERTS_DOCS_URL": "docs/operations.md",  # where the runbook's anchors are (a URL of the docs, if published)
    "RABBIT_MGMT_URL": "http://127.0.0.1:15672",  # RabbitMQ's management API (credentials: the AMQP user's)
}


def _get(config: dict | None, key: str) -> str:
    if config and key in config and config[key] is not None:
        return str(config[key])
    return os.environ.get(key, DEFAULTS[key])


def _count(config: dict | None, key: str) -> int:
    """A whole number of at least 1; ValueError names the setting."""
    text = _get(config, key)
    if not text.strip().isdigit() or int(text) < 1:
        raise ValueError(f"{key} must be a whole number of at least 1; got {text!r}")
    return int(text)
def _number(config: dict | None, key: str, minimum: float) -> float:
    """A number of at least `minimum`; ValueError naming the variable otherwise (the service does not start)."""
    text = _get(config, key)
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= minimum):
        raise ValueError(f"{key} must be a number of at least {minimum:g}, got {text!r}")
    return value


def _choice(config: dict | None, key: str, allowed: tuple) -> str:
    """One of `allowed` (any case); ValueError naming the variable and the choices otherwise."""
    text = _get(config, key).strip().lower()
    if text not in allowed:
        raise ValueError(f"{key} must be one of {', '.join(allowed)}; got {_get(config, key)!r}")
    return text


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(config: dict | None, key: str, text: str | None = None) -> float:
    """Seconds from "90", "5s", "5m", "2h" or "1d"; ValueError naming the setting.

    >>> _duration({"X": "2h"}, "X")
    7200.0
    """
    text = (_get(config, key) if text is None else text).strip().lower()
    scale = _UNITS.get(text[-1:], None) if text else None
    number = text[:-1] if scale else text
    try:
        value = float(number) * (scale or 1)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{key} must be a duration like 90, 5s, 5m, 2h or 1d; got {text!r}")
    return value


def _durations(config: dict | None, key: str) -> tuple:
    return tuple(_duration(config, key, part) for part in _get(config, key).split(",") if part.strip())


def _list(config: dict | None, key: str) -> tuple:
    return tuple(x.strip() for x in _get(config, key).split(",") if x.strip())


def _bool(text: str) -> bool:
    return text.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    amqp_uri: str
    mongo_uri: str
    mongo_db_prefix: str
    centers: str
    smtp_host: str
    smtp_port: int
    smtp_from: str
    smtp_user: str
    smtp_password: str
    smtp_starttls: bool
    smtp_timeout: float
    sms_url: str
    sms_token: str
    sms_sender: str
    sms_timeout: float
    retry_delays: tuple = field(default_factory=tuple)
    delivery_limit: int = 10
    public_status_url: str = DEFAULTS["PUBLIC_STATUS_URL"]
    rating_url: str = DEFAULTS["RATING_URL"]
    chaos: str = ""
    events_legacy_form: bool = True
    circuit_failures: int = 5
    circuit_reset: float = 30.0
    due_soon: tuple = ("1d", "3h")
    timer_interval: float = 30.0
    status_rate_limit: str = DEFAULTS["STATUS_RATE_LIMIT"]
    trusted_proxies: tuple = ()
    citizen_messages_per_hour: int = 10
    citizen_messages_per_day: int = 30
    counter_submit_limit: str = DEFAULTS["COUNTER_SUBMIT_LIMIT"]
    portal_submit_limit: str = DEFAULTS["PORTAL_SUBMIT_LIMIT"]
    lookup_lock_after: int = 5
    lookup_lock_seconds: float = 900.0
    audit_rate_limit: str = DEFAULTS["AUDIT_RATE_LIMIT"]
    personal_data_retention_days: float = 90.0
    retention_sweep_interval: float = 3600.0
    embedded_store: str = DEFAULTS["EMBEDDED_STORE"]
    data_dir: str = DEFAULTS["DATA_DIR"]
    embedded_sync: str = DEFAULTS["EMBEDDED_SYNC"]
    audit_origin: str = DEFAULTS["AUDIT_ORIGIN"]
    audit_keys_file: str = DEFAULTS["AUDIT_KEYS_FILE"]
    audit_checkpoints_file: str = ""
    audit_checkpoint_interval: float = 60.0
    audit_receipt_url: str = DEFAULTS["AUDIT_RECEIPT_URL"]
    webhook_retry_schedule: tuple = ()
    webhook_jitter: float = 0.2
    webhook_retry_after_max: float = 86400.0
    webhook_connect_timeout: float = 5.0
    webhook_read_timeout: float = 15.0
    webhook_total_timeout: float = 30.0
    webhook_secret_grace: float = 86400.0
    webhook_concurrency: int = 50
    webhook_poll_interval: float = 1.0
    webhook_bindings_interval: float = 300.0
    webhook_allow_networks: tuple = ()
    webhook_allow_loopback: bool = False
    webhook_allow_http: bool = False
    operators_email: tuple = ()
    webhook_keep_delivered: float = 30 * 86400.0
    alerts_interval: float = 15.0  # issue 17, alerts: _alert_settings
    alerts_queue_growth_seconds: float = 300.0
    alerts_outbox_lag: float = 60.0
    alerts_resolve_after: float = 30.0
    alerts_targets: tuple = ()  # ((service, base URL), ...)
    alerts_http_timeout: float = 3.0
    alerts_docs_url: str = DEFAULTS["ALERTS_DOCS_URL"]
    rabbit_mgmt_url: str = DEFAULTS["RABBIT_MGMT_URL"]

    @classmethod
    def load(cls, config: dict | None = None) -> "Settings":
        g = lambda key: _get(config, key)  # noqa: E731
        return cls(
            amqp_uri=g("AMQP_URI"),
            mongo_uri=g("MONGO_URI"),
            mongo_db_prefix=g("MONGO_DB_PREFIX"),
            centers=g("CENTERS"),
            smtp_host=g("SMTP_HOST"),
            smtp_port=int(g("SMTP_PORT")),
            smtp_from=g("SMTP_FROM"),
            smtp_user=g("SMTP_USER"),
            smtp_password=g("SMTP_PASSWORD"),
            smtp_starttls=_bool(g("SMTP_STARTTLS")),
            smtp_timeout=float(g("SMTP_TIMEOUT")),
            sms_url=g("SMS_URL"),
            sms_token=g("SMS_TOKEN"),
            sms_sender=g("SMS_SENDER"),
            sms_timeout=float(g("SMS_TIMEOUT")),
            retry_delays=tuple(float(x) for x in g("RETRY_DELAYS").split(",") if x.strip()),
            delivery_limit=int(g("DELIVERY_LIMIT")),
            public_status_url=g("PUBLIC_STATUS_URL"),
            rating_url=g("RATING_URL"),
            chaos=g("CHAOS"),
            events_legacy_form=_bool(g("EVENTS_LEGACY_FORM")),
            circuit_failures=int(g("CIRCUIT_FAILURES")),
            circuit_reset=float(g("CIRCUIT_RESET")),
            due_soon=tuple(x.strip() for x in g("DUE_SOON").split(",") if x.strip()),
            timer_interval=float(g("TIMER_INTERVAL")),
            status_rate_limit=g("STATUS_RATE_LIMIT"),
            trusted_proxies=tuple(x.strip() for x in g("TRUSTED_PROXIES").split(",") if x.strip()),
            citizen_messages_per_hour=_count(config, "CITIZEN_MESSAGES_PER_HOUR"),
            citizen_messages_per_day=_count(config, "CITIZEN_MESSAGES_PER_DAY"),
            counter_submit_limit=g("COUNTER_SUBMIT_LIMIT"),
            portal_submit_limit=g("PORTAL_SUBMIT_LIMIT"),
            lookup_lock_after=int(g("LOOKUP_LOCK_AFTER")),
            lookup_lock_seconds=float(g("LOOKUP_LOCK_SECONDS")),
            audit_rate_limit=g("AUDIT_RATE_LIMIT"),
            personal_data_retention_days=_number(config, "PERSONAL_DATA_RETENTION_DAYS", 0),
            retention_sweep_interval=_number(config, "RETENTION_SWEEP_INTERVAL", 0.01),
            embedded_store=_choice(config, "EMBEDDED_STORE", ("sqlite", "memory")),
            data_dir=g("DATA_DIR").strip() or DEFAULTS["DATA_DIR"],
            embedded_sync=_choice(config, "EMBEDDED_SYNC", ("full", "normal")),
            audit_origin=g("AUDIT_ORIGIN").strip().rstrip("/"),
            audit_keys_file=g("AUDIT_KEYS_FILE"),
            audit_checkpoints_file=g("AUDIT_CHECKPOINTS_FILE").strip()
            or os.path.join(g("DATA_DIR").strip() or DEFAULTS["DATA_DIR"], f"{g('MONGO_DB_PREFIX')}audit.checkpoints.jsonl"),
            audit_checkpoint_interval=_number(config, "AUDIT_CHECKPOINT_INTERVAL", 0.01),
            audit_receipt_url=g("AUDIT_RECEIPT_URL"),
            **_webhook_settings(config),
            **_alert_settings(config),
        )

    def center_ids(self, known: list[str]) -> list[str]:
        """The centers this worker serves: `all`, or a comma-separated list.

        >>> Settings.load({"CENTERS": "hue-vyda"}).center_ids(["hue-vyda", "hue-phuxuan"])
        ['hue-vyda']
        """
        wanted = [c.strip() for c in self.centers.split(",") if c.strip()]
        if not wanted or wanted == ["all"]:
            return list(known)
        unknown = [c for c in wanted if c not in known]
        if unknown:
            raise ValueError(f"CENTERS names unknown centers: {', '.join(unknown)}; known: {', '.join(known)}")
        return wanted


def _webhook_settings(config: dict | None) -> dict:
    """The webhooks service's settings (docs/webhooks.md), checked at start-up."""
    schedule = _durations(config, "WEBHOOK_RETRY_SCHEDULE")
    if not schedule:
        raise ValueError("WEBHOOK_RETRY_SCHEDULE needs at least one delay, e.g. 5s,5m,30m")
    jitter = _number(config, "WEBHOOK_JITTER", 0)
    if jitter >= 1:
        raise ValueError(f"WEBHOOK_JITTER must be a fraction under 1; got {jitter:g}")
    return {
        "webhook_retry_schedule": schedule, "webhook_jitter": jitter,
        "webhook_retry_after_max": _duration(config, "WEBHOOK_RETRY_AFTER_MAX"),
        "webhook_connect_timeout": _number(config, "WEBHOOK_CONNECT_TIMEOUT", 0.01),
        "webhook_read_timeout": _number(config, "WEBHOOK_READ_TIMEOUT", 0.01),
        "webhook_total_timeout": _number(config, "WEBHOOK_TOTAL_TIMEOUT", 0.01),
        "webhook_secret_grace": _duration(config, "WEBHOOK_SECRET_GRACE"),
        "webhook_concurrency": _count(config, "WEBHOOK_CONCURRENCY"),
        "webhook_poll_interval": _number(config, "WEBHOOK_POLL_INTERVAL", 0.01),
        "webhook_bindings_interval": _number(config, "WEBHOOK_BINDINGS_INTERVAL", 0.01),
        "webhook_allow_networks": _list(config, "WEBHOOK_ALLOW_NETWORKS"),
        "webhook_allow_loopback": _bool(_get(config, "WEBHOOK_ALLOW_LOOPBACK")),
        "webhook_allow_http": _bool(_get(config, "WEBHOOK_ALLOW_HTTP")),
        "operators_email": _list(config, "OPERATORS_EMAIL"),
        "webhook_keep_delivered": _duration(config, "WEBHOOK_KEEP_DELIVERED"),
    }


def _alert_settings(config: dict | None) -> dict:
    """The alerts service's settings (issue 17; docs/operations.md, "Alerts"), checked at start-up."""
    interval = _number(config, "ALERTS_INTERVAL", 0.05)
    resolve = _get(config, "ALERTS_RESOLVE_AFTER").strip()
    targets = []
    for part in _list(config, "ALERTS_TARGETS"):
        name, _, url = part.partition("=")
        if not name.strip() or not url.strip().startswith(("http://", "https://")):
            raise ValueError(f"ALERTS_TARGETS is name=http://host:port,...; got {part!r}")
        targets.append((name.strip(), url.strip().rstrip("/")))
    return {
        "alerts_interval": interval,
        "alerts_queue_growth_seconds": _duration(config, "ALERTS_QUEUE_GROWTH_SECONDS"),
        "alerts_outbox_lag": _duration(config, "ALERTS_OUTBOX_LAG"),
        "alerts_resolve_after": _duration(config, "ALERTS_RESOLVE_AFTER", resolve) if resolve else 2 * interval,
        "alerts_targets": tuple(targets),
        "alerts_http_timeout": _number(config, "ALERTS_HTTP_TIMEOUT", 0.05),
        "alerts_docs_url": _get(config, "ALERTS_DOCS_URL").strip().rstrip("#") or DEFAULTS["ALERTS_DOCS_URL"],
        "rabbit_mgmt_url": _get(config, "RABBIT_MGMT_URL").strip(),
    }
