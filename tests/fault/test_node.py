"""The fault suite's own RabbitMQ node: a SIGKILL and a boot keep its durable
data, it is never the machine's shared node, and a node left behind by a
killed run is stopped by the next one."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from kombu import Connection, Exchange, Queue

from tests.fault.node import AUTH, reap_leftovers

pytestmark = pytest.mark.fault
ROOT = Path(__file__).resolve().parents[2]
SHARED_MGMT = os.environ.get("TEST_RABBIT_MGMT", "http://127.0.0.1:15672")


def _shared_node() -> dict | None:
    try:
        node = requests.get(f"{SHARED_MGMT}/api/nodes", auth=AUTH, timeout=5).json()[0]
    except requests.RequestException:
        return None  # no shared broker on this machine: nothing to disturb
    return {"name": node["name"], "os_pid": node.get("os_pid")}


def test_a_killed_and_rebooted_node_keeps_its_durable_messages(rabbit_node, broker):
    shared = _shared_node()
    queue = Queue("fault.node.durable", Exchange("fault.node", durable=True), "k", durable=True)
    with Connection(rabbit_node.amqp_uri(""), transport_options={"confirm_publish": True}) as conn:
        conn.Producer().publish({"n": 1}, exchange=queue.exchange, routing_key="k", declare=[queue],
                                delivery_mode=2)
    broker.kill_node()
    broker.boot_node()
    broker.wait_up(rabbit_node.amqp_uri(""), 120)
    with Connection(rabbit_node.amqp_uri("")) as conn:
        message = queue(conn.default_channel).get(no_ack=True)
    assert message is not None and message.payload == {"n": 1}
    assert broker.node()["name"] == rabbit_node.name != (shared or {}).get("name")
    assert _shared_node() == shared  # same name, same pid: not restarted


def test_the_node_of_a_killed_run_is_stopped_by_the_next_one():
    owner = subprocess.Popen([sys.executable, "-c", "import time; from tests.fault.node import Node; "
                              "n = Node().start(); print(n.base, n.os_pid(), flush=True); time.sleep(600)"],
                             cwd=ROOT, stdout=subprocess.PIPE, text=True)
    base, pid = owner.stdout.readline().split()
    owner.send_signal(signal.SIGKILL)  # pytest killed: no fixture teardown ran
    owner.wait()
    reaped = reap_leftovers()
    assert f"onestop-fault-{owner.pid}@localhost" in reaped
    assert not Path(base).exists()
    for _ in range(50):
        if not Path(f"/proc/{pid}").exists():
            break
        time.sleep(0.1)
    assert not Path(f"/proc/{pid}").exists(), "the left-behind node's VM still runs"
