"""Shared fixtures: a private RabbitMQ vhost per test session, free ports,
in-process SMTP and SMS sinks, mongomock (or MONGO_URI) stores."""
from __future__ import annotations

import eventlet

eventlet.monkey_patch()  # noqa: E402  (nameko runs on eventlet; patch before anything imports socket)

import os
import socket

os.environ.setdefault("TIMER_INTERVAL", "1")  # routing's deadline timers look every second in tests
import uuid

import pytest

from onestop.dev.rabbit_admin import MGMT, drop_vhost, make_vhost  # noqa: F401  (tests import them from here)

AMQP_HOST = os.environ.get("TEST_AMQP_HOST", "127.0.0.1")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def vhost():
    """A throw-away vhost, so tests never touch a running platform's queues."""
    name = make_vhost("onestop-test")
    yield name
    drop_vhost(name)


@pytest.fixture(scope="session")
def amqp_uri(vhost):
    return f"amqp://guest:guest@{AMQP_HOST}:5672/{vhost}"


@pytest.fixture
def mongo_prefix():
    return f"t{uuid.uuid4().hex[:10]}_"


@pytest.fixture
def mongo_db(mongo_prefix):
    """A fresh database: real MongoDB when MONGO_URI is set, else mongomock."""
    from onestop.storage.mongo import get_client
    client = get_client(os.environ.get("MONGO_URI", ""))
    return lambda service: client[f"{mongo_prefix}{service}"]


@pytest.fixture(scope="session")
def sinks():
    """A real SMTP server and SMS gateway sink, as processes, for the whole session."""
    from tests.support.sinks import Sinks
    running = Sinks(free_port(), free_port(), free_port()).start()
    yield running
    running.stop()
