"""Fakes of the outside world for tests that run the use cases without a provider."""
from __future__ import annotations


class FakeSender:
    """A provider that records each message; fails with `errors` (one per call) while any are left."""

    def __init__(self, *errors):
        self.sent, self.errors = [], list(errors)

    def __call__(self, message, reference):
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append((message, reference))
        return f"provider-{len(self.sent)}"


def ready(repository):
    """A repository with its indexes made, as a service's start-up makes them."""
    repository.ensure_indexes()
    return repository


class NoBroker:
    """Webhooks' queue bindings (services/webhooks/bindings.py) where no broker runs (nameko's worker_factory):
    the store's write alone. The bindings themselves are tested on RabbitMQ (test_webhook_bindings)."""

    def change(self, write, live, centers, adding=()):
        return write()

    def match(self, live, centers=None, wait=None) -> bool:
        return True
