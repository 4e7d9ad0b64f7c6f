"""examples/subscriber.py, plain kombu, prints one center's events live."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

from onestop.messaging.publisher import ConfirmedPublisher
from contracts import PUBLIC, routing_key
from onestop.messaging.topology import EVENTS, declare_exchanges, event_messages
from tests.integration.test_delivery import received_event
from tests.support.wait import until

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "subscriber.py"
pytestmark = pytest.mark.integration


def test_the_example_imports_nothing_from_the_project():
    tree = ast.parse(EXAMPLE.read_text(encoding="utf-8"))
    modules = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not modules & {"onestop", "services", "tests"}


def test_it_prints_its_centers_events_and_no_others(amqp_uri, tmp_path):
    from kombu import Connection
    with Connection(amqp_uri) as conn:
        declare_exchanges(conn.default_channel)
    out = open(tmp_path / "out.txt", "w+")
    proc = subprocess.Popen([sys.executable, "-u", str(EXAMPLE), "hue-vyda", "--amqp", amqp_uri],
                            stdout=out, stderr=subprocess.STDOUT)
    try:
        until(lambda: "listening" in (tmp_path / "out.txt").read_text(), 15, 0.1, "the subscriber")
        publisher = ConfirmedPublisher(amqp_uri)
        for event in (received_event(code="PXUA-260213-0001", center="hue-phuxuan"),
                      received_event(code="VYDA-260213-0001")):
            publisher.publish(event, exchange=EVENTS, routing_key=f"{event['type']}.{event['center']}")
        text = until(lambda: "VYDA-260213-0001" in (t := (tmp_path / "out.txt").read_text()) and t, 15, 0.1, "output")
        assert "dossier.received.v1" in text and "PXUA-260213-0001" not in text
    finally:
        proc.terminate()
        proc.wait(10)


def test_it_filters_by_procedure_and_by_field_on_the_headers_exchange(amqp_uri, tmp_path):
    from kombu import Connection
    with Connection(amqp_uri) as conn:
        declare_exchanges(conn.default_channel)
    birth = received_event(code="VYDA-260213-0002")
    land = received_event(code="VYDA-260213-0003", procedure_code="1.013978", procedure_name="Cấp GCN lần đầu",
                          field="land")
    land["field"] = "land"  # what intake sets from the catalog
    wanted = {"--procedure": ("1.013978", land, birth), "--field": ("land", land, birth)}
    for flag, (value, shown, hidden) in wanted.items():
        out_file = tmp_path / f"out{flag}.txt"
        out = open(out_file, "w+")
        proc = subprocess.Popen([sys.executable, "-u", str(EXAMPLE), "hue-vyda", flag, value, "--amqp", amqp_uri],
                                stdout=out, stderr=subprocess.STDOUT)
        try:
            until(lambda: "listening" in out_file.read_text(), 15, 0.1, "the subscriber")
            entries = [{"exchange": PUBLIC, "routing_key": routing_key(e), "id": e["id"], "event": e}
                       for e in (hidden, shown)]
            ConfirmedPublisher(amqp_uri).publish_many(event_messages(entries))  # as the outbox relay does
            text = until(lambda: shown["subject"] in (t := out_file.read_text()) and t, 15, 0.1, "output")
            assert hidden["subject"] not in text, flag
        finally:
            proc.terminate()
            proc.wait(10)
