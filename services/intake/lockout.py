"""The lockout of a dossier's detail lookup after wrong lookup codes, for nameko.

Injects the `LookupLock` of the settings (``LOOKUP_LOCK_AFTER`` wrong codes lock
the lookup for ``LOOKUP_LOCK_SECONDS``); a bad setting stops the service at
start-up rather than failing every lookup. The count lives with the dossier in
intake's store (`IntakeRepository.count_wrong_lookup`), so every worker of every
container sees the same one.
"""
from __future__ import annotations

from nameko.extensions import DependencyProvider

from onestop.config import Settings
from services.intake.domain import LookupLock


class Lockout(DependencyProvider):
    def setup(self):
        settings = Settings.load(self.container.config)
        self.lock = LookupLock(settings.lookup_lock_after, settings.lookup_lock_seconds)

    def get_dependency(self, worker_ctx):
        return self.lock
