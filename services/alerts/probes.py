"""What the watches look at, with no rule of their own: the broker's queues (RabbitMQ's management
HTTP API) and each service's /healthz. Each answers what it saw, or why it saw nothing."""
from __future__ import annotations

from urllib.parse import quote

import requests
from eventlet.greenpool import GreenPool
from kombu import Connection

from onestop.ops.deadletters.queues import management, queue_depth


def queues(amqp_uri: str, mgmt_url: str, timeout: float) -> tuple[dict, dict]:
    """({dead-letter queue: messages}, {queue: ready}) of the AMQP URI's vhost: the names and ready counts
    from the management API (as fresh as its statistics, 5 s by default: enough to see a queue grow),
    the dead-letter queues' depths from the queues themselves (exact: a letter is seen at once, and a
    purge too). Errors pass up."""
    amqp = Connection(amqp_uri, connect_timeout=timeout)
    base, auth = management(mgmt_url, amqp_uri)  # the credentials: the URL's, else the AMQP user's
    vhost = quote(amqp.virtual_host or "/", safe="")
    response = requests.get(f"{base}/api/queues/{vhost}", auth=auth, timeout=timeout,
                            params={"columns": "name,messages_ready"})
    response.raise_for_status()
    ready = {q["name"]: q.get("messages_ready") or 0 for q in response.json()}
    with amqp as conn:
        dlqs = {name: queue_depth(conn, name) for name in ready if name.endswith(".dlq")}
    return {name: depth for name, depth in dlqs.items() if depth is not None}, ready


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
