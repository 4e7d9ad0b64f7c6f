"""JSON over HTTP for the nameko `http` entrypoints: errors, bodies, responses.

Every error is JSON and names the field and the reason::

    {"error": "validation_failed", "message": "The request was not accepted.",
     "fields": [{"field": "citizen.id_number", "reason": "must be exactly 12 digits"}]}
"""
from __future__ import annotations

import functools
import logging
from datetime import date, datetime

import orjson
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024
JSON = {"Content-Type": "application/json; charset=utf-8"}


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str, fields: list | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.status, self.error, self.message = status, error, message
        self.fields, self.headers = fields or [], headers or {}

    def body(self) -> dict:
        body = {"error": self.error, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        return body


def _default(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value) -> bytes:
    return orjson.dumps(value, default=_default)


def respond(status: int, body, headers: dict | None = None) -> Response:
    return Response(dumps(body), status=status, headers={**JSON, **(headers or {})})


def flatten(messages, prefix: str = "") -> list[dict]:
    """marshmallow's nested error dict -> [{"field": "a.b[0].c", "reason": ...}]."""
    out = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}[{key}]" if isinstance(key, int) else (f"{prefix}.{key}" if prefix else str(key))
            if key == "_schema":
                name = prefix or "body"
            out.extend(flatten(value, name))
    elif isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages):
        out.extend({"field": prefix or "body", "reason": m} for m in messages)
    elif isinstance(messages, list):
        for item in messages:
            out.extend(flatten(item, prefix))
    else:
        out.append({"field": prefix or "body", "reason": str(messages)})
    return out


def forbid_operators(value, path: str = "body") -> None:
    """Refuse MongoDB operator objects and dotted keys anywhere in a body."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or key.startswith("$") or "." in key:
                raise ApiError(422, "validation_failed", "The request was not accepted.",
                               [{"field": f"{path}.{key}", "reason": "keys starting with '$' or containing '.' are not allowed"}])
            forbid_operators(item, f"{path}.{key}" if path != "body" else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            forbid_operators(item, f"{path}[{index}]")


def read_json(request, max_bytes: int = MAX_BODY):
    """The request's JSON body, or an ApiError (415, 413, 400)."""
    mimetype = (request.mimetype or "").lower()
    if mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "Send the body as application/json.",
                       [{"field": "Content-Type", "reason": f"got {request.mimetype or 'nothing'}"}])
    if request.content_length is not None and request.content_length > max_bytes:
        raise ApiError(413, "payload_too_large", f"The body is over {max_bytes} bytes.",
                       [{"field": "body", "reason": f"at most {max_bytes} bytes"}])
    request.max_content_length = max_bytes
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise ApiError(413, "payload_too_large", f"The body is over {max_bytes} bytes.",
                       [{"field": "body", "reason": f"at most {max_bytes} bytes"}]) from None
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "malformed_json", "The body is not valid JSON.",
                       [{"field": "body", "reason": str(exc)}]) from None
    forbid_operators(body)
    return body


def json_endpoint(method):
    """Turn ApiError (and anything unexpected) into a JSON response."""
    @functools.wraps(method)
    def wrapper(self, request, *args, **kwargs):
        try:
            return method(self, request, *args, **kwargs)
        except ApiError as exc:
            return respond(exc.status, exc.body(), exc.headers)
        except Exception as exc:
            status = getattr(exc, "status", None)  # the domain's own errors: 401, 403, 404, 409, 422, 503
            if isinstance(status, int) and 400 <= status < 600 and callable(getattr(exc, "body", None)):
                return respond(status, exc.body(), getattr(exc, "headers", None) or {})
            log.exception("unhandled error in %s", method.__name__)
            return respond(500, {"error": "internal_error", "message": "Something went wrong; nothing was half-written."})
    return wrapper
