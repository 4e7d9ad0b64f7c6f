"""The audit log's signing keys: a file of Ed25519 seeds, kept apart from the database.

Whoever can write the database must not be able to sign for it, so the keys
live in their own file (``AUDIT_KEYS_FILE``, mode 0600; in docker-compose a
volume of its own). The file is read again at every checkpoint, so a rotation
needs no restart:

- ``python -m services.audit.keys rotate`` adds a new active key. While two keys are
  active, each checkpoint carries both signatures, so a verifier that knows
  either key accepts it; publish the new verifier key (``GET
  /api/v1/audit/keys``, docs/audit.md), then
- ``python -m services.audit.keys retire <key>`` stops signing with the old one. A
  retired key stays listed: old checkpoints still verify with it.

    {"keys": [{"public": "<base64>", "seed": "<base64>", "created": "...", "status": "active"}]}

Run where audit runs (the file is on its machine, or its container's volume)::

    python -m services.audit.keys list                  the verifier keys to publish, per center's log
    python -m services.audit.keys init                  create AUDIT_KEYS_FILE (audit's first start does it too)
    python -m services.audit.keys rotate                add a key: checkpoints carry both signatures until ...
    python -m services.audit.keys retire <public key>   ... the old one is retired (it still verifies old ones)
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from services.audit.notes import SigningKey, Verifier

ACTIVE, RETIRED = "active", "retired"


class KeyFileError(RuntimeError):
    """The keys file is missing, unreadable, or has no active key (audit does not sign)."""


@dataclass(frozen=True)
class KeyEntry:
    key: SigningKey
    created: str
    status: str

    @property
    def public(self) -> str:
        return base64.b64encode(self.key.public).decode()

    def to_json(self) -> dict:
        return {"public": self.public, "seed": base64.b64encode(self.key.seed).decode(),
                "created": self.created, "status": self.status}


class KeyRing:
    """The keys of one file: the active ones sign, every one verifies."""

    def __init__(self, entries: list[KeyEntry]):
        self.entries = entries

    @property
    def active(self) -> list[SigningKey]:
        return [e.key for e in self.entries if e.status == ACTIVE]

    def verifiers(self, name: str) -> list[Verifier]:
        return [e.key.verifier(name) for e in self.entries]

    def listing(self, origins: dict[str, str]) -> list[dict]:
        """Each key's verifier key for each center's log: {"center", "origin", "vkey", "key_id", "public",
        "status", "created"}."""
        return [{"center": center, "origin": origin, "vkey": e.key.verifier(origin).vkey, "public": e.public,
                 "key_id": e.key.verifier(origin).id.hex(), "status": e.status, "created": e.created}
                for center, origin in origins.items() for e in self.entries]

    def find(self, public: str) -> KeyEntry:
        """A key by its base64 public key, or a unique prefix of it."""
        found = [e for e in self.entries if e.public.startswith(public)]
        if not found:
            raise KeyFileError(f"no key's public key starts with {public!r}; `list` shows them")
        if len(found) > 1:
            raise KeyFileError(f"{len(found)} keys start with {public!r}; give more of the public key")
        return found[0]


def load(path: str | Path) -> KeyRing:
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
        entries = [KeyEntry(SigningKey(base64.b64decode(k["seed"])), k["created"], k["status"]) for k in raw["keys"]]
    except FileNotFoundError:
        raise KeyFileError(f"no audit signing keys at {path}: create them with `python -m services.audit.keys init` "
                           "(or let the first start of audit do it)") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise KeyFileError(f"the audit keys file {path} is not readable: {exc}") from None
    ring = KeyRing(entries)
    if not ring.active:
        raise KeyFileError(f"the audit keys file {path} has no active key: rotate one in")
    return ring


def save(path: str | Path, ring: KeyRing) -> None:
    """Write the file whole (a temporary file renamed over it), readable by its owner only."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"keys": [e.to_json() for e in ring.entries]}, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def init(path: str | Path, now: str) -> KeyRing:
    """A new file with one active key; refuses to replace an existing one."""
    if Path(path).exists():
        raise KeyFileError(f"{path} exists already: `python -m services.audit.keys rotate` adds a key")
    ring = KeyRing([KeyEntry(SigningKey.generate(), now, ACTIVE)])
    save(path, ring)
    return ring


def rotate(path: str | Path, now: str) -> KeyEntry:
    ring = load(path)
    entry = KeyEntry(SigningKey.generate(), now, ACTIVE)
    save(path, KeyRing([*ring.entries, entry]))
    return entry


def retire(path: str | Path, public: str) -> KeyEntry:
    ring = load(path)
    entry = ring.find(public)
    if entry.status == ACTIVE and len(ring.active) == 1:
        raise KeyFileError("that is the only active key: rotate a new one in before retiring it")
    retired = KeyEntry(entry.key, entry.created, RETIRED)
    save(path, KeyRing([retired if e is entry else e for e in ring.entries]))
    return retired


def main(argv=None) -> int:
    from onestop.catalog import load_catalog
    from onestop.config import Settings
    from onestop.timestamps import iso, utcnow

    parser = argparse.ArgumentParser(prog="python -m services.audit.keys", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("list", "init", "rotate"):
        sub.add_parser(name)
    sub.add_parser("retire").add_argument("public", help="the key's base64 public key (or its start), as `list` shows")
    args = parser.parse_args(argv)
    settings = Settings.load(None)
    path, now = settings.audit_keys_file, iso(utcnow())
    try:
        if args.command == "init":
            init(path, now)
            print(f"created {path} (mode 0600; keep it out of the database and its backups)")
        elif args.command == "rotate":
            entry = rotate(path, now)
            print(f"added {entry.public}: checkpoints now carry two signatures; publish its verifier keys "
                  "(below), then retire the old key")
        elif args.command == "retire":
            entry = retire(path, args.public)
            print(f"retired {entry.public}: it no longer signs, and still verifies what it signed")
        ring = load(path)
    except KeyFileError as exc:
        print(exc, file=sys.stderr)
        return 1
    origins = {c: f"{settings.audit_origin}/{c}" for c in sorted(load_catalog().centers)}
    for key in ring.listing(origins):
        print(f"{key['status']:<8} {key['public'][:12]}  {key['center']:<16} {key['vkey']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
