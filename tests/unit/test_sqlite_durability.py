"""The SQLite store keeps what it said it wrote: through a SIGKILL at any moment,
under two processes writing one counter, across a restart (its indexes known
before ensure_indexes runs again), and in bounded memory as the data grows.

Real processes, a real SIGKILL, real files in a temporary directory."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from onestop.storage.sqlite import Client

ROOT = Path(__file__).resolve().parents[2]
# The child writes, and reports each write on stdout only once the call has returned.
WRITER = """
import sys
from onestop.storage.sqlite import Client
coll = Client(sys.argv[1])["onestop_intake"]["dossiers"]
coll.create_index("key", unique=True)
for i in range(10 ** 6):
    if i % 2 == 0:
        coll.insert_one({"_id": i, "key": f"k{i}", "payload": "x" * 300})
    else:
        coll.update_one({"_id": "counter"}, {"$inc": {"n": 1}, "$push": {"seen": i}}, upsert=True)
    print(i, flush=True)
"""
# Takes codes from intake's own repository once told to go (both processes at once).
COUNTER = """
import sys
from datetime import date
from onestop.storage.sqlite import Client
from services.intake.store import IntakeRepository
repo = IntakeRepository(Client(sys.argv[1])["onestop_intake"])
print("ready", flush=True)
sys.stdin.readline()
print(" ".join(str(repo.next_sequence("hue-vyda", date(2026, 3, 2))) for _ in range(int(sys.argv[2]))), flush=True)
"""


def child(script: str, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", script, *map(str, args)], cwd=ROOT, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)


def test_after_a_sigkill_exactly_the_returned_writes_are_there(tmp_path):
    rng = random.Random(14)
    for run in range(3):
        data = tmp_path / f"run{run}"
        proc = child(WRITER, data)
        reported = [int(proc.stdout.readline())]  # it is writing
        try:
            proc.wait(rng.uniform(0.05, 0.5))
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        reported += [int(line) for line in proc.stdout.read().split()]
        assert proc.returncode == -signal.SIGKILL and len(reported) > 10
        coll = Client(data)["onestop_intake"]["dossiers"]
        # the write after the last report may be there too: killed after its commit, before its report
        in_flight = reported[-1] + 1
        inserts = {i for i in reported if i % 2 == 0}
        allowed = [inserts, inserts | {in_flight}] if in_flight % 2 == 0 else [inserts]
        assert {d["_id"] for d in coll.find({"_id": {"$ne": "counter"}}, {"_id": 1})} in allowed, run
        counter = coll.find_one({"_id": "counter"})
        updates = [i for i in reported if i % 2]
        allowed = [updates, updates + [in_flight]] if in_flight % 2 else [updates]
        assert counter["seen"] in allowed and counter["n"] == len(counter["seen"]), run
        with coll.database._reading() as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_two_processes_taking_codes_never_get_the_same_one(tmp_path):
    each = 400
    procs = [child(COUNTER, tmp_path, each) for _ in range(2)]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready"
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    taken = [list(map(int, proc.communicate(timeout=120)[0].split())) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs)
    assert sorted(taken[0] + taken[1]) == list(range(1, 2 * each + 1))  # every value exactly once
    assert all(values == sorted(values) for values in taken)


def test_an_index_made_before_a_restart_is_used_after_it(tmp_path):
    now = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    first = Client(tmp_path)
    cases = first["onestop_routing"]["assignments"]
    cases.create_index("next_timer_at", sparse=True)
    for i in range(50):
        cases.insert_one({"_id": f"VYDA-{i:04d}", "next_timer_at": now + timedelta(minutes=i - 10)})
    first.close()
    cases = Client(tmp_path)["onestop_routing"]["assignments"]  # restarted; ensure_indexes has not run
    cases.insert_one({"_id": "VYDA-0100", "next_timer_at": now - timedelta(days=1)})  # its column is filled
    due = cases.find({"next_timer_at": {"$lte": now}}, {"_id": 1})
    plan = due.explain()
    assert plan["exact"] and any("USING INDEX" in step and "next_timer_at" in step for step in plan["plan"]), plan
    assert [d["_id"] for d in due] == [f"VYDA-{i:04d}" for i in range(11)] + ["VYDA-0100"]


def test_an_index_another_process_makes_is_filled_by_this_ones_writes(tmp_path):
    """Two clients, as two processes would be: separate connections and caches."""
    here, there = Client(tmp_path)["onestop_audit"]["entries"], Client(tmp_path)["onestop_audit"]["entries"]
    here.insert_one({"_id": 1, "subject": "VYDA-1"})
    there.create_index("subject")
    here.insert_one({"_id": 2, "subject": "VYDA-1"})  # this client learns of the new column before it writes
    query = there.find({"subject": "VYDA-1"})
    assert query.explain()["exact"] and [d["_id"] for d in query] == [1, 2]


def _rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


MEMORY_BOUND = 40 * 2 ** 20  # measured: ~3 MB (SQLite's page cache, per connection, 2 MB at most)


def test_memory_stays_bounded_as_the_data_grows_and_an_indexed_query_uses_its_index(tmp_path):
    entries = Client(tmp_path, sync="normal")["onestop_audit"]["entries"]  # durability is not the point here
    entries.create_index([("subject", 1), ("seq", 1)])
    before = _rss()
    for seq in range(100_000):
        entries.insert_one({"_id": f"hue-vyda:{seq:012d}", "seq": seq, "subject": f"VYDA-{seq // 5:06d}",
                            "type": "dossier.received.v1", "hash": "%064x" % seq})
    grown = _rss() - before
    assert grown < MEMORY_BOUND, f"RSS grew by {grown / 2 ** 20:.1f} MB over 100,000 documents"
    timeline = entries.find({"subject": "VYDA-004321"}, {"_id": 0, "seq": 1}).sort("seq", 1)
    plan = timeline.explain()
    assert plan["exact"] and plan["sorted_in_sql"] and any("USING INDEX" in s for s in plan["plan"]), plan
    assert "TEMP B-TREE" not in " ".join(plan["plan"])  # the index gives the order too
    assert [d["seq"] for d in timeline] == list(range(21605, 21610))
    assert entries.count_documents({}) == 100_000


def test_as_the_data_grows_the_planner_learns_which_index_narrows_most(tmp_path):
    """Routing's due timers: every case is of one center, few are due; the timers' index
    must win over the center's (statistics refreshed as writes accumulate)."""
    now = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    cases = Client(tmp_path, sync="normal")["onestop_routing"]["assignments"]
    cases.create_index([("center", 1), ("received_at", 1)])
    cases.create_index("next_timer_at", sparse=True)
    for i in range(3000):
        cases.insert_one({"_id": f"VYDA-{i:05d}", "center": "hue-vyda", "received_at": now - timedelta(minutes=i),
                          "next_timer_at": now + timedelta(minutes=i - 5)})
    due = cases.find({"next_timer_at": {"$lte": now}, "center": {"$in": ["hue-vyda"]}}).limit(200)
    plan = due.explain()["plan"]
    assert any("next_timer_at" in step for step in plan), plan
    assert len(list(due)) == 6


def test_the_relays_pending_query_stays_on_its_index_as_cleared_documents_pile_up(tmp_path):
    """The outbox flag has two values, and a query for `true` also asks for 1 (the matcher's
    equality): told to keep natural order, the planner once scanned the whole table in rowid
    order at every drain, a cost that grew with every dossier ever taken in."""
    dossiers = Client(tmp_path, sync="normal")["onestop_intake"]["dossiers"]
    dossiers.create_index("outbox_pending", sparse=True)
    for i in range(3000):
        dossiers.insert_one({"_id": f"VYDA-{i:05d}", "outbox": [], "outbox_pending": False})
    dossiers.update_one({"_id": "VYDA-02999"}, {"$set": {"outbox": [{"id": "e"}], "outbox_pending": True}})
    pending = dossiers.find({"outbox_pending": True}, {"outbox": 1}).limit(200)
    plan = pending.explain()["plan"]
    assert any("outbox_pending" in step for step in plan) and not any(step.startswith("SCAN") for step in plan), plan
    assert [d["_id"] for d in pending] == ["VYDA-02999"]
