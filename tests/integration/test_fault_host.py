"""The fault suite's service processes: a crash is a real SIGKILL, and a restart is the
first start again (the launcher's command line, the same environment, so the same store)."""
import os
import signal
from pathlib import Path

import requests

from onestop.dev.launcher import Platform
from onestop.dev.rabbit_admin import MGMT
from tests.fault.cluster import Cluster, HostProcess, Restarter
from tests.support.wait import until


def identity(pid: int) -> tuple[list[str], dict]:
    """A process's command line and environment, as the kernel has them."""
    proc = Path(f"/proc/{pid}")
    argv = proc.joinpath("cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    env = dict(item.split(b"=", 1) for item in proc.joinpath("environ").read_bytes().rstrip(b"\0").split(b"\0"))
    return [a.decode() for a in argv], {k.decode(): v.decode() for k, v in env.items()}


def test_a_killed_service_starts_again_as_it_first_started(amqp_uri, sinks, tmp_path):
    cluster = Cluster(amqp_uri, sinks, tmp_path, MGMT, data_dir=tmp_path / "data")
    host = HostProcess("intake", "intake", cluster.base_env(), tmp_path).spawn()
    try:
        first = identity(host.proc.pid)
        assert first[0][4:] == Platform(sinks=False).commands()["intake"][0][1:]  # `run --config ... services.intake...`
        assert first[1]["DATA_DIR"] == str(tmp_path / "data")
        host.crash()
        assert host.exits == [-signal.SIGKILL]
        host.restart()
        assert identity(host.proc.pid) == first
        assert requests.get(f"{host.url}/healthz", timeout=10).status_code == 200

        Restarter(host).start()  # as the launcher's supervisor: whatever kills it, it comes back
        killed = host.proc.pid
        os.kill(killed, signal.SIGKILL)
        until(lambda: host.proc.pid != killed and host._alive(), 60, 0.2, "intake started again")
        assert host.exits == [-signal.SIGKILL, -signal.SIGKILL] and identity(host.proc.pid) == first
    finally:
        if host.restarter:
            host.restarter.stop()
        host.terminate()
