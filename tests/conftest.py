"""Shared fixtures: a private RabbitMQ vhost per test session, free ports,
in-process SMTP and SMS sinks, mongomock (or MONGO_URI) stores."""
from __future__ import annotations

import eventlet

eventlet.monkey_patch()  # noqa: E402  (nameko runs on eventlet; patch before anything imports socket)

import os
import socket
import uuid

import mongomock
import pytest
import requests

import onestop.contracts  # noqa: F401

AMQP_HOST = os.environ.get("TEST_AMQP_HOST", "127.0.0.1")
MGMT = os.environ.get("TEST_RABBIT_MGMT", f"http://{AMQP_HOST}:15672")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def vhost():
    """A throw-away vhost, so tests never touch a running platform's queues."""
    name = f"onestop-test-{uuid.uuid4().hex[:8]}"
    auth = ("guest", "guest")
    requests.put(f"{MGMT}/api/vhosts/{name}", auth=auth, timeout=10).raise_for_status()
    requests.put(f"{MGMT}/api/permissions/{name}/guest", auth=auth, timeout=10,
                 json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
    yield name
    requests.delete(f"{MGMT}/api/vhosts/{name}", auth=auth, timeout=30)


@pytest.fixture(scope="session")
def amqp_uri(vhost):
    return f"amqp://guest:guest@{AMQP_HOST}:5672/{vhost}"


@pytest.fixture
def mongo_prefix():
    return f"t{uuid.uuid4().hex[:10]}_"


@pytest.fixture
def mongo_db(mongo_prefix):
    """A fresh database: real MongoDB when MONGO_URI is set, else mongomock."""
    from onestop.store import get_client
    client = get_client(os.environ.get("MONGO_URI", ""))
    return lambda service: client[f"{mongo_prefix}{service}"]


@pytest.fixture(scope="session")
def sinks():
    """A real SMTP server and SMS gateway sink, as processes, for the whole session."""
    from tests.support.sinks import Sinks
    running = Sinks(free_port(), free_port(), free_port()).start()
    yield running
    running.stop()
