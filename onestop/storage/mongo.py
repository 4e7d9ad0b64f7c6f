"""MongoDB access for every service: one client per process, one database per service.

Without ``MONGO_URI`` the services use an embedded in-memory store (mongomock):
good for a demo and for tests, but **not durable** — everything is gone when the
process stops — and each process has its own. A loud warning says so.
"""
from __future__ import annotations

import logging
import sys
import threading

from nameko.extensions import DependencyProvider

from onestop.config import Settings

log = logging.getLogger(__name__)
_clients: dict[str, object] = {}
_lock = threading.Lock()
EMBEDDED_WARNING = (
    "\n" + "!" * 78 + "\n"
    "!! MONGO_URI is not set: using the EMBEDDED in-memory store (mongomock).\n"
    "!! It is NOT DURABLE: every dossier, assignment and audit entry is lost when\n"
    "!! this process stops. Set MONGO_URI=mongodb://... for anything but a demo.\n"
    + "!" * 78
)


def get_client(mongo_uri: str):
    """The process-wide client for a URI ('' = the embedded store)."""
    with _lock:
        if mongo_uri not in _clients:
            if mongo_uri:
                import pymongo
                _clients[mongo_uri] = pymongo.MongoClient(
                    mongo_uri, serverSelectionTimeoutMS=5000, tz_aware=True, connect=False)
            else:
                import mongomock

                from onestop.storage.embedded import install
                install()
                print(EMBEDDED_WARNING, file=sys.stderr, flush=True)
                log.warning("MONGO_URI not set: embedded, non-durable store in use")
                _clients[mongo_uri] = mongomock.MongoClient(tz_aware=True)
        return _clients[mongo_uri]


def database(settings: Settings, service: str):
    return get_client(settings.mongo_uri)[f"{settings.mongo_db_prefix}{service}"]


def ping(db) -> bool:
    try:
        db.command("ping")
        return True
    except Exception:  # any failure means "not healthy"; the reason is logged
        log.exception("MongoDB ping failed")
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
