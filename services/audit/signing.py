"""The signer as a nameko dependency: the log's names, its keys file and its checkpoints file.

On the first start of a new log (no keys file, nothing signed yet) it creates
the keys and logs the verifier keys to publish; a log that has signed before
and lost its keys file does not start: new keys would make every earlier
checkpoint unverifiable with what verifiers hold, and say nothing of it.
"""
from __future__ import annotations

import logging
from pathlib import Path

from nameko.extensions import DependencyProvider

from onestop.catalog import load_catalog
from onestop.config import Settings
from onestop.timestamps import iso, utcnow
from services.audit import keys
from services.audit.handlers import Log, Refused
from services.audit.ledger import Ledger

log = logging.getLogger(__name__)


def open_keys(path: str, ledger: Ledger, origins: dict[str, str]) -> None:
    """Make sure `path` holds signing keys; creates them for a log that never signed."""
    if Path(path).exists():
        keys.load(path)  # unreadable or without an active key: the service does not start
        return
    signed = [c for c in origins if ledger.last(c)]
    if signed:
        raise keys.KeyFileError(f"no audit signing keys at {path}, yet checkpoints of {', '.join(signed)} were "
                                f"signed ({ledger.path}): restore the keys file; new keys would not verify them")
    ring = keys.init(path, iso(utcnow()))
    log.warning("created the audit signing keys %s; publish the verifier keys (GET /api/v1/audit/keys): %s",
                path, " ".join(k["vkey"] for k in ring.listing(origins)))


class Signer:
    """What the audit service signs with: ``log`` (handlers.Log), ``centers`` (those this
    worker serves), and one alarm per incident (``first_refusal``)."""

    def __init__(self, settings: Settings):
        self.centers = settings.center_ids(list(load_catalog().centers))
        ledger = Ledger(settings.audit_checkpoints_file, self.centers)
        self.log = Log(settings.audit_origin, lambda: keys.load(settings.audit_keys_file), ledger)
        open_keys(settings.audit_keys_file, ledger, self.origins())
        self._alarmed: dict[str, str] = {}  # center -> the reason it was refused for

    def origins(self) -> dict[str, str]:
        return {c: self.log.origin(c) for c in self.centers}

    def first_refusal(self, refused: Refused) -> bool:
        """True the first time this refusal is seen for its center (an alarm per incident)."""
        first = self._alarmed.get(refused.center) != refused.reason  # the log grows meanwhile: same incident
        self._alarmed[refused.center] = refused.reason
        return first

    def signed(self, center: str) -> None:
        """The log signs again: the incident, if any, is over."""
        self._alarmed.pop(center, None)


class Transparency(DependencyProvider):
    """Injects the container's Signer."""

    def setup(self):
        self.signer = Signer(Settings.load(self.container.config))

    def get_dependency(self, worker_ctx):
        return self.signer
