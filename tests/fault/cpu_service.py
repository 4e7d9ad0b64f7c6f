"""A subscriber whose handler computes for 10 seconds, for scenario 8.

It stands for the heavy consumers a center may run next to OneStop (reports,
PDF rendering, document checks): for the `BURN_AT`-th dossier of each center in
`BURN_CENTERS` it burns `BURN_S` seconds of CPU through `onestop.offload`, and
records each attempt, so a redelivery (after a heartbeat loss, say) would show
as a second attempt.
"""
from __future__ import annotations

import hashlib
import os
import time

from nameko.extensions import DependencyProvider

from onestop.config import Settings
from onestop.messaging.consumer import reliable_handler
from onestop.offload import offload
from onestop.storage.mongo import database

BURN_S = float(os.environ.get("BURN_S", "10"))
AT = int(os.environ.get("BURN_AT", "100"))
CENTERS = set(os.environ.get("BURN_CENTERS", "hue-vyda,hue-phuxuan").split(","))


def burn(seconds: float, seed: str) -> str:
    """Hash for `seconds` of this thread's CPU time: pure computation."""
    digest, start = seed.encode(), time.thread_time()
    while time.thread_time() - start < seconds:
        for _ in range(1000):
            digest = hashlib.sha256(digest).digest()
    return digest.hex()


class Db(DependencyProvider):
    def setup(self):
        self.db = database(Settings.load(self.container.config), self.container.service_name)

    def get_dependency(self, worker_ctx):
        return self.db


class CpuHeavyService:
    name = "cpuheavy"
    db = Db()

    @reliable_handler(("public", "dossier.received.v1"))
    def on_received(self, event):
        if event["center"] not in CENTERS or int(event["data"]["code"].rsplit("-", 1)[1]) != AT:
            return
        self.db.attempts.insert_one({"event_id": event["id"], "code": event["data"]["code"], "pid": os.getpid()})
        started = time.monotonic()
        digest = offload(burn, BURN_S, event["id"])
        self.db.results.update_one({"_id": event["id"]}, {"$setOnInsert": {
            "digest": digest, "wall_s": time.monotonic() - started}}, upsert=True)
