"""Structured logs: one JSON object per line, with the dossier it is about, and no personal data.

Every service process logs through one handler (deploy/nameko.yaml's LOGGING)::

    {"time": "2026-11-26T02:15:00.123Z", "level": "ERROR", "service": "routing", "center": "hue-vyda",
     "code": "VYDA-261126-0001", "event_id": "6f0c...", "correlation_id": "6f0c...",
     "logger": "onestop.messaging.consumer", "message": "dead-lettering ...", "exception": "Traceback ..."}

- `ContextFilter` adds the service, center, dossier code, event id and correlation id from the
  context of the green thread that logs (`bind`, which onestop.dependencies.LogContext calls for
  every worker); a record written outside a worker, such as the web server's request line,
  gets the dossier code it names.
- `MaskFilter` masks the message, its arguments, the exception and the stack with
  onestop.masking.mask_text, whatever code logged them: nameko, kombu, werkzeug, requests
  or ours.
- `console_handler` also turns whatever is written to sys.stdout or sys.stderr (a print(), a
  traceback eventlet prints itself, a warning) into records, so nothing reaches the log
  unmasked or as a line that is not JSON.

Only these keys go out: an ``extra=`` dict never bypasses the mask.
"""
from __future__ import annotations

import contextvars
import io
import logging
import re
import sys
from datetime import datetime, timezone

import orjson

from onestop.masking import mask_text
from onestop.timestamps import iso

CONTEXT_KEYS = ("service", "center", "code", "event_id", "correlation_id")
# The shape of a dossier code (services.intake.domain.CODE), to find one in a line such as
# "GET /api/v1/dossiers/VYDA-261126-0001": the web server writes it outside the worker.
DOSSIER_CODE = re.compile(r"\b[A-Z]{2,8}-\d{6}-\d{4,}\b")

_context: contextvars.ContextVar[dict] = contextvars.ContextVar("onestop_log_context", default={})
_process = {"service": None}  # the service this process runs, for records outside any worker


def bind(**fields) -> None:
    """Add fields (those of CONTEXT_KEYS) to the current green thread's log context.

    Each green thread has a context of its own (greenlet gives each one its own
    contextvars), so two workers running side by side never see each other's."""
    _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})


def clear() -> None:
    _context.set({})


def current() -> dict:
    return _context.get()


def set_service(name: str | None) -> None:
    _process["service"] = name


class ContextFilter(logging.Filter):
    """Puts every key of CONTEXT_KEYS on the record (None when unknown)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = {"service": _process["service"], **_context.get()}
        for key in CONTEXT_KEYS:
            if getattr(record, key, None) is None:
                setattr(record, key, context.get(key))
        if record.code is None:
            record.code = _code_named_in(record)
        return True


def _code_named_in(record: logging.LogRecord) -> str | None:
    found = DOSSIER_CODE.search(_message(record))
    return found.group(0) if found else None


class MaskFilter(logging.Filter):
    """Masks personal data in the message (its arguments merged in), the exception and the stack."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = mask_text(_message(record)), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.exc_info = None  # formatted (and masked) once: no handler formats the raw one again
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        for key in CONTEXT_KEYS:
            value = getattr(record, key, None)
            if isinstance(value, str):
                setattr(record, key, mask_text(value))
        return True


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # noqa: BLE001  (a bad format string must not lose the record, nor its data)
        return f"{record.msg} {record.args!r}"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, keys in a fixed order (CONTEXT_KEYS and the record's own)."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": iso(datetime.fromtimestamp(record.created, timezone.utc)), "level": record.levelname,
                **{key: getattr(record, key, None) for key in CONTEXT_KEYS},
                "logger": record.name, "message": record.getMessage()}
        exception = record.exc_text or (self.formatException(record.exc_info) if record.exc_info else None)
        if exception:
            line["exception"] = exception
        if record.stack_info:
            line["stack"] = record.stack_info
        return orjson.dumps(line, default=str).decode()


class LineLogger(io.TextIOBase):
    """A stand-in for sys.stdout / sys.stderr: each line written to it becomes a log record,
    and a traceback (eventlet prints those of its green threads itself) one record."""

    TRACEBACK = "Traceback (most recent call last):"

    def __init__(self, logger: logging.Logger, level: int, real):
        super().__init__()
        self.logger, self.level, self.real = logger, level, real
        self.pending, self.trace = "", []
        self._busy = contextvars.ContextVar(f"writing_{logger.name}", default=False)

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self._busy.get():  # logging reporting its own failure: straight out, masked
            self.real.write(mask_text(text))
            return len(text)
        *lines, self.pending = (self.pending + text).split("\n")
        for line in lines:
            self._line(line)
        return len(text)

    def _line(self, line: str) -> None:
        if self.trace or line == self.TRACEBACK:
            self.trace.append(line)
            if line[:1].strip() and line != self.TRACEBACK:  # "ValueError: ..." ends a traceback
                self._log("\n".join(self.trace))
                self.trace = []
        else:
            self._log(line)

    def flush(self) -> None:
        text, self.pending, self.trace = "\n".join([*self.trace, self.pending]), "", []
        self._log(text)

    def _log(self, text: str) -> None:
        if not text.strip():
            return
        self._busy.set(True)
        try:
            self.logger.log(self.level, text.rstrip())
        finally:
            self._busy.set(False)

    def fileno(self) -> int:
        return self.real.fileno()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:
        return getattr(self.real, "encoding", "utf-8")


def console_handler(stream=None) -> logging.Handler:
    """The one handler of a service process: JSON lines on the real stderr. It also makes
    sys.stdout and sys.stderr write log records, and warnings too (made once per process)."""
    real = stream or getattr(sys.stderr, "real", sys.stderr)
    handler = logging.StreamHandler(real)
    if not isinstance(sys.stderr, LineLogger):
        sys.stdout = LineLogger(logging.getLogger("stdout"), logging.INFO, real)
        sys.stderr = LineLogger(logging.getLogger("stderr"), logging.WARNING, real)
    logging.captureWarnings(True)
    set_service(_service_in(sys.argv))
    return handler


def _service_in(argv: list[str]) -> str | None:
    """The service `nameko run ... services.<name>.service` starts, for the records written
    before its container is up (LogContext confirms it then)."""
    found = [m[1] for arg in argv if (m := re.fullmatch(r"services\.(\w+)\.service(?::\w+)?", arg))]
    return found[0] if len(found) == 1 else None
