"""`onestop status` and `onestop restart <name>`: the processes `make run` supervises, seen and restarted.

    onestop status              each process: state, pid, restarts, health (GET /healthz); exit 1 unless all healthy
    onestop restart routing     stop one process and start it again now (also one that gave up)

Both read the launcher's state file (var/launcher.json, or $ONESTOP_STATE_FILE),
which names the launcher's control port.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import requests

from onestop.ops.console import pid_alive
from onestop.ops.deadletters.command import table


def state_file(args) -> Path:
    from onestop.dev.launcher import STATE_FILE
    return Path(args.state or os.environ.get("ONESTOP_STATE_FILE") or STATE_FILE)


def launcher_state(args) -> dict | None:
    """The launcher's state, or None after saying why there is none (not started, or gone)."""
    path = state_file(args)
    if not path.exists():
        print(f"no launcher state at {path}: is `make run` running?", file=sys.stderr)
        return None
    state = json.loads(path.read_text())
    if not pid_alive(state["launcher_pid"]):
        print(f"the launcher (pid {state['launcher_pid']}) is not running; {path} is what it left", file=sys.stderr)
        return None
    return state



def healthy(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def status(args) -> int:
    state = launcher_state(args)
    if state is None:
        return 1
    rows, all_ok = [], True
    for proc in state["processes"]:
        ok = proc["state"] == "running" and healthy(proc["port"])
        all_ok &= ok
        rows.append((proc["name"], proc["state"], proc["pid"] or "-", proc["restarts"], proc["port"],
                     _since(proc), "ok" if ok else "NOT HEALTHY"))
    print(table(["PROCESS", "STATE", "PID", "RESTARTS", "PORT", "UP", "HEALTH"], rows))
    print(f"launcher pid {state['launcher_pid']}, logs in {state['log_dir']}")
    return 0 if all_ok else 1


def _since(proc: dict) -> str:
    if proc["state"] != "running":
        return f"exit {proc['exit_code']}"
    return f"{time.time() - proc['started_at']:.0f} s"


def restart(args) -> int:
    state = launcher_state(args)
    if state is None:
        return 1
    response = requests.post(f"http://{state['control']}/restart/{args.name}", timeout=70)
    if response.status_code != 200:
        print(response.json()["message"], file=sys.stderr)
        return 2
    proc = response.json()
    print(f"restarted {proc['name']}: pid {proc['pid']} (restarts {proc['restarts']}); `onestop status` shows its health")
    return 0


def add_commands(sub) -> None:
    common = {"help": "the launcher's state file (default: $ONESTOP_STATE_FILE or var/launcher.json)"}
    shown = sub.add_parser("status", help="the processes `make run` supervises: state, restarts, health")
    shown.add_argument("--state", **common)
    shown.set_defaults(func=status)
    again = sub.add_parser("restart", help="stop one process of `make run` and start it again")
    again.add_argument("name", help="a process `onestop status` lists, e.g. routing or sms-sink")
    again.add_argument("--state", **common)
    again.set_defaults(func=restart)
