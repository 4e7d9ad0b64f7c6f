"""Which failures a consumer dead-letters at once and which it retries: every
domain error is permanent, save ``Unavailable``, which is about the platform."""
from __future__ import annotations

import pytest
from marshmallow import ValidationError

from onestop.circuit import CircuitOpen
from onestop.dependencies import StaffNotConfigured
from onestop.errors import (
    Conflict, DomainError, Forbidden, InvalidInput, NotFound, PermanentError, TooManyRequests, TransientError,
    Unauthorized, Unavailable,
)
from onestop.messaging.consumer import classify
from onestop.web import auth

FIELD = [{"field": "data.procedure_code", "reason": "unknown procedure"}]


@pytest.mark.parametrize("exc", [
    InvalidInput(FIELD),
    NotFound("No dossier has this code."),
    Unauthorized("The event's actor is unknown.", reason="unknown_actor"),
    auth.Unauthorized("expired"),
    Forbidden("A citizen may not route a dossier."),
    auth.Forbidden("role auditor may not approve"),
    Conflict("The dossier was withdrawn.", error="not_returned"),
    TooManyRequests("Too many events for this dossier.", retry_after=20),
    DomainError("Refused."),
    PermanentError("unknown procedure 9.999999"),
    ValidationError({"data": ["missing"]}),
], ids=lambda exc: type(exc).__name__)
def test_what_no_retry_can_change_is_dead_lettered_at_once(exc):
    assert classify(exc) == "permanent"


@pytest.mark.parametrize("exc", [
    Unavailable("The catalog is not loaded."),
    StaffNotConfigured("AUTH_JWKS_URL is not set"),
    TransientError("SMTP unavailable"),
    CircuitOpen("the SMS gateway circuit is open"),
    ConnectionError("mongo"),
    RuntimeError("a bug: fixed and redeployed, the retry works"),
], ids=lambda exc: type(exc).__name__)
def test_what_may_be_gone_by_the_next_try_is_retried(exc):
    assert classify(exc) is None
