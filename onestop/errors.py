"""Failure classes shared by every service; framework-free.

A consumer retries a `TransientError` (or any unexpected exception) with
backoff and dead-letters a `PermanentError` at once: retrying a poison
message only burns the delivery limit.
"""


class PermanentError(Exception):
    """Retrying cannot help (bad data, an unknown reference); dead-letter now."""


class TransientError(Exception):
    """Worth retrying later (a provider is down, a prerequisite has not arrived yet)."""


class InvalidInput(Exception):
    """Input that is well-formed but refers to things that do not exist or do
    not fit (an unknown center, a document of another procedure).

    ``problems`` is a list of ``{"field": ..., "reason": ...}``.
    """

    def __init__(self, problems: list[dict]):
        super().__init__("; ".join(f"{p['field']}: {p['reason']}" for p in problems))
        self.problems = problems
