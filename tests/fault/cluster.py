"""The fault suite's processes: each service in one of its own, started (and after a
crash started again) as the launcher starts it, and the cluster of them a scenario runs."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests

from onestop.dev.launcher import Platform
from onestop.dev.supervisor import BACKOFF_FIRST_S
from tests.conftest import free_port
from tests.support.staff import AUTH_CONFIG
from tests.support.wait import until

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("intake", "routing", "notification", "audit")
RETRY_DELAYS = (0.5, 1, 2, 4, 8, 15, 30)  # the services' delayed retries in the suite: about a minute in all
MAX_WORKERS = 40  # each service's concurrent workers (nameko.yaml's MAX_WORKERS), as the suite always ran them


def nameko_args(service: str, module: str | None = None) -> list[str]:
    """`run --config deploy/nameko.yaml services.<service>.service`, as the launcher builds
    it (onestop/dev/launcher.py Platform.commands); for another module[:class] (scenario
    8's subscriber) the same command with that module in place of the service's."""
    commands = Platform(sinks=False, witness=False, root=ROOT).commands()
    argv = commands[service][0] if module is None else [*commands["intake"][0][:-1], module]
    return argv[1:]


class HostProcess:
    """One service in a process of its own, started as the launcher starts one (its `nameko run`
    arguments, a session of its own, output appended to a log: Platform.spawn) through
    tests/support/host.py, which adds the control port the suite reads the store by.

    Command line and environment are fixed when it is made, so a start after a crash is the
    first start again, on the same store (DATA_DIR, MONGO_DB_PREFIX). A crash is SIGKILL.
    """

    def __init__(self, name: str, service: str, env: dict, log_dir: Path, module: str | None = None):
        self.name, self.service, self.log_dir = name, service, log_dir
        self.control, self.http = free_port(), free_port()
        self.argv = [sys.executable, "-m", "tests.support.host", f"127.0.0.1:{self.control}",
                     *nameko_args(service, module)]
        self.env = {**env, "WEB_SERVER_ADDRESS": f"127.0.0.1:{self.http}"}
        self.proc = None
        self.exits = []  # the return code of each of its processes that died (-9: SIGKILL)
        self.restarter = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http}"

    def serves(self, center: str) -> bool:
        wanted = self.env.get("CENTERS", "all")
        return wanted == "all" or center in {c.strip() for c in wanted.split(",")}

    def spawn(self) -> "HostProcess":
        return self.launch().wait_alive()

    def launch(self) -> "HostProcess":
        """Start the process; `wait_alive` waits for its container (several hosts
        launched first and waited for after start up side by side)."""
        with open(self.log_dir / f"{self.name}.log", "ab") as log:
            self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        return self

    def wait_alive(self) -> "HostProcess":
        until(lambda: self._alive(), 60, 0.1, f"{self.name} host")
        return self

    def _alive(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} host exited {self.proc.returncode}; see {self.log_dir}/{self.name}.log")
        try:
            return requests.get(f"http://127.0.0.1:{self.control}/status", timeout=1).json()["running"]
        except requests.RequestException:
            return False

    def call(self, path: str, body: dict | None = None, timeout: float = 60):
        """POST to the control port; a host that is started again by itself (scenario 1c) is waited for."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                response = requests.post(f"http://127.0.0.1:{self.control}{path}", json=body or {}, timeout=timeout)
                break
            except requests.ConnectionError:
                if self.restarter is None or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        response.raise_for_status()
        return response.json()

    def kill(self) -> None:
        """SIGKILL its process and what it started (its process group): no clean-up, no ack, no flush."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)

    def reap(self) -> None:
        self.exits.append(self.proc.wait())

    def crash(self) -> None:
        self.kill()
        self.reap()

    def restart(self) -> "HostProcess":
        """Start it again after a crash, exactly as the first time."""
        if self.proc.poll() is None:
            raise RuntimeError(f"{self.name} is running: restart() follows crash()")
        return self.spawn()

    def query(self, collection: str, op: str = "find", **spec):
        return self.call("/query", {"collection": collection, "op": op, **spec}, timeout=120)

    def terminate(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


class Restarter(threading.Thread):
    """Starts a host's process again each time it exits, after the launcher's first pause
    (onestop/dev/supervisor.py), as `make run` would: in scenario 1c the process kills
    itself (CHAOS relay_confirmed) and nothing in the test knows when. The supervisor's
    doubling pause and its giving up are left out: these crashes are the test's own
    doing, not a crash loop to back away from."""

    def __init__(self, host: HostProcess):
        super().__init__(name=f"restarter-{host.name}", daemon=True)
        self.host, self.stopping = host, threading.Event()
        host.restarter = self

    def run(self):
        while not self.stopping.wait(0.1):
            if self.host.proc.poll() is not None:
                self.host.reap()
                if not self.stopping.wait(BACKOFF_FIRST_S):
                    self.host.launch()

    def stop(self):
        self.stopping.set()
        self.join(5)


@dataclass
class Cluster:
    amqp_uri: str
    sinks: object
    log_dir: Path
    mgmt: str  # the management URL of amqp_uri's broker (the fault suite's own node)
    data_dir: Path  # DATA_DIR of every service: the embedded stores' files, the same across restarts
    env: dict = field(default_factory=dict)
    hosts: dict = field(default_factory=dict)
    prefix: str = field(default_factory=lambda: f"f{uuid.uuid4().hex[:8]}_")  # MONGO_DB_PREFIX

    def base_env(self) -> dict:
        return {**os.environ, "AMQP_URI": self.amqp_uri, "DATA_DIR": str(self.data_dir),
                "MONGO_DB_PREFIX": self.prefix, "MAX_WORKERS": str(MAX_WORKERS),
                "EMBEDDED_SYNC": "full",  # the crash figures are the production default's
                "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.sinks.smtp_port), "SMS_URL": self.sinks.sms_url,
                "RETRY_DELAYS": ",".join(map(str, RETRY_DELAYS)), "DELIVERY_LIMIT": "20",
                "SMS_TIMEOUT": "3", "SMTP_TIMEOUT": "3",
                "CIRCUIT_RESET": "3",  # well inside the retry budget above
                **AUTH_CONFIG,  # the staff tokens of tests/support/staff.py, verified against its JWKS file
                "COUNTER_SUBMIT_LIMIT": "1000000/60",  # one counter token streams every dossier of a scenario
                "PYTHONUNBUFFERED": "1", **self.env}

    def start(self, extra: dict | None = None, overrides: dict | None = None) -> "Cluster":
        """The four services (and any extra name -> (module[:class], env overrides));
        `overrides` adds env to the named standard services (e.g. their CENTERS)."""
        env = self.base_env()
        for name in SERVICES:
            self.hosts[name] = HostProcess(name, name, {**env, **(overrides or {}).get(name, {})}, self.log_dir)
        for name, (module, more) in (extra or {}).items():
            self.hosts[name] = HostProcess(name, name, {**env, **more}, self.log_dir, module)
        self.launch(self.hosts.values())
        return self

    @staticmethod
    def launch(hosts) -> None:
        """Start these hosts side by side, then wait for each."""
        hosts = list(hosts)
        for host in hosts:
            host.launch()
        for host in hosts:
            host.wait_alive()

    def add(self, name: str, service: str, env: dict) -> HostProcess:
        """Another worker process of a standard service (e.g. one center's own), with a store of
        its own (a MONGO_DB_PREFIX of its own), as each worker had with the in-heap store: the
        data of the centers it serves is there, and `query` adds up what every host holds."""
        own = {"MONGO_DB_PREFIX": f"{self.prefix}{len(self.hosts)}_"}
        self.hosts[name] = HostProcess(name, service, {**self.base_env(), **own, **env}, self.log_dir).spawn()
        return self.hosts[name]

    def __getitem__(self, name) -> HostProcess:
        return self.hosts[name]

    def host_for(self, service: str, center: str) -> HostProcess:
        """The host of a service that serves a center (a center may have workers of its own)."""
        return next(h for h in self.hosts.values() if h.service == service and h.serves(center))

    def query(self, service: str, collection: str, op: str = "find", **spec):
        """Ask every host of a service (a center may have workers of its own, each
        with its own store) and put the answers together."""
        answers = [host.query(collection, op, **spec) for host in self.hosts.values() if host.service == service]
        if op == "count":
            return sum(answers)
        out = [item for answer in answers for item in answer]
        return sorted(set(out)) if op == "distinct" else out

    def crash_all(self) -> None:
        """SIGKILL every service and both sinks at once, as a power cut would."""
        for host in self.hosts.values():
            host.kill()
        self.sinks.kill()
        for host in self.hosts.values():
            host.reap()
        self.sinks.crash()

    def restart_all(self) -> None:
        """Start the sinks, then every service side by side, each as it was first started."""
        self.sinks.restart()
        for host in self.hosts.values():
            if host.proc.poll() is None:
                raise RuntimeError(f"{host.name} is running: restart_all() follows crash_all()")
        self.launch(self.hosts.values())

    def watch(self, names) -> None:
        """Start these hosts again whenever they exit (`Restarter`)."""
        for name in names:
            Restarter(self.hosts[name]).start()

    def stop(self):
        for host in self.hosts.values():
            if host.restarter is not None:
                host.restarter.stop()
        for host in self.hosts.values():
            host.terminate()

    @property
    def intake_url(self) -> str:
        return self.hosts["intake"].url
