"""Fault-suite fixtures: a RabbitMQ node of the run's own, a fresh vhost and
cluster per scenario on it, and the report."""
import json
import os
from pathlib import Path

import pytest

from onestop.dev.rabbit_admin import drop_vhost, make_vhost
from tests.fault.broker import Broker
from tests.fault.cluster import Cluster
from tests.fault.node import Node, reap_leftovers

DOSSIERS = int(os.environ.get("FAULT_DOSSIERS", "2000"))  # `make soak` raises it to 10,000
REPORT = Path(__file__).resolve().parents[2] / "var" / "fault-report.json"
_reports = []


@pytest.fixture
def n_dossiers():
    return DOSSIERS


@pytest.fixture(scope="session")
def rabbit_node():
    """The suite restarts, kills and alarms its broker: never the machine's shared
    one, always a node started for this run and stopped after it."""
    for name in reap_leftovers():
        print(f"\nstopped {name}, left behind by a fault run that was killed")
    node = Node()
    try:
        yield node.start()
    finally:  # also when it failed to start: nothing of it is left behind
        node.stop()


@pytest.fixture
def broker(rabbit_node):
    return Broker(rabbit_node)


@pytest.fixture
def amqp_uri(rabbit_node):
    """A vhost per scenario on the suite's node: a fresh topology and fresh figures each time."""
    name = make_vhost("onestop-fault", rabbit_node.mgmt)
    yield rabbit_node.amqp_uri(name)
    drop_vhost(name, rabbit_node.mgmt)


@pytest.fixture
def cluster(amqp_uri, rabbit_node, sinks, tmp_path):
    sinks.clear()
    (tmp_path / "data").mkdir()  # DATA_DIR: the services' stores, kept across their restarts
    running = Cluster(amqp_uri, sinks, tmp_path, rabbit_node.mgmt, data_dir=tmp_path / "data")
    yield running
    running.stop()
    sinks.clear()


@pytest.fixture
def report():
    def record(rep):
        print("\n" + rep.line())
        _reports.append(rep.__dict__)
        REPORT.parent.mkdir(exist_ok=True)
        REPORT.write_text(json.dumps({"dossiers": DOSSIERS, "scenarios": _reports}, indent=2, ensure_ascii=False))
    return record
