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


BLOCK = 64 * 1024
AFTER_THE_LAST = 100  # lines read on once every center is found: two signers may finish out of order


def lines_backwards(path: Path):
    """The file's lines, last first, read a block at a time from its end."""
    with path.open("rb") as fh:
        fh.seek(0, 2)
        position, rest = fh.tell(), b""
        while position > 0:
            step = min(BLOCK, position)
            position -= step
            fh.seek(position)
            lines = (fh.read(step) + rest).split(b"\n")
            rest = lines.pop(0)  # maybe the end of a line that starts in the block before
            yield from (line for line in reversed(lines) if line.strip())
        if rest.strip():
            yield rest


class Ledger:
    """The file, and the last checkpoint of each center in it. At start only its end is read
    until every one of `centers` is found (a year of checkpoints is hundreds of MB)."""

    def __init__(self, path: str | Path, centers=None):
        self.path = Path(path)
        self._lock = Lock()
        self._last: dict[str, dict] = {}
        self._read(set(centers) if centers else None)
        self._torn = self._ends_mid_line()

    def _ends_mid_line(self) -> bool:
        """A write cut by a power loss left a line without its end: the next one starts afresh."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return False
        with self.path.open("rb") as fh:
            fh.seek(-1, 2)
            return fh.read(1) != b"\n"

    def _read(self, wanted: set | None) -> None:
        if not self.path.exists():
            return
        beyond = None
        for line in lines_backwards(self.path):
            try:
                checkpoint = json.loads(line)
            except ValueError:  # a torn last line (power cut mid-write): it was never acted on
                log.warning("checkpoints file %s: a line is not JSON; ignored: %.80r", self.path, line)
                continue
            last = self._last.get(checkpoint["center"])
            if last is None or checkpoint["tree_size"] > last["tree_size"]:
                self._last[checkpoint["center"]] = checkpoint
            if beyond is None and wanted is not None and wanted <= self._last.keys():
                beyond = AFTER_THE_LAST
            if beyond is not None:
                beyond -= 1
                if beyond < 0:
                    return

    def last(self, center: str) -> dict | None:
        return self._last.get(center)

    def append(self, checkpoint: dict) -> None:
        line = json.dumps(checkpoint, ensure_ascii=False, sort_keys=True) + "\n"
        with self._lock:
            if self._torn:
                line, self._torn = "\n" + line, False
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
            last = self._last.get(checkpoint["center"])
            if last is None or checkpoint["tree_size"] >= last["tree_size"]:  # two signers may finish out of order
                self._last[checkpoint["center"]] = checkpoint
