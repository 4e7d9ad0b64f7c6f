"""A RabbitMQ node of the fault suite's own: started for the run with the
machine's installed rabbitmq-server, on free ports and in a directory of its
own, and stopped (its directory removed) at the end.

The fault suite restarts, kills and alarms its broker; the machine's node
(5672/15672, `rabbit@localhost`) may carry other people's work, so nothing
here ever addresses it: every `rabbitmqctl` call names this node (`-n`), and
a kill signals only the pid this node wrote to its own pid file.
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import string
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from tests.conftest import free_port

AUTH = ("guest", "guest")
# Debian's rabbitmq-server in /usr/sbin is a wrapper that re-runs it as the rabbitmq
# user with the system node's settings; the scripts it wraps take ours.
SCRIPTS = Path("/usr/lib/rabbitmq/bin")
PREFIX = "onestop-fault-rabbit-"  # its directory, under the temp dir
MEMORY_WATERMARK = "0.4"  # RabbitMQ's defaults, written to the config so that clearing an alarm restores them
DISK_FREE_LIMIT = "50MB"


def _script(name: str) -> str:
    if (SCRIPTS / name).exists():
        return str(SCRIPTS / name)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} is not installed: the fault suite starts a RabbitMQ node of its own "
                           "(`./scripts/ensure-rabbitmq.sh` installs RabbitMQ)")
    return found


class Node:
    """One private RabbitMQ node: its name, its ports, its directory."""

    def __init__(self):
        self.name = f"onestop-fault-{os.getpid()}@localhost"
        self.amqp_port, self.mgmt_port, self.dist_port = free_port(), free_port(), free_port()
        self.base = Path(tempfile.mkdtemp(prefix=PREFIX))
        (self.base / "owner").write_text(f"{os.getpid()} {self.name}\n")  # for reap_leftovers
        self.proc: subprocess.Popen | None = None

    @property
    def mgmt(self) -> str:
        return f"http://127.0.0.1:{self.mgmt_port}"

    def amqp_uri(self, vhost: str) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/{vhost}"

    def start(self, timeout: float = 120) -> "Node":
        self._write_files()
        self.boot()
        self.wait_mgmt(timeout)
        return self

    def _write_files(self) -> None:
        (self.base / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.amqp_port}\n"
            f"management.tcp.ip = 127.0.0.1\nmanagement.tcp.port = {self.mgmt_port}\n"
            f"vm_memory_high_watermark.relative = {MEMORY_WATERMARK}\ndisk_free_limit.absolute = {DISK_FREE_LIMIT}\n")
        (self.base / "enabled_plugins").write_text("[rabbitmq_management].\n")
        (self.base / "rabbitmq-env.conf").write_text("# the fault node's: /etc/rabbitmq/rabbitmq-env.conf is the system node's\n")
        cookie = self.base / ".erlang.cookie"
        cookie.write_text("".join(secrets.choice(string.ascii_uppercase) for _ in range(20)))
        cookie.chmod(0o400)

    def env(self) -> dict:
        """The environment of this node's server and CLI (HOME holds its Erlang cookie)."""
        return {**os.environ, "HOME": str(self.base), "RABBITMQ_NODENAME": self.name,
                "RABBITMQ_NODE_PORT": str(self.amqp_port), "RABBITMQ_DIST_PORT": str(self.dist_port),
                "RABBITMQ_CONF_ENV_FILE": str(self.base / "rabbitmq-env.conf"),
                "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq.conf"),
                "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.base / "advanced.config"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
                "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"), "RABBITMQ_LOG_BASE": str(self.base / "log"),
                "RABBITMQ_PID_FILE": str(self.base / "node.pid"),
                "ERL_EPMD_ADDRESS": "127.0.0.1", "ERL_FLAGS": "-kernel inet_dist_use_interface {127,0,0,1}"}

    def boot(self) -> None:
        """Start the node's Erlang VM (again, after a kill: same directory, so durable data survives)."""
        self._pid_file().unlink(missing_ok=True)
        with open(self.base / "server.out", "ab") as log:
            self.proc = subprocess.Popen([_script("rabbitmq-server")], env=self.env(), cwd=self.base,
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)  # a Ctrl-C at the terminal is pytest's, not the node's

    def _pid_file(self) -> Path:
        return self.base / "node.pid"

    def ctl(self, *args: str, timeout: float = 90) -> str:
        """One `rabbitmqctl -n <this node>` call (never a loop: an interrupted CLI leaves Erlang behind)."""
        done = subprocess.run([_script("rabbitmqctl"), "-q", "-n", self.name, *args], env=self.env(),
                              capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl -n {self.name} {' '.join(args)} failed: "
                               f"{done.stderr.strip() or done.stdout.strip()}")
        return done.stdout

    def mgmt_ok(self) -> bool:
        try:
            return requests.get(f"{self.mgmt}/api/overview", auth=AUTH, timeout=3).status_code == 200
        except requests.RequestException:
            return False

    def wait_mgmt(self, timeout: float) -> None:
        start = time.monotonic()
        while not self.mgmt_ok():
            if self.proc.poll() is not None:
                raise RuntimeError(f"the fault suite's RabbitMQ node exited {self.proc.returncode}: "
                                   f"see {self.base / 'server.out'} and {self.base / 'log'}")
            if time.monotonic() - start > timeout:
                raise RuntimeError(f"the fault suite's RabbitMQ node did not answer within {timeout}s")
            time.sleep(0.5)

    def os_pid(self) -> int:
        """The pid of this node's Erlang VM, as the node itself wrote it."""
        return int(self._pid_file().read_text().strip())

    def kill(self) -> None:
        """SIGKILL this node's Erlang VM: no clean shutdown, as a crashed host would."""
        pid = self.os_pid()
        os.kill(pid, signal.SIGKILL)
        self.proc.wait(30)  # the server script exits with its VM
        if _alive(pid):
            raise AssertionError(f"the fault node's VM (pid {pid}) survived SIGKILL")

    def stop(self) -> None:
        """Stop the node and remove its directory (a kill if it does not stop cleanly)."""
        try:
            if self.proc and self.proc.poll() is None:
                self._stop_or_kill()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def _stop_or_kill(self) -> None:
        try:
            self.ctl("stop", timeout=60)
            self.proc.wait(30)
        except (RuntimeError, subprocess.TimeoutExpired):
            if self._pid_file().exists() and _alive(self.os_pid()):
                os.kill(self.os_pid(), signal.SIGKILL)
            self.proc.kill()  # the server script; its VM is gone
            self.proc.wait(10)


def reap_leftovers() -> list[str]:
    """Stop the nodes of fault runs that were killed before they could stop theirs:
    only a node whose directory names a dead owner, and only the VM whose command
    line has that directory as its home. Returns the names of those stopped."""
    reaped = []
    for base in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        owner = (base / "owner").read_text().split() if (base / "owner").exists() else []
        if len(owner) == 2 and owner[0].isdigit() and not _alive(int(owner[0])):
            _kill_if_home(base)
            shutil.rmtree(base, ignore_errors=True)
            reaped.append(owner[1])
    return reaped


def _kill_if_home(base: Path) -> None:
    try:
        pid = int((base / "node.pid").read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return  # no VM left
    if str(base).encode() in cmdline:  # erl's `-home <base>`: this VM is that node's, not a reused pid
        os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return False
