"""JSON over HTTP for the nameko `http` entrypoints: bodies, responses, and the one
table that turns the domain's errors into status codes.

Every error is JSON and names the field and the reason::

    {"error": "validation_failed", "message": "The request was not accepted.",
     "fields": [{"field": "citizen.id_number", "reason": "must be exactly 12 digits"}]}

Services raise the kinds of ``onestop.errors`` (``InvalidInput``, ``NotFound``,
...), which say what happened; ``STATUS`` here says which status each kind is,
and ``json_endpoint`` adds the headers HTTP asks for (``WWW-Authenticate`` on
401, ``Retry-After`` on 429). Anything else is a 500 that tells nothing.
"""
from __future__ import annotations

import functools
import logging
from datetime import date, datetime

import orjson
from marshmallow import INCLUDE, Schema, ValidationError, fields
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from onestop.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    TooManyRequests,
    Unauthorized,
    Unavailable,
)
from onestop.web.auth import challenge

log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024
JSON = {"Content-Type": "application/json; charset=utf-8"}
INTERNAL = {"error": "internal_error", "message": "Something went wrong; nothing was half-written."}


class UnsupportedMediaType(DomainError):
    """The body is not sent as application/json."""

    error = "unsupported_media_type"


class PayloadTooLarge(DomainError):
    """The body is over the size the endpoint reads."""

    error = "payload_too_large"


class MalformedJson(DomainError):
    """The body is not valid JSON."""

    error = "malformed_json"


# The only place an error kind becomes a status; subclasses inherit their kind's.
STATUS = {
    InvalidInput: 422, NotFound: 404, Unauthorized: 401, Forbidden: 403, Conflict: 409,
    TooManyRequests: 429, Unavailable: 503,
    UnsupportedMediaType: 415, PayloadTooLarge: 413, MalformedJson: 400,
}


class Answer(Schema):
    """The base of every response schema (onestop.web.openapi documents them): an answer may gain
    optional fields, as events do, so a client ignores those it does not know (the documents leave
    ``additionalProperties`` open)."""

    class Meta:
        unknown = INCLUDE


class PageSchema(Answer):
    """A page of a listing (``?limit=&offset=``): how many there are in all, and this page's window."""

    total = fields.Integer(required=True)
    limit = fields.Integer(required=True)
    offset = fields.Integer(required=True)


class FieldErrorSchema(Answer):
    field = fields.String(required=True, metadata={"description": "the field, header or parameter to blame"})
    reason = fields.String(required=True)


class ErrorSchema(Answer):
    """Every error body, as ``DomainError.body()`` writes it: its kind, what happened, the fields to
    blame; the details an error adds (``reason`` of a 401, ``state`` of a 409, ...) are further properties."""

    error = fields.String(required=True, metadata={"example": "validation_failed"})
    message = fields.String(required=True)
    fields_ = fields.List(fields.Nested(FieldErrorSchema), data_key="fields")


def status_of(exc: BaseException) -> int | None:
    """The status of the most specific kind `exc` is (its MRO, nearest first), or None."""
    return next((STATUS[kind] for kind in type(exc).__mro__ if kind in STATUS), None)


def edge_headers(exc: BaseException) -> dict:
    """What HTTP adds to an error: the RFC 6750 challenge on 401, Retry-After on 429."""
    if isinstance(exc, Unauthorized):
        return challenge(exc.reason)
    if isinstance(exc, TooManyRequests):
        return {"Retry-After": str(exc.retry_after)}
    return {}


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
                raise InvalidInput([{"field": f"{path}.{key}",
                                     "reason": "keys starting with '$' or containing '.' are not allowed"}])
            forbid_operators(item, f"{path}.{key}" if path != "body" else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            forbid_operators(item, f"{path}[{index}]")


def _too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The body is over {max_bytes} bytes.",
                           fields=[{"field": "body", "reason": f"at most {max_bytes} bytes"}])


def read_json(request, max_bytes: int = MAX_BODY):
    """The request's JSON body, or UnsupportedMediaType, PayloadTooLarge, MalformedJson, InvalidInput."""
    mimetype = (request.mimetype or "").lower()
    if mimetype != "application/json":
        got = request.mimetype or "nothing"
        raise UnsupportedMediaType("Send the body as application/json.",
                                   fields=[{"field": "Content-Type", "reason": f"got {got}"}])
    if request.content_length is not None and request.content_length > max_bytes:
        raise _too_large(max_bytes)
    request.max_content_length = max_bytes
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise _too_large(max_bytes) from None
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedJson("The body is not valid JSON.", fields=[{"field": "body", "reason": str(exc)}]) from None
    forbid_operators(body)
    return body


def load(schema, data, message: str = "The request was not accepted."):
    """``schema.load(data)``, or InvalidInput naming every field to blame and why."""
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise InvalidInput(flatten(exc.messages), message) from None


def error_response(exc: Exception, where: str = "an endpoint") -> Response:
    """The answer for an error: its kind's status, body and headers, or a 500 that tells nothing."""
    status = status_of(exc)
    if status is not None:
        return respond(status, exc.body(), edge_headers(exc))
    log.error("unhandled error in %s", where, exc_info=exc)
    return respond(500, INTERNAL)


def json_endpoint(method):
    """Answer every exception of `method` as JSON, through the edge's table."""
    @functools.wraps(method)
    def wrapper(self, request, *args, **kwargs):
        try:
            return method(self, request, *args, **kwargs)
        except Exception as exc:
            return error_response(exc, method.__name__)
    return wrapper
