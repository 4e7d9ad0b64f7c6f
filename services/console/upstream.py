"""What the console reads from elsewhere: the services' APIs (with the signed-in person's token), their
/healthz, the alerts service, and RabbitMQ's management API (with the console's own broker user).

Each read answers ``(value, None)`` or ``(None, "why not")``: one source that is down leaves the rest
of a page standing, and the page says which source is missing."""
from __future__ import annotations

import re
from urllib.parse import quote, urlsplit, urlunsplit

import requests
from kombu import Connection

TIMEOUT = 5
QUEUE = re.compile(r"^onestop\.([a-z0-9_-]+)\.([a-z0-9_-]+)(\.dlq|\.retry\.[0-9]+)?$")
COLUMNS = ("name,messages,messages_ready,messages_unacknowledged,consumers,"
           "message_stats.publish_details.rate,message_stats.deliver_get_details.rate,message_stats.ack_details.rate")


def get_json(url: str, token: str | None = None, params: dict | None = None, auth=None):
    """GET a JSON answer: (body, None), or (None, why) for an error status or no answer."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = requests.get(url, headers=headers, params=params, auth=auth, timeout=TIMEOUT)
    except requests.RequestException as exc:
        return None, f"unreachable ({type(exc).__name__})"
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code >= 400 and not (response.status_code == 503 and isinstance(body, dict)
                                            and "checks" in body):
        message = body.get("message") if isinstance(body, dict) else ""
        return None, f"HTTP {response.status_code}" + (f": {message}" if message else "")
    return body, None


def health(urls: dict) -> dict:
    """Each service's /healthz: {service: {"status", "outbox_lag_seconds", "providers"...} or {"error"}}."""
    out = {}
    for name, base in urls.items():
        body, error = get_json(f"{base}/healthz")
        out[name] = {"error": error} if error else body
    return out


def management(mgmt_url: str, amqp_uri: str) -> tuple[str, tuple]:
    """The management API's base URL without credentials, and the credentials (else the AMQP user's)."""
    parts = urlsplit(mgmt_url.rstrip("/"))
    amqp = Connection(amqp_uri)
    auth = (parts.username or amqp.userid, parts.password or amqp.password)
    netloc = (parts.hostname or "127.0.0.1") + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")), auth


def vhost(amqp_uri: str) -> str:
    return Connection(amqp_uri).virtual_host or "/"


def _rate(row: dict, key: str) -> float:
    return round(float(((row.get("message_stats") or {}).get(f"{key}_details") or {}).get("rate") or 0.0), 2)


def queues(mgmt_url: str, amqp_uri: str, center: str):
    """The center's queues of every service: (rows, None) or (None, why). A row: service, kind (work,
    dlq, retry), queue, messages, ready, unacked, consumers, and the rates in messages a second."""
    base, auth = management(mgmt_url, amqp_uri)
    body, error = get_json(f"{base}/api/queues/{quote(vhost(amqp_uri), safe='')}", params={"columns": COLUMNS},
                           auth=auth)
    if error:
        return None, f"RabbitMQ management API: {error}"
    rows = []
    for q in body:
        match = QUEUE.match(q.get("name", ""))
        if not match or match.group(2) != center:
            continue
        suffix = match.group(3) or ""
        rows.append({"service": match.group(1), "queue": q["name"],
                     "kind": "dlq" if suffix == ".dlq" else ("retry" if suffix else "work"),
                     "messages": q.get("messages") or 0, "ready": q.get("messages_ready") or 0,
                     "unacked": q.get("messages_unacknowledged") or 0, "consumers": q.get("consumers") or 0,
                     "publish_rate": _rate(q, "publish"), "deliver_rate": _rate(q, "deliver_get"),
                     "ack_rate": _rate(q, "ack")})
    return sorted(rows, key=lambda r: (r["service"], r["kind"] != "work", r["queue"])), None
