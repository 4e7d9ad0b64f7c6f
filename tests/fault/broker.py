"""Do things to the fault suite's own RabbitMQ node (tests/fault/node.py) that
the scenarios need: stop and start its app, kill and reboot the node, raise
and clear resource alarms, list its connections.

Every operation acts on that node only: `rabbitmqctl -n <its name>`, its
management URL, the pid it wrote. Readiness is polled through the management
API, never with a loop of CLI calls.
"""
from __future__ import annotations

import subprocess
import time

import requests
from kombu import Connection

from tests.fault.node import AUTH, DISK_FREE_LIMIT, MEMORY_WATERMARK, Node


class Broker:
    """The scenarios' handle on the node: `broker.stop_app()`, `broker.alarms()`, ..."""

    def __init__(self, node: Node):
        self.private = node

    def ctl(self, *args: str, timeout: float = 90) -> str:
        return self.private.ctl(*args, timeout=timeout)

    def node(self) -> dict:
        nodes = requests.get(f"{self.private.mgmt}/api/nodes", auth=AUTH, timeout=5).json()
        return nodes[0]

    def alarms(self) -> dict:
        info = self.node()
        return {"memory": bool(info.get("mem_alarm")), "disk": bool(info.get("disk_free_alarm"))}

    def wait_up(self, amqp_uri: str, timeout: float = 120) -> float:
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.private.mgmt_ok() and amqp_ok(amqp_uri):
                return time.monotonic() - start
            time.sleep(0.5)
        raise AssertionError(f"RabbitMQ did not come back within {timeout}s")

    def stop_app(self) -> None:
        self.ctl("stop_app")

    def start_app(self) -> None:
        self.ctl("start_app")

    def kill_node(self) -> None:
        """SIGKILL the node's Erlang VM: no clean shutdown, as a crashed host would."""
        self.private.kill()

    def boot_node(self) -> None:
        self.private.boot()

    def memory_alarm(self, on: bool) -> None:
        self.ctl("set_vm_memory_high_watermark", "0.0000001" if on else MEMORY_WATERMARK)

    def disk_alarm(self, on: bool) -> None:
        # A limit far above any free space raises the alarm at the next disk check.
        self.ctl("set_disk_free_limit", "100000GB" if on else DISK_FREE_LIMIT)

    def wait_alarm(self, kind: str, on: bool, timeout: float = 60) -> float:
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            try:
                if self.alarms()[kind] == on:
                    return time.monotonic() - start
            except (requests.RequestException, ValueError, IndexError):
                pass
            time.sleep(0.25)
        raise AssertionError(f"the {kind} alarm did not turn {'on' if on else 'off'} within {timeout}s")

    def connections(self, vhost: str) -> dict:
        """name -> (connected_at, client pid), for the vhost's client connections."""
        rows = requests.get(f"{self.private.mgmt}/api/vhosts/{vhost}/connections", auth=AUTH, timeout=10).json()
        return {row["name"]: (row.get("connected_at"), _pid_of_port(row.get("peer_port"))) for row in rows}


def amqp_ok(amqp_uri: str) -> bool:
    try:
        with Connection(amqp_uri, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            conn.default_channel  # noqa: B018  (the vhost really answers)
        return True
    except Exception:
        return False


def _pid_of_port(port) -> int | None:
    """Which local process holds this client port (to name a lost connection's owner)."""
    out = subprocess.run(["ss", "-tnpH", f"sport = :{port}"], capture_output=True, text=True).stdout
    marker = "pid="
    return int(out.split(marker, 1)[1].split(",", 1)[0]) if marker in out else None
