"""Fault-suite fixtures: a fresh vhost and cluster per scenario, and the report."""
import json
import os
from pathlib import Path

import pytest

from tests.fault.harness import Cluster
from tests.integration.conftest import amqp_uri  # noqa: F401  (a vhost per scenario)

DOSSIERS = int(os.environ.get("FAULT_DOSSIERS", "2000"))  # `make soak` raises it to 10,000
REPORT = Path(__file__).resolve().parents[2] / "var" / "fault-report.json"
_reports = []


@pytest.fixture
def n_dossiers():
    return DOSSIERS


@pytest.fixture
def cluster(amqp_uri, sinks, tmp_path):  # noqa: F811
    sinks.clear()
    running = Cluster(amqp_uri, sinks, tmp_path)
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
