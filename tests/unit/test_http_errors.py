"""The HTTP edge's one table: each error kind's status, its body as the caller reads
it, the headers HTTP adds, and a 500 that tells nothing for anything else."""
from __future__ import annotations

import inspect

import orjson
import pytest

from onestop import errors
from onestop.dependencies import StaffNotConfigured
from onestop.errors import (
    Conflict, DomainError, Forbidden, InvalidInput, NotFound, TooManyRequests, Unauthorized, Unavailable,
)
from onestop.web import auth
from onestop.web.http import (
    STATUS, MalformedJson, PayloadTooLarge, UnsupportedMediaType, json_endpoint, status_of,
)

FIELD = [{"field": "code", "reason": "unknown"}]
CHALLENGE = "WWW-Authenticate"


class Endpoint:
    """A nameko-style service with one endpoint that raises what it is given."""

    @json_endpoint
    def answer(self, request, exc):
        raise exc


def answer(exc):
    response = Endpoint().answer(None, exc)
    return response.status_code, orjson.loads(response.get_data()), response.headers


@pytest.mark.parametrize("exc, status, body", [
    (InvalidInput(FIELD), 422,
     {"error": "validation_failed", "message": "The request was not accepted.", "fields": FIELD}),
    (InvalidInput(FIELD, "The dossier was not accepted."), 422,
     {"error": "validation_failed", "message": "The dossier was not accepted.", "fields": FIELD}),
    (NotFound("No dossier has this code."), 404, {"error": "not_found", "message": "No dossier has this code."}),
    (Forbidden("This rating code does not belong to this dossier.", fields=FIELD), 403,
     {"error": "forbidden", "message": "This rating code does not belong to this dossier.", "fields": FIELD}),
    (auth.Forbidden("role auditor may not read reports"), 403,
     {"error": "forbidden", "message": "role auditor may not read reports",
      "reason": "role auditor may not read reports"}),
    (Conflict("The dossier was withdrawn.", error="not_returned"), 409,
     {"error": "not_returned", "message": "The dossier was withdrawn."}),
    (Unavailable("The catalog is not loaded."), 503,
     {"error": "unavailable", "message": "The catalog is not loaded."}),
    (StaffNotConfigured("AUTH_JWKS_URL is not set"), 503,
     {"error": "staff_access_not_configured",
      "message": "Staff endpoints are off: AUTH_JWKS_URL is not set (AUTH_JWKS_URL: the staff sign-in provider's "
                 "JWKS; docs/identity.md)."}),
    (auth.KeysUnavailable("connection refused"), 503,
     {"error": "jwks_unavailable", "reason": "jwks_unavailable",
      "message": "The staff sign-in provider's keys cannot be fetched now (connection refused); try again shortly."}),
    (UnsupportedMediaType("Send the body as application/json.", fields=FIELD), 415,
     {"error": "unsupported_media_type", "message": "Send the body as application/json.", "fields": FIELD}),
    (PayloadTooLarge("The body is over 10 bytes.", fields=FIELD), 413,
     {"error": "payload_too_large", "message": "The body is over 10 bytes.", "fields": FIELD}),
    (MalformedJson("The body is not valid JSON.", fields=FIELD), 400,
     {"error": "malformed_json", "message": "The body is not valid JSON.", "fields": FIELD}),
], ids=lambda v: type(v).__name__ if isinstance(v, Exception) else None)
def test_each_kind_has_its_status_and_its_body(exc, status, body):
    got, answered, headers = answer(exc)
    assert (got, answered) == (status, body)
    assert CHALLENGE not in headers and "Retry-After" not in headers
    assert headers["Content-Type"] == "application/json; charset=utf-8"


@pytest.mark.parametrize("exc, header", [
    (auth.Unauthorized("missing"), 'Bearer realm="onestop"'),
    (auth.Unauthorized("malformed_header"),
     'Bearer realm="onestop", error="invalid_request", error_description="malformed_header"'),
    (auth.Unauthorized("expired"), 'Bearer realm="onestop", error="invalid_token", error_description="expired"'),
    (Unauthorized("The session is over.", reason="expired"),
     'Bearer realm="onestop", error="invalid_token", error_description="expired"'),
])
def test_a_401_carries_the_challenge_its_reason_calls_for(exc, header):
    got, body, headers = answer(exc)
    assert got == 401 and headers[CHALLENGE] == header
    assert body == {"error": "unauthorized", "message": exc.message, "reason": exc.reason}


def test_a_429_says_when_to_come_back():
    limit = [{"field": "client", "reason": "at most 3 requests every 60 seconds"}]
    got, body, headers = answer(TooManyRequests("Too many requests; try again in 20 seconds.", retry_after=20,
                                                fields=limit))
    assert got == 429 and headers["Retry-After"] == "20"
    assert body == {"error": "rate_limited", "message": "Too many requests; try again in 20 seconds.",
                    "fields": limit}


def test_every_kind_of_the_domain_has_a_status():
    kinds = {k for _, k in inspect.getmembers(errors, inspect.isclass) if issubclass(k, DomainError)} - {DomainError}
    assert kinds <= set(STATUS)  # none falls through to the 500
    assert {k.__name__: STATUS[k] for k in kinds} == {
        "InvalidInput": 422, "NotFound": 404, "Unauthorized": 401, "Forbidden": 403, "Conflict": 409,
        "TooManyRequests": 429, "Unavailable": 503}


class Gone(NotFound):
    """How a service's own kind looks (routing's NotFound will): a subclass, no status of its own."""

    def __init__(self, code: str):
        super().__init__("No dossier has this code.")
        self.code = code


class Both(Conflict, NotFound):
    pass


class Pretends(Forbidden):
    status = 500  # an attribute named status does not decide anything


def test_the_nearest_kind_in_the_mro_decides():
    gone = {"error": "not_found", "message": "No dossier has this code."}
    assert answer(Gone("VYDA-260213-0001"))[:2] == (404, gone)
    assert status_of(Both("x")) == 409
    assert answer(Pretends("no"))[0] == 403


@pytest.mark.parametrize("exc", [RuntimeError("mongo at 10.0.0.7 said: auth failed for user onestop"),
                                 KeyError("citizen"), ValueError("id_number 079200001234")])
def test_anything_else_is_a_500_that_tells_nothing(exc, caplog):
    got, body, headers = answer(exc)
    assert got == 500
    assert body == {"error": "internal_error", "message": "Something went wrong; nothing was half-written."}
    assert CHALLENGE not in headers and "Retry-After" not in headers
    assert str(exc) in caplog.text  # the log, not the caller, gets the details
