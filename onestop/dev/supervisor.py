"""The launcher's supervision: a child that exits is started again after a growing pause, or given up on.

`Child` holds the rule (no processes, no sleeps: the clock is passed in, so tests
drive it); `Supervisor` applies it to the processes of a `Platform`, writes their
state to a JSON file (``var/launcher.json``) and answers `onestop status` and
`onestop restart <name>` on a control port of its own (127.0.0.1, chosen by the
system, named in that file).
"""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

BACKOFF_FIRST_S = 1.0  # the pause before the first restart; doubled at each crash after it
BACKOFF_CAP_S = 30.0
STABLE_AFTER_S = 60.0  # a child up this long before it crashed starts again from the first pause
GIVE_UP_CRASHES = 5  # this many crashes within GIVE_UP_WINDOW_S and the child is left stopped
GIVE_UP_WINDOW_S = 120.0

RUNNING, RESTARTING, GAVE_UP = "running", "restarting", "gave-up"


@dataclass(frozen=True)
class Policy:
    first: float = BACKOFF_FIRST_S
    cap: float = BACKOFF_CAP_S
    stable_after: float = STABLE_AFTER_S
    give_up_crashes: int = GIVE_UP_CRASHES
    window: float = GIVE_UP_WINDOW_S


@dataclass
class Child:
    """One supervised process: what `onestop status` shows of it, and when to start it again."""
    name: str
    port: int
    policy: Policy = field(default_factory=Policy)
    pid: int | None = None
    started_at: float | None = None
    restarts: int = 0
    state: str = RUNNING
    exit_code: int | None = None
    restart_at: float | None = None
    crashes: list = field(default_factory=list)
    streak: int = 0  # crashes since it last stayed up STABLE_AFTER_S: the backoff's exponent

    def started(self, pid: int, now: float) -> None:
        if self.started_at is not None:
            self.restarts += 1
        self.pid, self.started_at, self.state, self.restart_at = pid, now, RUNNING, None

    def exited(self, code: int, now: float) -> None:
        """It died unasked: schedule its restart, or give up after too many crashes."""
        self.pid, self.exit_code = None, code
        if now - self.started_at >= self.policy.stable_after:
            self.streak = 0
        self.crashes = [t for t in self.crashes if now - t < self.policy.window] + [now]
        if len(self.crashes) >= self.policy.give_up_crashes:
            self.state, self.restart_at = GAVE_UP, None
            return
        self.state, self.restart_at = RESTARTING, now + self.backoff()
        self.streak += 1

    def backoff(self) -> float:
        return min(self.policy.cap, self.policy.first * 2 ** self.streak)

    def due(self, now: float) -> bool:
        return self.state == RESTARTING and now >= self.restart_at

    def by_hand(self) -> None:
        """An operator asked for a restart: forget its crashes, so a child that gave up gets a fresh start."""
        self.crashes, self.streak = [], 0

    def gave_up_message(self) -> str:
        return (f"GAVE UP on {self.name}: it crashed {len(self.crashes)} times within "
                f"{self.policy.window:.0f} s (last exit code {self.exit_code}); it stays stopped. "
                f"Read its log, fix the cause, then: onestop restart {self.name}")

    def as_dict(self) -> dict:
        return {"name": self.name, "pid": self.pid, "port": self.port, "state": self.state,
                "restarts": self.restarts, "started_at": self.started_at, "exit_code": self.exit_code,
                "restart_at": self.restart_at}


def write_atomically(path: Path, data: dict) -> None:
    """Readers see the old state or the new one, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


class Supervisor:
    """Keeps a started Platform's processes running until the launcher is stopped."""

    def __init__(self, platform, state_file: Path, clock=time.time, tick: float = 0.2):
        self.platform, self.state_file, self.clock, self.tick = platform, state_file, clock, tick
        now = clock()
        self.children = {name: Child(name, port) for name, (_a, _e, port) in platform.commands().items()}
        for name, child in self.children.items():
            child.started(platform.procs[name].pid, now)
        self.requests: queue.Queue = queue.Queue()
        self.control = ThreadingHTTPServer(("127.0.0.1", 0), _control_handler(self))
        threading.Thread(target=self.control.serve_forever, daemon=True, name="launcher-control").start()

    def run(self) -> None:
        self.save()
        while True:
            self.step(self.clock())
            time.sleep(self.tick)

    def step(self, now: float) -> None:
        for name, child in self.children.items():
            proc = self.platform.procs[name]
            if child.state == RUNNING and proc.poll() is not None:
                self.died(child, proc.returncode, now)
            elif child.due(now):
                self.respawn(child, now)
        self.serve_requests(now)

    def died(self, child: Child, code: int, now: float) -> None:
        child.exited(code, now)
        if child.state == GAVE_UP:
            self.report(child, "CRITICAL", child.gave_up_message())
        else:
            self.report(child, "WARNING", f"{child.name} exited with {code}; restarting it in "
                                          f"{child.restart_at - now:.0f} s (restart {child.restarts + 1})")
        self.save()

    def respawn(self, child: Child, now: float) -> None:
        child.started(self.platform.spawn(child.name).pid, now)
        self.save()

    def restart(self, name: str, now: float) -> dict:
        """`onestop restart <name>`: stop it (TERM, then KILL) if it runs, start it now."""
        child = self.children[name]
        stop_one(self.platform.procs[name])
        child.by_hand()
        self.respawn(child, now)
        self.report(child, "WARNING", f"{name} restarted by hand (pid {child.pid})")
        return child.as_dict()

    def serve_requests(self, now: float) -> None:
        while not self.requests.empty():
            name, answer = self.requests.get()
            answer.put(self.restart(name, now))

    def report(self, child: Child, level: str, message: str) -> None:
        """Loudly: on the launcher's stderr and in the child's own log (one JSON line, as the services log)."""
        print(f"{level}: {message}", file=sys.stderr, flush=True)
        line = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "level": level,
                "service": child.name, "logger": "onestop.dev.launcher", "message": message}
        with open(self.platform.log_dir / f"{child.name}.log", "a", encoding="utf-8") as log:
            log.write(json.dumps(line) + "\n")

    def state(self) -> dict:
        return {"launcher_pid": os.getpid(), "control": f"127.0.0.1:{self.control.server_address[1]}",
                "log_dir": str(self.platform.log_dir), "updated_at": self.clock(),
                "processes": [child.as_dict() for child in self.children.values()]}

    def save(self) -> None:
        write_atomically(self.state_file, self.state())


def stop_one(proc: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM to its process group, SIGKILL if it is still there after timeout."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _control_handler(supervisor: Supervisor):
    class Control(BaseHTTPRequestHandler):
        """GET /status; POST /restart/<name> (done by the supervising loop, answered when done)."""

        def do_GET(self):
            self.answer(200, supervisor.state()) if self.path == "/status" else self.answer(404, {"message": "no such path"})

        def do_POST(self):
            name = self.path.removeprefix("/restart/")
            if not self.path.startswith("/restart/") or name not in supervisor.children:
                known = ", ".join(supervisor.children)
                return self.answer(404, {"message": f"no process named {name!r}; known: {known}"})
            answer: queue.Queue = queue.Queue()
            supervisor.requests.put((name, answer))
            self.answer(200, answer.get(timeout=60))

        def answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):  # the launcher's stderr is for what an operator must see
            pass

    return Control
