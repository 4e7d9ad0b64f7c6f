"""`make run`'s launcher, SIGKILL of one service: it is started again, the others never notice."""
import json
import os
import signal
import subprocess
import sys

import pytest
import requests

from onestop.dev.launcher import ROOT, Ports
from tests.conftest import free_port
from tests.support.wait import until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def launcher(amqp_uri, tmp_path_factory):
    """`python -m onestop.dev.launcher`, what `make run` runs, on free ports and the tests' vhost."""
    tmp = tmp_path_factory.mktemp("launcher")
    ports = Ports(*(free_port() for _ in range(len(Ports().__dict__))))
    env = {**os.environ, "AMQP_URI": amqp_uri, "MONGO_DB_PREFIX": f"sv{free_port()}_",
           "AUTH_SIGNING_KEYS": str(tmp / "signing-keys.json"), "ONESTOP_LOG_DIR": str(tmp / "log"),
           "ONESTOP_STATE_FILE": str(tmp / "launcher.json"),
           **{f"ONESTOP_PORT_{name.upper()}": str(port) for name, port in ports.__dict__.items()}}
    proc = subprocess.Popen([sys.executable, "-m", "onestop.dev.launcher"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        until(lambda: (tmp / "launcher.json").exists() or proc.poll() is not None, 120, 0.2, "the launcher's state")
        assert proc.poll() is None, proc.stderr.read()
        yield proc, tmp / "launcher.json"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)


def processes(state_file) -> dict:
    return {p["name"]: p for p in json.loads(state_file.read_text())["processes"]}


def healthy(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def cli(state_file, *args):
    return subprocess.run([sys.executable, "-m", "onestop.ops.cli", *args, "--state", str(state_file)], cwd=ROOT,
                          capture_output=True, text=True, timeout=90, check=False)


def test_a_killed_service_is_started_again_and_the_others_run_on(launcher):
    _proc, state_file = launcher
    before = processes(state_file)
    others = {name: p for name, p in before.items() if name != "routing"}
    os.kill(before["routing"]["pid"], signal.SIGKILL)

    outages = []

    def routing_back():
        outages.extend(name for name, p in others.items() if not healthy(p["port"]))
        now = processes(state_file)["routing"]
        return now["restarts"] == 1 and now["state"] == "running" and healthy(now["port"]) and now

    routing = until(routing_back, 60, 0.2, "routing started again")
    assert routing["pid"] != before["routing"]["pid"]
    assert outages == []  # the others answered all along
    after = processes(state_file)
    assert {name: p["pid"] for name, p in after.items() if name != "routing"} == {
        name: p["pid"] for name, p in others.items()}
    assert all(p["restarts"] == 0 for name, p in after.items() if name != "routing")

    shown = cli(state_file, "status")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    row = next(line.split() for line in shown.stdout.splitlines() if line.startswith("routing"))
    assert row[:4] == ["routing", "running", str(routing["pid"]), "1"] and row[-1] == "ok"


def test_one_process_restarted_by_hand(launcher):
    _proc, state_file = launcher
    before = processes(state_file)["sms-sink"]
    done = cli(state_file, "restart", "sms-sink")
    assert done.returncode == 0, done.stdout + done.stderr
    after = until(lambda: (p := processes(state_file)["sms-sink"])["pid"] != before["pid"] and healthy(p["port"])
                  and p, 30, 0.2, "the SMS sink back")
    assert after["restarts"] == before["restarts"] + 1
    unknown = cli(state_file, "restart", "rooting")
    assert unknown.returncode == 2 and "no process named 'rooting'; known: smtp-sink, sms-sink, intake" in unknown.stderr


def test_sigterm_stops_every_process(launcher):
    proc, state_file = launcher
    pids = [p["pid"] for p in processes(state_file).values()]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert cli(state_file, "status").returncode == 1
