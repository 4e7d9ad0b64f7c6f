"""The console's settings, read once at start-up: the nameko container config first, then the environment."""
from __future__ import annotations

import os
from dataclasses import dataclass

from onestop.config import DEFAULTS

# make run's addresses of the services the console reads (onestop/dev/launcher.py, Ports)
URLS = {"intake": "http://127.0.0.1:8001", "routing": "http://127.0.0.1:8002",
        "notification": "http://127.0.0.1:8003", "audit": "http://127.0.0.1:8004",
        "webhooks": "http://127.0.0.1:8005"}
TRUE = {"1", "true", "yes", "on"}


def _get(config: dict | None, key: str, default: str = "") -> str:
    if config and config.get(key) is not None:
        return str(config[key])
    return os.environ.get(key, default)


@dataclass(frozen=True)
class ConsoleSettings:
    """CONSOLE_DEV_SIGNIN: the development sign-in page (make run only); CONSOLE_INSECURE_COOKIE: the session
    cookie without Secure (plain http on 127.0.0.1); CONSOLE_POLL_SECONDS: how often the page refreshes;
    CONSOLE_ORIGIN: the console's public origin (https://console.example.vn) when a proxy is in front;
    <SERVICE>_URL: each service's base URL; ALERTS_URL: the alerts service (unset: not configured);
    AMQP_URI and RABBIT_MGMT_URL: the broker (the operator's user) and its management API."""

    dev_signin: bool
    insecure_cookie: bool
    poll_seconds: float
    origin: str
    urls: dict
    alerts_url: str
    amqp_uri: str
    mgmt_url: str
    production: bool

    @classmethod
    def load(cls, config: dict | None = None) -> "ConsoleSettings":
        poll = float(_get(config, "CONSOLE_POLL_SECONDS", "5"))
        if not 0.5 <= poll <= 3600:
            raise ValueError(f"CONSOLE_POLL_SECONDS must be between 0.5 and 3600, got {poll:g}")
        return cls(
            dev_signin=_get(config, "CONSOLE_DEV_SIGNIN").strip().lower() in TRUE,
            insecure_cookie=_get(config, "CONSOLE_INSECURE_COOKIE").strip().lower() in TRUE,
            poll_seconds=poll,
            origin=_get(config, "CONSOLE_ORIGIN").strip().rstrip("/"),
            urls={name: _get(config, f"{name.upper()}_URL", url).rstrip("/") for name, url in URLS.items()},
            alerts_url=_get(config, "ALERTS_URL").strip().rstrip("/"),
            amqp_uri=_get(config, "AMQP_URI", DEFAULTS["AMQP_URI"]),
            mgmt_url=_get(config, "RABBIT_MGMT_URL", "http://127.0.0.1:15672"),
            production=_looks_like_production(config),
        )


def _looks_like_production(config) -> bool:
    """ONESTOP_ENV=production or an OpenID Connect provider configured: real staff sign in here, so the
    development sign-in is refused (services/console/service.py, Console.setup)."""
    return (_get(config, "ONESTOP_ENV").strip().lower() in {"prod", "production"}
            or bool(_get(config, "OIDC_ISSUER").strip()))
