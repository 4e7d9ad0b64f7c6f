"""`make run`'s own broker users: the platform's table (onestop.messaging.users) with
prefixed names, on make run's vhost only.

Each service runs as onestop-dev-<service>, with the permissions it would have in
production, so a missing permission shows up on a developer's machine first. The
passwords are random, kept in var/broker-users.json (0600) and reused; the users
are (re)made through the management API's definitions import, which creates or
updates the users it names and touches no other.
"""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from urllib.parse import quote, urlparse, urlunparse

from onestop.dev.rabbit_admin import import_definitions
from onestop.messaging.users import platform_users
from onestop.ops.brokerusers import user_definitions

PREFIX = "onestop-dev-"
SUBSCRIBERS = ("demo",)  # sub-demo, for examples/subscriber.py


def passwords(path: Path, roles: list[str]) -> dict:
    """{role: password}, those kept in `path` reused, the file (re)written 0600."""
    known = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    wanted = {role: known.get(role) or secrets.token_urlsafe(24) for role in roles}
    if wanted != known:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as out:
            json.dump(wanted, out, indent=2)
    path.chmod(0o600)
    return wanted


def uri_for(admin_uri: str, user: str, password: str) -> str:
    """admin_uri with another user's credentials (same host, port and vhost)."""
    parts = urlparse(admin_uri)
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{parts.hostname}:{parts.port or 5672}"
    return urlunparse(parts._replace(netloc=netloc))


def ensure_users(admin_uri: str, secrets_file: Path, prefix: str = PREFIX, subscribers: tuple = SUBSCRIBERS,
                 mgmt: str | None = None) -> dict:
    """Make (or update) every platform user but the administrator (admin_uri's user plays it) on
    admin_uri's vhost; {role: its AMQP URI}."""
    users = [u for u in platform_users(subscribers) if u.role != "admin"]
    secret = passwords(secrets_file, [u.role for u in users])
    vhost = urlparse(admin_uri).path[1:] or "/"
    import_definitions(user_definitions(users, vhost, prefix, secret), mgmt)
    return {u.role: uri_for(admin_uri, prefix + u.role, secret[u.role]) for u in users}
