"""What can go wrong, said in the domain's words; framework-free, no HTTP status.

Two families:

- **Domain errors** (``DomainError`` and its kinds): the request or the event
  cannot be carried out as it is, and trying again will not change that (an
  unknown center, a wrong proof, an action the dossier's state does not
  allow). Each names its kind (``error``), says what happened (``message``)
  and, where a field is to blame, which one and why (``fields``: a list of
  ``{"field", "reason"}``); ``details`` adds what the caller needs to decide
  (the current state, the allowed actions, ...). The HTTP edge
  (``onestop.web.http``) turns each kind into a status code in one table; a
  consumer (``onestop.messaging.consumer``) dead-letters them at once.
- **Failures of the moment**: ``TransientError`` is worth retrying later (a
  provider is down, a prerequisite has not arrived yet); ``PermanentError``
  is a message no retry can fix (bad data, an unknown reference);
  ``UnknownDossier`` is one about a dossier the store does not know (as this one).

    >>> err = NotFound("No dossier has this code.", fields=[{"field": "code", "reason": "unknown"}])
    >>> err.body()
    {'error': 'not_found', 'message': 'No dossier has this code.', 'fields': [{'field': 'code', 'reason': 'unknown'}]}
"""
from __future__ import annotations

from contracts.dossier import dossier_id, same_dossier


class PermanentError(Exception):
    """Retrying cannot help (bad data, an unknown reference); dead-letter now.

    ``dlq_reason`` is what the dead letter's ``x-onestop-reason`` says (``onestop
    dlq list/show``); a kind an operator handles differently sets its own."""

    dlq_reason = "permanent"


class UnknownDossier(PermanentError):
    """An event about a dossier this service's store does not know, or knows as
    another dossier of the same code (another ``dossier_id``, contracts/dossier.py).

    Either the store lost its past (its data was deleted, or restored from an
    older backup, while the broker kept the messages) or intake issued the code
    twice; acting on the event would act for whoever holds the code now.

    One rule for every consumer: ``unless_same`` (the comparison itself is the
    contract's, ``contracts.same_dossier``), and one wording an operator reads
    in ``onestop dlq show``:

    >>> event = {"type": "dossier.routed.v1", "id": "e1", "data": {"dossier_id": "9a84"}}
    >>> UnknownDossier.unless_same("routing", "VYDA-261201-0001", "9a84", event)  # the same dossier
    >>> UnknownDossier.unless_same("routing", "VYDA-261201-0001", None, event)  # a record from before dossier_id
    >>> UnknownDossier.unless_same("routing", "VYDA-261201-0001", "6f0c", event)
    Traceback (most recent call last):
    onestop.errors.UnknownDossier: routing knows VYDA-261201-0001 as another dossier (dossier_id 6f0c), not as \
this event's (9a84): the code was issued twice (an intake that lost its counters), or routing's store was \
restored from an older backup; nothing was done
    """

    dlq_reason = "unknown_dossier"

    @classmethod
    def missing(cls, service: str, event: dict, why: str) -> "UnknownDossier":
        """The store has no dossier of the event's code; `why` says what that means for this service."""
        return cls(f"{service} has no dossier {event['data']['code']} "
                   f"(dossier_id {dossier_id(event) or 'not given'}): {why}")

    @classmethod
    def unless_same(cls, service: str, code: str, known: str | None, event: dict) -> None:
        """Raise if the store knows `code` as another dossier (`known`) than the event's."""
        theirs = dossier_id(event)
        if not same_dossier(known, theirs):
            raise cls(f"{service} knows {code} as another dossier (dossier_id {known}), not as this event's "
                      f"({theirs}): the code was issued twice (an intake that lost its counters), or {service}'s "
                      "store was restored from an older backup; nothing was done")


class TransientError(Exception):
    """Worth retrying later (a provider is down, a prerequisite has not arrived yet)."""


class DomainError(Exception):
    """A request the domain refuses, deterministically. Subclasses set ``error``."""

    error = "refused"

    def __init__(self, message: str, *, fields: list[dict] | None = None, error: str | None = None, **details):
        super().__init__(message)
        self.message = message
        self.fields = list(fields or [])
        self.details = details
        if error is not None:
            self.error = error

    def body(self) -> dict:
        """What a caller reads: the kind, the message, the details, the fields to blame."""
        body = {"error": self.error, "message": self.message, **self.details}
        if self.fields:
            body["fields"] = self.fields
        return body


class InvalidInput(DomainError):
    """Input that does not fit: missing or malformed fields, or references to things
    that do not exist (an unknown center, a document of another procedure).

    ``problems`` (the same list as ``fields``) is a list of ``{"field": ..., "reason": ...}``.
    """

    error = "validation_failed"

    def __init__(self, problems: list[dict], message: str = "The request was not accepted.", **kwargs):
        super().__init__(message, fields=problems, **kwargs)

    @property
    def problems(self) -> list[dict]:
        return self.fields

    def __str__(self) -> str:
        return "; ".join(f"{p['field']}: {p['reason']}" for p in self.fields) or self.message


class NotFound(DomainError):
    """No such thing, or one the caller may not see: the same answer for both."""

    error = "not_found"


class Unauthorized(DomainError):
    """No valid identity was shown. ``reason`` says which check failed."""

    error = "unauthorized"

    def __init__(self, message: str, *, reason: str, **kwargs):
        super().__init__(message, reason=reason, **kwargs)
        self.reason = reason


class Forbidden(DomainError):
    """A known caller, or a wrong proof, that does not allow this."""

    error = "forbidden"


class Conflict(DomainError):
    """The thing's current state does not allow this now."""

    error = "conflict"


class TooManyRequests(DomainError):
    """The caller asked too often; ``retry_after`` says in how many seconds it may again."""

    error = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class Unavailable(DomainError):
    """The platform cannot serve this now (a setting is missing, a dependency is down)."""

    error = "unavailable"
