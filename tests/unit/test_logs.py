"""Structured logs (onestop.logs): one JSON object per record with the dossier's context, the
context of one green thread never on another's records, and personal data masked whoever
logged it, in a service process configured by deploy/nameko.yaml."""
import json
import logging
import subprocess
import sys
import traceback
from pathlib import Path
from types import SimpleNamespace

import eventlet
import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from onestop import logs
from onestop.dependencies import _worker_fields

ROOT = Path(__file__).resolve().parents[2]
KEYS = ["time", "level", "service", "center", "code", "event_id", "correlation_id", "logger", "message"]
PHONE, ID_NUMBER, EMAIL = "0912 345 678", "046095001234", "an.nguyen@example.vn"


class Collect(logging.Handler):
    """A real handler that keeps the formatted lines (with the service's filters and formatter)."""

    def __init__(self):
        super().__init__()
        self.lines = []
        self.addFilter(logs.ContextFilter())
        self.addFilter(logs.MaskFilter())
        self.setFormatter(logs.JsonFormatter())

    def emit(self, record):
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def collected():
    handler, logger = Collect(), logging.getLogger("test.onestop.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logs.clear()
    logs.set_service(None)  # a container started by an earlier test named its service process-wide
    yield logger, handler.lines
    logger.removeHandler(handler)
    logs.clear()


def test_a_record_is_one_json_object_with_the_keys_in_order(collected):
    logger, lines = collected
    logs.bind(service="routing", center="hue-vyda", code="VYDA-261126-0001", event_id="e-1", correlation_id="c-1")
    logger.warning("dossier %s waits for %d days", "VYDA-261126-0001", 3)
    assert list(lines[0]) == KEYS
    assert lines[0]["time"].endswith("Z") and lines[0]["time"][10] == "T" and len(lines[0]["time"]) == 24
    assert lines[0] | {"time": None} == {
        "time": None, "level": "WARNING", "service": "routing", "center": "hue-vyda", "code": "VYDA-261126-0001",
        "event_id": "e-1", "correlation_id": "c-1", "logger": "test.onestop.logs",
        "message": "dossier VYDA-261126-0001 waits for 3 days"}


def test_the_message_its_arguments_and_the_exception_are_masked(collected):
    logger, lines = collected
    try:
        raise ValueError(f"recipient refused: {{'{EMAIL}': (550, b'no such user')}} phone {PHONE}")
    except ValueError:
        logger.exception("sending to %s (CCCD %s) failed", {"phone": PHONE, "full_name": "Nguyễn Văn An"}, ID_NUMBER)
    text = json.dumps(lines, ensure_ascii=False)
    for secret in (PHONE, "345", ID_NUMBER, EMAIL, "Nguyễn"):
        assert secret not in text
    assert lines[0]["message"] == "sending to {'phone': '[masked]', 'full_name': '[masked]'} (CCCD [id-number]) failed"
    assert "Traceback" in lines[0]["exception"] and "ValueError: recipient refused: {'[email]'" in lines[0]["exception"]


def test_a_record_outside_a_worker_gets_the_dossier_code_it_names(collected):
    logger, lines = collected
    logger.info('127.0.0.1 - - [26/Nov/2026 09:15:00] "GET /api/v1/dossiers/VYDA-261126-0001?phone_last4=5678 '
                'HTTP/1.1" 200 312 0.004')
    logger.info("nothing about a dossier")
    assert lines[0]["code"] == "VYDA-261126-0001" and "phone_last4=[masked]" in lines[0]["message"]
    assert lines[1]["code"] is None and lines[1]["service"] is None


def test_a_bad_format_string_keeps_the_record_and_masks_its_arguments(collected):
    logger, lines = collected
    logger.error("two %s %s", PHONE)
    assert lines[0]["message"] == "two %s %s ('[phone]',)"


def test_each_green_thread_logs_with_its_own_context(collected):
    logger, lines = collected

    def worker(i):
        logs.bind(code=f"VYDA-261126-{i:04d}", event_id=f"event-{i}")
        eventlet.sleep(0.001 * (i % 3))  # the others run in between
        logger.info("worker %d", i)
        logs.bind(center=f"center-{i}")
        eventlet.sleep(0)
        logger.info("worker %d again", i)

    pool = eventlet.GreenPool()
    for i in range(50):
        pool.spawn(worker, i)
    pool.waitall()
    assert len(lines) == 100
    for line in lines:
        i = int(line["message"].split()[1])
        assert (line["code"], line["event_id"]) == (f"VYDA-261126-{i:04d}", f"event-{i}")
        assert line["center"] == (f"center-{i}" if "again" in line["message"] else None)
    assert logs.current() == {}  # the spawning thread's context is not theirs


def test_lines_written_to_a_line_logger_become_masked_records(collected):
    logger, lines = collected
    real = SimpleNamespace(written=[], write=lambda text: real.written.append(text))
    stream = logs.LineLogger(logger, logging.WARNING, real)
    print(f"a print about {EMAIL}", file=stream)
    stream.write("no newline yet")
    assert [line["message"] for line in lines] == ["a print about [email]"]
    stream.flush()
    assert lines[-1]["message"] == "no newline yet" and lines[-1]["level"] == "WARNING" and real.written == []


def test_a_traceback_written_line_by_line_is_one_record(collected):
    logger, lines = collected
    stream = logs.LineLogger(logger, logging.WARNING, sys.__stderr__)
    try:
        raise RuntimeError(f"green thread for {EMAIL}")
    except RuntimeError:
        traceback.print_exc(file=stream)
    print("after it", file=stream)
    assert len(lines) == 2 and lines[1]["message"] == "after it"
    assert lines[0]["message"].startswith("Traceback (most recent call last):\n  File ")
    assert lines[0]["message"].endswith("RuntimeError: green thread for [email]")


def _request(path: str, **headers) -> Request:
    return Request(EnvironBuilder(path=path, headers=headers).get_environ())


@pytest.mark.parametrize("ctx, fields", [
    (SimpleNamespace(args=({"type": "dossier.received.v1"},), kwargs={},
                     data={"center": "hue-vyda", "code": "VYDA-261126-0001", "event_id": "e-1",
                           "correlation_id": "c-1", "call_id_stack": ["x"]}),
     {"center": "hue-vyda", "code": "VYDA-261126-0001", "event_id": "e-1", "correlation_id": "c-1"}),
    (SimpleNamespace(args=(_request("/api/v1/dossiers/vyda-261126-0001", **{"X-Correlation-Id": "req-7"}),),
                     kwargs={"code": "vyda-261126-0001"}, data={"correlation_id": "spoofed"}),
     {"code": "VYDA-261126-0001", "correlation_id": "req-7"}),
    (SimpleNamespace(args=(_request("/api/v1/dossiers/0912345678", **{"X-Correlation-Id": "a b;c"}),),
                     kwargs={"code": "0912345678"}, data={}),
     {"code": None, "correlation_id": None}),  # not a code, not an id: nothing a caller typed goes in
    (SimpleNamespace(args=(), kwargs={}, data={}),  # a timer
     {"center": None, "code": None, "event_id": None, "correlation_id": None}),
])
def test_a_worker_logs_with_what_its_event_or_request_says(ctx, fields):
    assert _worker_fields(ctx) == fields


SERVICE_PROCESS = r"""
import warnings
with warnings.catch_warnings():  # eventlet's deprecation, which the launcher silences (QUIET_EVENTLET)
    warnings.simplefilter("ignore")
    import eventlet
eventlet.monkey_patch()
import logging.config, sys
import yaml
from nameko.cli.main import setup_yaml_parser
setup_yaml_parser()
with open("deploy/nameko.yaml") as config:
    logging.config.dictConfig(yaml.safe_load(config)["LOGGING"])
P, I, E = "0912 345 678", "046095001234", "an.nguyen@example.vn"
logging.getLogger("kombu.connection").info("publishing to %s", P)
logging.getLogger("werkzeug").warning("GET /x?phone_last4=5678&email=%s", E)
logging.getLogger("requests").error("POST failed", exc_info=ValueError(f"CCCD {I} to {P}"))
print(f"a print of {E}")
sys.stderr.write(f"a library writing to stderr about {I}\n")
warnings.warn(f"a warning about {P}")
gt = eventlet.spawn(lambda: (_ for _ in ()).throw(RuntimeError(f"green thread for {E}")))
eventlet.sleep(0.05)
"""


def test_a_service_process_writes_only_masked_json_lines():
    """deploy/nameko.yaml's LOGGING, as `nameko run` applies it: nameko, kombu, werkzeug,
    requests, a print(), a write to stderr, a warning and eventlet's own traceback."""
    done = subprocess.run([sys.executable, "-c", SERVICE_PROCESS, "services.intake.service"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.stdout == "", done.stdout
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert all(list(line)[:len(KEYS)] == KEYS for line in lines)
    for secret in ("0912", "345 678", "046095001234", "an.nguyen", "example.vn", "5678"):
        assert secret not in done.stderr, secret
    by_logger = {line["logger"]: line for line in lines}
    assert {"kombu.connection", "werkzeug", "requests", "stdout", "stderr", "py.warnings"} <= set(by_logger)
    assert by_logger["requests"]["exception"] == "ValueError: CCCD [id-number] to [phone]"
    trace = next(line for line in lines if line["message"].startswith("Traceback"))
    assert trace["logger"] == "stderr" and trace["message"].endswith("RuntimeError: green thread for [email]")
    assert {line["service"] for line in lines} == {"intake"}  # as `nameko run services.intake.service` says
