"""`python -m onestop.dev.rabbit_admin clean` on the real broker: it deletes a test vhost
whose maker is gone, keeps one whose maker runs, asks first, and touches nothing else
(each run narrowed with --prefix to this test's own vhosts: the broker is shared)."""
import subprocess
import sys
import uuid

import requests

from onestop.dev.launcher import ROOT
from onestop.dev.rabbit_admin import AUTH, MGMT, drop_vhost, ensure_vhost, make_vhost, request


def exists(name: str) -> bool:
    return requests.get(f"{MGMT}/api/vhosts/{name}", auth=AUTH, timeout=30).status_code == 200


def clean(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "onestop.dev.rabbit_admin", "clean", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def made_by_a_process_that_ended() -> str:
    done = subprocess.run([sys.executable, "-c", "from onestop.dev.rabbit_admin import make_vhost; "
                                                 "print(make_vhost('onestop-it'))"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip()


def test_a_leftover_is_listed_then_deleted_once_confirmed():
    leftover = made_by_a_process_that_ended()
    try:
        asked = clean("--prefix", leftover)
        assert asked.returncode == 1 and f"delete  {leftover}" in asked.stdout
        assert "pass --yes" in asked.stdout and "Nothing deleted." in asked.stdout and exists(leftover)
        done = clean("--prefix", leftover, "--yes")
        assert done.returncode == 0 and "Deleted 1 test vhost(s)." in done.stdout, done.stdout + done.stderr
        assert not exists(leftover)
    finally:
        drop_vhost(leftover)


def test_a_vhost_in_use_is_kept():
    mine = make_vhost("onestop-it")  # this process made it and still runs
    unlabelled = f"onestop-it-{uuid.uuid4().hex[:8]}"
    request("PUT", f"/api/vhosts/{unlabelled}")  # as a vhost made before labels: kept while connected
    try:
        kept = clean("--prefix", mine, "--yes")
        assert kept.returncode == 0 and f"keep    {mine}" in kept.stdout and "still running" in kept.stdout
        assert "No leftover test vhosts." in kept.stdout and exists(mine)
        assert clean("--prefix", unlabelled, "--yes").returncode == 0 and not exists(unlabelled)
    finally:
        drop_vhost(mine)
        drop_vhost(unlabelled)


def test_nothing_but_a_test_vhost_can_be_chosen():
    refused = clean("--prefix", "onestop-dev", "--yes")
    assert refused.returncode == 2 and "does not start with a test prefix" in refused.stderr


def test_make_runs_vhost_is_made_once_with_permissions():
    name = f"onestop-it-{uuid.uuid4().hex[:8]}"  # a test's name for make run's vhost, so it is ours to drop
    try:
        assert ensure_vhost(name) is True and ensure_vhost(name) is False
        permissions = request("GET", f"/api/vhosts/{name}/permissions").json()
        assert [(p["user"], p["configure"], p["write"], p["read"]) for p in permissions] == [("guest", ".*", ".*", ".*")]
    finally:
        drop_vhost(name)
