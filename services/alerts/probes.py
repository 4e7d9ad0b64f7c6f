"""What the watches look at, with no rule of their own: the broker's queues (RabbitMQ's management
HTTP API) and each service's /healthz. Each answers what it saw, or why it saw nothing."""
from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

import requests
from eventlet.greenpool import GreenPool
from amqp.exceptions import NotFound
from kombu import Connection


def queues(amqp_uri: str, mgmt_url: str, timeout: float) -> tuple[dict, dict]:
    """({dead-letter queue: messages}, {queue: ready}) of the AMQP URI's vhost: the names and ready counts
    from the management API (as fresh as its statistics, 5 s by default: enough to see a queue grow),
    the dead-letter queues' depths from the queues themselves (exact: a letter is seen at once, and a
    purge too). Errors pass up."""
    amqp, parts = Connection(amqp_uri, connect_timeout=timeout), urlsplit(mgmt_url.rstrip("/"))
    auth = (parts.username or amqp.userid, parts.password or amqp.password)  # else the AMQP user's
    base = urlunsplit((parts.scheme, parts.hostname + (f":{parts.port}" if parts.port else ""), parts.path, "", ""))
    vhost = quote(amqp.virtual_host or "/", safe="")
    response = requests.get(f"{base}/api/queues/{vhost}", auth=auth, timeout=timeout,
                            params={"columns": "name,messages_ready"})
    response.raise_for_status()
    ready = {q["name"]: q.get("messages_ready") or 0 for q in response.json()}
    with amqp as conn:
        dlqs = {name: _depth(conn, name) for name in ready if name.endswith(".dlq")}
    return {name: depth for name, depth in dlqs.items() if depth is not None}, ready


def _depth(conn, name: str) -> int | None:
    try:
        with conn.channel() as channel:
            return channel.queue_declare(name, passive=True).message_count
    except NotFound:  # deleted since it was listed
        return None


def healthz(base_url: str, timeout: float) -> tuple[dict | None, str]:
    """The service's /healthz body (a 503's too: it says what fails), or None and why."""
    try:
        response = requests.get(f"{base_url}/healthz", timeout=timeout)
    except requests.RequestException as exc:
        return None, f"no answer from {base_url}/healthz ({type(exc).__name__})"
    try:
        return response.json(), "" if response.ok else f"/healthz answered {response.status_code}"
    except ValueError:
        return None, f"/healthz answered {response.status_code}, not JSON"


def all_healthz(targets: tuple, timeout: float) -> dict:
    """{service: (body or None, problem)}, every target asked at once."""
    pool = GreenPool(max(1, len(targets)))
    answers = pool.imap(lambda target: (target[0], healthz(target[1], timeout)), targets)
    return dict(answers)
