"""Where the services keep their data: one client per process, one database per service.

With ``MONGO_URI`` the services use MongoDB (pymongo). Without it they use the
embedded store, EMBEDDED_STORE:

- ``sqlite`` (the default): durable, one SQLite file per service under
  ``DATA_DIR`` (onestop/storage/sqlite.py). It lives on this machine only: no
  replication, so back the files up. One calm line says where they are.
- ``memory``: mongomock in the process's heap, for throw-away demos and unit
  tests; **not durable** (all is lost when the process stops) and private to
  each process. A loud warning says so.
"""
from __future__ import annotations

import logging
import os
import sys
import threading

from nameko.extensions import DependencyProvider

from onestop.config import DEFAULTS, Settings

log = logging.getLogger(__name__)
_clients: dict[tuple, object] = {}
_lock = threading.Lock()
EMBEDDED_WARNING = (
    "\n" + "!" * 78 + "\n"
    "!! EMBEDDED_STORE=memory: using the in-memory store (mongomock).\n"
    "!! It is NOT DURABLE: every dossier, assignment and audit entry is lost when\n"
    "!! this process stops. Unset EMBEDDED_STORE for the durable SQLite store, or\n"
    "!! set MONGO_URI=mongodb://... for MongoDB.\n"
    + "!" * 78
)
SQLITE_NOTICE = ("store: embedded SQLite in {path} (one file per service, EMBEDDED_SYNC={sync}; durable on this "
                 "machine only, no replication: back it up; set MONGO_URI for MongoDB)")
STORES = ("sqlite", "memory")


def get_client(mongo_uri: str = "", *, store: str = DEFAULTS["EMBEDDED_STORE"], data_dir: str = DEFAULTS["DATA_DIR"],
               sync: str = DEFAULTS["EMBEDDED_SYNC"]):
    """The process-wide client: MongoDB for a URI, else the embedded `store`
    (the SQLite one keyed by its data directory and sync mode)."""
    if not mongo_uri and store not in STORES:
        raise ValueError(f"EMBEDDED_STORE must be one of {', '.join(STORES)}; got {store!r}")
    key = (mongo_uri,) if mongo_uri else ("sqlite", os.path.abspath(data_dir), sync) if store == "sqlite" \
        else ("memory",)
    with _lock:
        if key not in _clients:
            _clients[key] = _connect(mongo_uri, store, data_dir, sync)
        return _clients[key]


def _connect(mongo_uri: str, store: str, data_dir: str, sync: str):
    if mongo_uri:
        import pymongo
        return pymongo.MongoClient(mongo_uri, serverSelectionTimeoutMS=5000, tz_aware=True, connect=False)
    if store == "sqlite":
        from onestop.storage.sqlite import Client
        client = Client(data_dir, sync)
        _say(SQLITE_NOTICE.format(path=client.data_dir, sync=sync))
        return client
    import mongomock

    from onestop.storage.embedded import install
    install()
    print(EMBEDDED_WARNING, file=sys.stderr, flush=True)
    log.warning("EMBEDDED_STORE=memory: in-memory, non-durable store in use")
    return mongomock.MongoClient(tz_aware=True)


def _say(line: str) -> None:
    """One calm line: an INFO record where logging is set up (a service's JSON log), else on stderr."""
    if logging.getLogger().hasHandlers():
        log.info(line)
    else:
        print(line, file=sys.stderr, flush=True)


def client_for(settings: Settings):
    return get_client(settings.mongo_uri, store=settings.embedded_store, data_dir=settings.data_dir,
                      sync=settings.embedded_sync)


def database(settings: Settings, service: str):
    return client_for(settings)[f"{settings.mongo_db_prefix}{service}"]


def ping(db) -> bool:
    try:
        db.command("ping")
        return True
    except Exception:  # any failure means "not healthy"; the reason is logged
        log.exception("store ping failed")
        return False


class MongoStore(DependencyProvider):
    """Injects a service's repository, built by ``factory(db)``, into workers.

    The repository's ``ensure_indexes()`` runs once at start-up.
    """

    def __init__(self, factory, **kwargs):
        self.factory = factory
        super().__init__(**kwargs)

    def setup(self):
        settings = Settings.load(self.container.config)
        self.db = database(settings, self.container.service_name)
        self.repository = self.factory(self.db)
        self.repository.ensure_indexes()

    def get_dependency(self, worker_ctx):
        return self.repository
