"""The checkpoints file: every checkpoint audit signed, outside the database.

One JSON object a line (``AUDIT_CHECKPOINTS_FILE``), appended and fsync'd
before the checkpoint is stored or published. Audit reads it back to learn
the last checkpoint it signed for each center even when the database has been
emptied or rolled back, and will not sign anything that does not extend it.
An operator ships the file elsewhere (``tail -F``, a log shipper, rsync): a
copy out of the server's reach is what makes a rewrite of the server provable.

    {"center": "hue-vyda", "origin": "onestop.local/audit/hue-vyda", "tree_size": 42,
     "root_hash": "a9f1...", "note": "onestop.local/audit/hue-vyda\\n42\\n...", "signed_at": "..."}
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from threading import Lock

log = logging.getLogger(__name__)


class Ledger:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = Lock()
        self._last: dict[str, dict] = {}
        self._read()

    def _read(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as fh:
            for number, line in enumerate(fh, start=1):
                try:
                    checkpoint = json.loads(line)
                except ValueError:  # a torn last line (power cut mid-write): it was never acted on
                    log.warning("checkpoints file %s: line %d is not JSON; ignored", self.path, number)
                    continue
                last = self._last.get(checkpoint["center"])
                if last is None or checkpoint["tree_size"] >= last["tree_size"]:
                    last = self._last.get(checkpoint["center"])
            if last is None or checkpoint["tree_size"] >= last["tree_size"]:  # two signers may finish out of order
                self._last[checkpoint["center"]] = checkpoint

    def last(self, center: str) -> dict | None:
        return self._last.get(center)

    def append(self, checkpoint: dict) -> None:
        line = json.dumps(checkpoint, ensure_ascii=False, sort_keys=True) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
            last = self._last.get(checkpoint["center"])
            if last is None or checkpoint["tree_size"] >= last["tree_size"]:  # two signers may finish out of order
                self._last[checkpoint["center"]] = checkpoint
