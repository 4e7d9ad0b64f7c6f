"""The RabbitMQ management HTTP API, as the tests, the fault suite and the
benchmark use it: throw-away vhosts and queue depths."""
from __future__ import annotations

import os
import time
import uuid
from urllib.parse import quote, urlparse

import requests

AMQP_HOST_DEFAULT = os.environ.get("TEST_AMQP_HOST", "127.0.0.1")
MGMT = os.environ.get("TEST_RABBIT_MGMT", f"http://{AMQP_HOST_DEFAULT}:15672")
AUTH = ("guest", "guest")


def request(method: str, path: str, **kwargs):
    """One call, retried: the management API is slow to answer while the broker is busy."""
    for attempt in range(6):
        try:
            response = requests.request(method, f"{MGMT}{path}", auth=AUTH, timeout=60, **kwargs)
            if method == "DELETE" and response.status_code == 404:
                return response  # an earlier, timed-out attempt did it
            response.raise_for_status()
            return response
        except requests.RequestException:
            if attempt == 5:
                raise
            time.sleep(1 + attempt)


def make_vhost(prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    request("PUT", f"/api/vhosts/{name}")
    request("PUT", f"/api/permissions/{name}/guest", json={"configure": ".*", "write": ".*", "read": ".*"})
    return name


def drop_vhost(name: str) -> None:
    request("DELETE", f"/api/vhosts/{name}")


def vhost_of(amqp_uri: str) -> str:
    """The vhost of an AMQP URI, quoted for a management API path."""
    return quote(urlparse(amqp_uri).path[1:] or "/", safe="")


def queue_depths(amqp_uri: str, timeout: float = 10) -> dict:
    """{queue name: messages (ready + unacked)} of the URI's vhost."""
    rows = requests.get(f"{MGMT}/api/queues/{vhost_of(amqp_uri)}", params={"columns": "name,messages"},
                        auth=AUTH, timeout=timeout).json()
    return {row["name"]: row.get("messages") or 0 for row in rows}
