"""A year of a ward's dossiers in the durable store: what start-up and memory cost at that size.

A ward's center receives about 100,000 dossiers a year (issue 14). Sending that
many through the pipeline would take the benchmark half an hour, so `seed`
fills each service's SQLite file the way the pipeline would have left it:

1. a few real dossiers go through the running platform (so every document has
   the shape and size the services write today);
2. each service's documents of those dossiers are copied until there are `n`
   dossiers, each copy with a fresh code and fresh event ids (and, for a
   document keyed by something else, such as notification's per-address log,
   a fresh key), written through the store's own API;
3. audit's entries are not copied: each copy's events are appended to its
   center's chain the way the audit service does (AuditRepository.append), so
   the chains are whole and `onestop audit verify` holds on the seeded store.

`run` then starts the platform on the seeded files and measures what an operator
would notice: seconds from each service's start until its /healthz answers 200,
each process's RSS after start and at its peak under 30 dossiers/s, and the size
of each file on disk.
"""
from __future__ import annotations

import re
import time
import uuid
from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path

import psutil
import requests

from bench.pipeline import Pipeline
from onestop.dev.launcher import SERVICES, TOOLS
from onestop.storage.sqlite import Client
from services.audit.store import AuditRepository

COPIED = {"intake": ("dossiers",), "routing": ("assignments",),
          "notification": ("contacts", "deliveries", "recipient_sends")}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
CODE = re.compile(r"^([A-Z]+)-(\d{6})-(\d{4})$")
FIRST_DAY = date(2025, 12, 1)  # the copies' codes: days from here on, 400 codes a day (all centers together)
PER_DAY = 400


class Copier:
    """Fresh identities for one copy of a dossier's documents: its code, and every event id in them."""

    def __init__(self, template_code: str, serial: int):
        prefix = CODE.match(template_code).group(1)
        day = FIRST_DAY + timedelta(days=serial // PER_DAY)
        self.old, self.new = template_code, f"{prefix}-{day:%y%m%d}-{serial % PER_DAY + 1:04d}"
        self.serial, self.ids = serial, {}

    def _text(self, text: str) -> str:
        text = text.replace(self.old, self.new)
        return UUID.sub(lambda m: self.ids.setdefault(m.group(), str(uuid.uuid4())), text)

    def value(self, value):
        if isinstance(value, str):
            return self._text(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value

    def document(self, doc: dict) -> dict:
        out = self.value(doc)
        if out["_id"] == doc["_id"]:  # keyed by something that is not the dossier's (an address hash)
            out["_id"] = f"{doc['_id']}:{self.serial}"
        if out.get("idempotency_key"):  # unique, and chosen by the client, not derived from the code
            out["idempotency_key"] = f"{doc['idempotency_key']}:{self.serial}"
        return out


def _templates(db, codes: set) -> dict:
    """{collection: [(template code, document)]} of the documents that name one of these codes."""
    out = {}
    for name in COPIED.get(db.name.rsplit("_", 1)[-1], ()):
        found = []
        for doc in db[name].find({}):
            text = repr(doc)
            code = next((c for c in codes if c in text), None)
            if code is not None:
                found.append((code, doc))
            elif name == "recipient_sends":  # per address: one per citizen, like the dossiers
                found.append((None, doc))
        out[name] = found
    return out


def seed(data_dir: Path, prefix: str, template_codes: list[str], n: int) -> dict:
    """Copy the templates' documents until each service holds `n` dossiers; returns seconds per service."""
    client = Client(data_dir, sync="normal")  # seeding only: the service itself runs with EMBEDDED_SYNC=full
    codes, took = set(template_codes), {}
    copies = [(template_codes[i % len(template_codes)], i) for i in range(n - len(template_codes))]
    for service in ("intake", "routing", "notification"):
        started, db = time.monotonic(), client[f"{prefix}{service}"]
        for name, found in _templates(db, codes).items():
            by_code = {}
            for code, doc in found:
                by_code.setdefault(code, []).append(doc)
            keyless, share = by_code.pop(None, []), len(template_codes)
            for code, serial in copies:
                copier = Copier(code, serial)
                # a dossier's own documents, and its share of those keyed otherwise (about its two addresses)
                mine = by_code.get(code, []) + [d for j, d in enumerate(keyless) if j % share == serial % share]
                for doc in mine:
                    db[name].insert_one(copier.document(doc))
        took[service] = round(time.monotonic() - started, 1)
    started, db = time.monotonic(), client[f"{prefix}audit"]
    audit = AuditRepository(db)
    journeys = {code: list(db["entries"].find({"subject": code}).sort("seq", 1)) for code in codes}
    for code, serial in copies:
        copier = Copier(code, serial)
        for entry in journeys[code]:
            audit.append(copier.value(entry["event"]), entry["recorded_at"])
    took["audit"] = round(time.monotonic() - started, 1)
    client.close()
    return took


def _rss_mb(procs: dict) -> dict:
    out = {}
    for name, proc in procs.items():
        try:
            out[name] = round(psutil.Process(proc.pid).memory_info().rss / 2**20, 1)
        except psutil.Error:
            out[name] = None
    return out


def run(amqp_uri: str, log_dir: Path, n: int, phase_s: float) -> dict:
    """Seed `n` dossiers, then start the platform on them and take 30 dossiers/s for `phase_s` seconds."""
    data_dir, prefix = log_dir / "data", "stored_"
    env = {"DATA_DIR": str(data_dir), "MONGO_DB_PREFIX": prefix}
    with Pipeline(amqp_uri, log_dir / "templates", env=env) as pipe:  # the templates: real dossiers
        phase = pipe.phase("templates", 10, 4, drain_timeout=60)
        template_codes = [a.code for a in pipe.last_accepted]
    print(f"  {phase.accepted} template dossiers; seeding {n:,}", flush=True)
    seeded_s = seed(data_dir, prefix, template_codes, n)
    print(f"  seeded in {seeded_s} s", flush=True)
    sizes = {s: round(sum(p.stat().st_size for p in data_dir.glob(f"{prefix}{s}.sqlite3*")) / 2**20, 1)
             for s in SERVICES if s not in TOOLS}
    with Pipeline(amqp_uri, log_dir / "stored", env=env) as pipe:
        startup = {s: pipe.platform.healthy_after.get(s) for s in SERVICES if s not in TOOLS}
        rss_start = _rss_mb(pipe.services())
        load = pipe.phase("30/s with the year stored", 30, phase_s)
        print(load.line(), flush=True)
        verdict = requests.get(f"http://127.0.0.1:{pipe.ports.audit}/api/v1/audit/verify",
                             headers=pipe.audit_headers, timeout=600).json()
    return {"dossiers": n, "templates": len(template_codes), "seed_s": seeded_s, "file_mb": sizes,
            "startup_s": startup, "rss_after_start_mb": rss_start, "phase": asdict(load),
            "audit_verify": {"ok": verdict.get("ok"),
                             "entries": sum(c.get("entries", 0) for c in verdict.get("centers", []))}}
