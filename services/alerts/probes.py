"""What the watches look at, with no rule of their own: the broker's queues (RabbitMQ's management
HTTP API) and each service's /healthz. Each answers what it saw, or why it saw nothing."""
from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

import requests
from eventlet.greenpool import GreenPool
from kombu import Connection


def queues(amqp_uri: str, mgmt_url: str, timeout: float) -> tuple[dict, dict]:
    """({queue: messages}, {queue: ready}) of the AMQP URI's vhost, in one call (counts as fresh as the
    broker's statistics interval, 5 s by default); requests' errors pass up."""
    amqp, parts = Connection(amqp_uri), urlsplit(mgmt_url.rstrip("/"))
    auth = (parts.username or amqp.userid, parts.password or amqp.password)  # else the AMQP user's
    base = urlunsplit((parts.scheme, parts.hostname + (f":{parts.port}" if parts.port else ""), parts.path, "", ""))
    vhost = quote(amqp.virtual_host or "/", safe="")
    response = requests.get(f"{base}/api/queues/{vhost}", auth=auth, timeout=timeout,
                            params={"columns": "name,messages,messages_ready"})
    response.raise_for_status()
    rows = response.json()
    return ({q["name"]: q.get("messages") or 0 for q in rows}, {q["name"]: q.get("messages_ready") or 0 for q in rows})


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
