"""Shared fixtures: a private RabbitMQ vhost per test session, free ports,
in-process SMTP and SMS sinks, stores (the embedded SQLite store, or MONGO_URI).

Every test's data, and that of every process a test starts (they inherit the
environment), goes to a DATA_DIR of the session's own, deleted at the end:
never into the repository's var/data."""
from __future__ import annotations

import eventlet

eventlet.monkey_patch()  # noqa: E402  (nameko runs on eventlet; patch before anything imports socket)

import atexit
import os
import random
import shutil
import socket
import tempfile

os.environ.setdefault("TIMER_INTERVAL", "1")  # routing's deadline timers look every second in tests
os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="onestop-test-data-")
# Commits survive a killed process either way; fsync's cost (survival of a power loss) buys a throw-away
# test store nothing. The fault suite (tests/fault/cluster.py) and the benchmark run with the default, full.
os.environ.setdefault("EMBEDDED_SYNC", "normal")
atexit.register(shutil.rmtree, os.environ["DATA_DIR"], True)
# The audit log's signing keys, created by the first audit that starts (services/audit/signing.py); a test
# about the keys file gives its own.
os.environ["AUDIT_KEYS_FILE"] = os.path.join(os.environ["DATA_DIR"], "keys", "audit-signing.json")
import uuid

import pytest

from onestop.dev.rabbit_admin import MGMT, drop_vhost, make_vhost  # noqa: F401  (tests import them from here)

AMQP_HOST = os.environ.get("TEST_AMQP_HOST", "127.0.0.1")


_PORTS = (20000, 32000)  # below Linux's ephemeral range (32768-60999): no outgoing connection takes one
_handed: set[int] = set()


def free_port() -> int:
    """A port nothing listens on, never handed out twice in this process, and outside the ephemeral range.
    The kernel's own choice (bind to 0) is a port of that range, which an outgoing connection of another
    test process can take between this call and the server's bind; two such calls can also answer the
    same port once the first probe is closed. (The fault suite's scenario 2 once reached another service's
    web server at routing's port.)"""
    while True:
        port = random.randrange(*_PORTS)
        if port in _handed:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed.add(port)
        return port


@pytest.fixture(scope="session")
def vhost():
    """A throw-away vhost, so tests never touch a running platform's queues."""
    name = make_vhost("onestop-test")
    yield name
    drop_vhost(name)


@pytest.fixture(scope="session")
def amqp_uri(vhost):
    return f"amqp://guest:guest@{AMQP_HOST}:5672/{vhost}"


def store_client():
    """The client the services get from this environment (MONGO_URI, EMBEDDED_STORE, DATA_DIR)."""
    from onestop.config import Settings
    from onestop.storage.mongo import client_for
    return client_for(Settings.load())


@pytest.fixture
def mongo_prefix():
    """A database prefix of the test's own; its databases are dropped after it (files, connections)."""
    prefix = f"t{uuid.uuid4().hex[:10]}_"
    yield prefix
    drop_databases(prefix)


def drop_databases(prefix: str) -> None:
    """Drop the databases a test made (their names begin with its prefix)."""
    client = store_client()
    for name in client.list_database_names():
        if name.startswith(prefix):
            client.drop_database(name)


@pytest.fixture
def mongo_db(mongo_prefix):
    """A fresh database: real MongoDB when MONGO_URI is set, else the default embedded store
    (SQLite, in the session's DATA_DIR; EMBEDDED_STORE=memory for mongomock)."""
    client = store_client()
    return lambda service: client[f"{mongo_prefix}{service}"]


@pytest.fixture(scope="session")
def sinks():
    """A real SMTP server and SMS gateway sink, as processes, for the whole session."""
    from tests.support.sinks import Sinks
    running = Sinks(free_port(), free_port(), free_port()).start()
    yield running
    running.stop()
