"""`onestop backup` and `onestop restore`: copies of the embedded store's files (one per service).

    onestop backup [--to var/backups]              a consistent copy of every service's file, taken while the
                                                   platform runs (SQLite's online backup), checked, in
                                                   <to>/<UTC time>/; prints what it wrote
    onestop restore var/backups/20261201T1400Z [--service routing]
                                                   put the copies back, only while no process has the file open

Both act on DATA_DIR (default var/data) and MONGO_DB_PREFIX, as the services do;
with MONGO_URI set the data is MongoDB's, and its own tools (mongodump, a
replica set) do this instead. README "Where the data lives" says when to use which.
"""
from __future__ import annotations

import shutil
import sqlite3
import sys
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

from onestop.config import Settings
from onestop.dev.launcher import SERVICES
from onestop.storage.sqlite import Client


def _files(settings: Settings, wanted: list[str] | None) -> dict[str, str]:
    """service -> database name, for the services asked for (all by default)."""
    return {s: f"{settings.mongo_db_prefix}{s}" for s in (wanted or SERVICES)}


def _checked(path: Path) -> str:
    """SQLite's integrity check of a file: "ok", or what is wrong with it."""
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            return conn.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        return str(exc)


def backup(args) -> int:
    settings = Settings.load(None)
    if settings.mongo_uri:
        print("MONGO_URI is set: the data is in MongoDB; back it up with mongodump or a replica set", file=sys.stderr)
        return 2
    data_dir = Path(settings.data_dir)
    target = Path(args.to) / datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    present = {s: name for s, name in _files(settings, args.service).items()
               if (data_dir / f"{name}.sqlite3").exists()}
    if not present:
        print(f"no store files in {data_dir.resolve()} (DATA_DIR) for {', '.join(args.service or SERVICES)}",
              file=sys.stderr)
        return 1
    target.mkdir(parents=True)
    client = Client(data_dir)
    try:
        for service, name in present.items():
            copy = client[name].backup(target / f"{name}.sqlite3")
            verdict = _checked(copy)
            if verdict != "ok":
                print(f"{service}: the copy {copy} does not check out: {verdict}", file=sys.stderr)
                return 1
            print(f"{service:<13} {copy}  {copy.stat().st_size / 2**20:.1f} MB  integrity ok")
    finally:
        client.close()
    print(f"backup in {target}: copy it to another machine; `onestop restore {target}` puts it back")
    return 0


def in_use(path: Path) -> bool:
    """Whether another connection has this SQLite file open: switching a WAL database out of WAL
    needs it alone, so the switch fails (at once) while a service holds it."""
    if not path.exists():
        return False
    with closing(sqlite3.connect(path, timeout=0)) as conn:
        try:
            mode = conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
        except sqlite3.OperationalError:
            return True
        if mode != "delete":
            return True
        conn.execute("PRAGMA journal_mode=WAL")
    return False


def restore(args) -> int:
    settings = Settings.load(None)
    if settings.mongo_uri:
        print("MONGO_URI is set: the data is in MongoDB; restore it with mongorestore", file=sys.stderr)
        return 2
    source, data_dir = Path(args.source), Path(settings.data_dir)
    wanted = {s: name for s, name in _files(settings, args.service).items()
              if (source / f"{name}.sqlite3").exists()}
    if not wanted:
        print(f"no backup files in {source} for {', '.join(args.service or SERVICES)} "
              f"(prefix {settings.mongo_db_prefix})", file=sys.stderr)
        return 1
    busy = [s for s, name in wanted.items() if in_use(data_dir / f"{name}.sqlite3")]
    if busy:
        print(f"refusing: {', '.join(busy)} still has its file open; stop it first (Ctrl-C `make run`, or "
              "stop that service) and run this again", file=sys.stderr)
        return 1
    for name in wanted.values():  # every copy checked before any file is replaced
        _checked_or_raise(source / f"{name}.sqlite3")
    data_dir.mkdir(parents=True, exist_ok=True)
    for service, name in wanted.items():
        live = data_dir / f"{name}.sqlite3"
        for suffix in ("-wal", "-shm", ""):
            Path(f"{live}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(source / f"{name}.sqlite3", live)
        print(f"{service:<13} {live} restored from {source}")
    print("Start the platform again. Events about dossiers newer than the backup that a restored service no\n"
          "longer knows go to its dead-letter queue (reason unknown_dossier), never to another citizen:\n"
          "see docs/reliability.md, \"A store that lost its past\".")
    return 0


def _checked_or_raise(path: Path) -> None:
    verdict = _checked(path)
    if verdict != "ok":
        raise SystemExit(f"the backup {path} does not check out ({verdict}): nothing was restored")


def add_commands(sub) -> None:
    out = sub.add_parser("backup", help="a consistent copy of the embedded store's files (DATA_DIR)")
    out.add_argument("--to", default="var/backups", help="the directory the copy goes under (default var/backups)")
    out.add_argument("--service", action="append", choices=SERVICES, help="only this service's file (repeat)")
    out.set_defaults(func=backup)
    back = sub.add_parser("restore", help="put a backup's files back into DATA_DIR (the services stopped)")
    back.add_argument("source", help="a directory `onestop backup` wrote")
    back.add_argument("--service", action="append", choices=SERVICES, help="only this service's file (repeat)")
    back.set_defaults(func=restore)
