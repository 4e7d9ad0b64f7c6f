"""Do things to the local RabbitMQ node that the fault suite needs: stop and
start its app, kill and reboot the node, raise and clear resource alarms.

Each `rabbitmqctl` call is a single subprocess with a timeout (never a loop of
them: an interrupted CLI leaves Erlang processes behind). Readiness is polled
through the management API instead.
"""
from __future__ import annotations

import subprocess
import time

import requests
from kombu import Connection

from tests.conftest import MGMT

AUTH = ("guest", "guest")
DEFAULT_WATERMARK = "0.4"       # RabbitMQ's defaults, restored after an alarm
DEFAULT_DISK_LIMIT = "50MB"


def ctl(*args: str, timeout: float = 90) -> str:
    done = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def node() -> dict:
    nodes = requests.get(f"{MGMT}/api/nodes", auth=AUTH, timeout=5).json()
    return nodes[0]


def alarms() -> dict:
    info = node()
    return {"memory": bool(info.get("mem_alarm")), "disk": bool(info.get("disk_free_alarm"))}


def amqp_ok(amqp_uri: str) -> bool:
    try:
        with Connection(amqp_uri, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            conn.default_channel  # noqa: B018  (the vhost really answers)
        return True
    except Exception:
        return False


def mgmt_ok() -> bool:
    try:
        return requests.get(f"{MGMT}/api/overview", auth=AUTH, timeout=3).status_code == 200
    except requests.RequestException:
        return False


def wait_up(amqp_uri: str, timeout: float = 120) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if mgmt_ok() and amqp_ok(amqp_uri):
            return time.monotonic() - start
        time.sleep(0.5)
    raise AssertionError(f"RabbitMQ did not come back within {timeout}s")


def stop_app() -> None:
    ctl("stop_app")


def start_app() -> None:
    ctl("start_app")


def kill_node() -> None:
    """SIGKILL the node's Erlang VM: no clean shutdown, as a crashed host would."""
    subprocess.run(["pkill", "-9", "-f", "beam.smp"], check=False)
    for _ in range(50):
        if subprocess.run(["pgrep", "-f", "beam.smp"], capture_output=True).returncode != 0:
            return
        time.sleep(0.1)
    raise AssertionError("the RabbitMQ node survived SIGKILL")


def boot_node() -> None:
    subprocess.Popen(["rabbitmq-server", "-detached"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def memory_alarm(on: bool) -> None:
    ctl("set_vm_memory_high_watermark", "0.0000001" if on else DEFAULT_WATERMARK)


def disk_alarm(on: bool) -> None:
    # A limit far above any free space raises the alarm at the next disk check.
    ctl("set_disk_free_limit", "100000GB" if on else DEFAULT_DISK_LIMIT)


def wait_alarm(kind: str, on: bool, timeout: float = 60) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            if alarms()[kind] == on:
                return time.monotonic() - start
        except (requests.RequestException, ValueError, IndexError):
            pass
        time.sleep(0.25)
    raise AssertionError(f"the {kind} alarm did not turn {'on' if on else 'off'} within {timeout}s")


def connections(vhost: str) -> dict:
    """name -> (connected_at, client pid), for the vhost's client connections."""
    rows = requests.get(f"{MGMT}/api/vhosts/{vhost}/connections", auth=AUTH, timeout=10).json()
    return {row["name"]: (row.get("connected_at"), _pid_of_port(row.get("peer_port"))) for row in rows}


def _pid_of_port(port) -> int | None:
    """Which local process holds this client port (to name a lost connection's owner)."""
    out = subprocess.run(["ss", "-tnpH", f"sport = :{port}"], capture_output=True, text=True).stdout
    marker = "pid="
    return int(out.split(marker, 1)[1].split(",", 1)[0]) if marker in out else None
