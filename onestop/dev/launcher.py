"""Run the whole platform locally as separate processes (what `make run` does).

    python -m onestop.dev.launcher            # sinks + four services, Ctrl-C stops all
    python -m onestop.ops.cli status          # each process, its restarts, its health
    python -m onestop.ops.cli restart routing # one process stopped and started again

A process that dies (any exit, SIGKILL too) is started again after a pause that
doubles (onestop/dev/supervisor.py), the others keep running; one that keeps
crashing is reported and left stopped ("gave up").

No Docker: it uses the local RabbitMQ (``AMQP_URI``; unset, a vhost of its own,
``onestop-dev``, made if missing, so a shared broker's "/" is left alone), MongoDB
when ``MONGO_URI`` is set or else each service's embedded store (SQLite files
under ``DATA_DIR``, default var/data: durable on this machine; EMBEDDED_STORE=memory
for a throw-away one), a local SMTP sink and an SMS-gateway sink. Each process logs to
``$ONESTOP_LOG_DIR/<name>.log`` (default var/log; the services one JSON object
per line, onestop/logs.py). Tests use `Platform` to start the same processes.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import requests
from kombu import Connection

from onestop.catalog import load_catalog
from onestop.config import DEFAULTS, Settings
from onestop.dev.broker_users import ensure_users
from onestop.dev.rabbit_admin import DEV_VHOST, ensure_vhost
from onestop.dev.supervisor import Supervisor
from onestop.messaging.topology import declare_exchanges
from onestop.ops.authcli import DEV_JWKS_FILE, DEV_KEYS_FILE
from onestop.web.auth import SigningKeys, TokenIssuer

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("intake", "routing", "notification", "audit", "webhooks", "console")  # console: issue 17
SERVICES += ("alerts",)  # issue 17, alerts: watches the others, so it is started last
TOOLS = ("console", "alerts")  # what people use beside the pipeline (Platform.tools)
BROKER_USERS_FILE = ROOT / "var" / "broker-users.json"  # make run's broker users' passwords (0600)
STATE_FILE = ROOT / "var" / "launcher.json"  # each process's pid, state and restarts (`onestop status`)
# nameko's CLI imports eventlet, whose deprecation warning would be the one line of a
# service's log written before logging is set up, and so not JSON
QUIET_EVENTLET = "ignore::Warning:nameko.cli.commands"
# (role, user, extra arguments) of the sample staff `make run` prints tokens for (catalog ids)
DEV_STAFF = (
    ("counter_staff", "counter-01", "--center hue-vyda"),
    ("officer", "vyda-o01", "--center hue-vyda --department vp"),
    ("department_head", "vyda-head-vp", "--center hue-vyda --department vp"),
    ("center_leader", "vyda-leader", "--center hue-vyda"),
    ("auditor", "auditor-01", "--center hue-vyda --center hue-phuxuan --center hue-thuanhoa --center hue-huongthuy"),
    ("operator", "ops-01", "--center hue-vyda"),
    ("portal", "portal-dvc", "--center hue-vyda --center hue-phuxuan --center hue-thuanhoa --center hue-huongthuy"),
    ("integrator", "portal-tinh", "--center hue-vyda"),
)
# make run delivers webhooks to receivers on this machine, over http (docs/webhooks.md, "SSRF"), and tells
# the operators of a paused subscription at the SMTP sink; the environment may say otherwise
DEV_WEBHOOKS = {"WEBHOOK_ALLOW_LOOPBACK": "true", "WEBHOOK_ALLOW_HTTP": "true", "OPERATORS_EMAIL": "ops@onestop.local"}
# issue 17, the console: make run's development sign-in over plain http on 127.0.0.1 (docs/console.md); it runs
# as its own broker user (onestop-dev-console, the operator's rights: onestop.messaging.users.console_user)
DEV_CONSOLE = {"CONSOLE_DEV_SIGNIN": "true", "CONSOLE_INSECURE_COOKIE": "true"}


def console_env(ports: "Ports") -> dict:
    """The console's addresses of the services it reads, and of RabbitMQ's management API."""
    return {**{f"{name.upper()}_URL": f"http://127.0.0.1:{getattr(ports, name)}"
               for name in ("intake", "routing", "notification", "audit", "webhooks", "alerts")},
            "RABBIT_MGMT_URL": os.environ.get("RABBIT_MGMT_URL") or "http://127.0.0.1:15672"}


def dev_auth(env: dict) -> dict:
    """Staff sign-in settings (issue 17, docs/identity.md): the environment's AUTH_JWKS_URL (a real
    provider) if set; else make run's development key set var/dev-signing-keys.json (made once, so tokens
    minted with `onestop token` keep working across restarts) whose public JWKS, var/dev-jwks.json, every
    service reads (file://); AUTH_SIGNING_KEYS for whoever mints (the dev sign-in, the witness)."""
    if env.get("AUTH_JWKS_URL"):
        return {}
    path = Path(env.get("AUTH_SIGNING_KEYS") or DEV_KEYS_FILE)
    jwks = DEV_JWKS_FILE if path == DEV_KEYS_FILE else path.with_name(f"{path.stem}.jwks.json")
    SigningKeys.ensure(path).write_jwks(jwks)
    return {"AUTH_SIGNING_KEYS": str(path), "AUTH_JWKS_URL": jwks.as_uri()}


@dataclass
class Ports:
    intake: int = 8001
    routing: int = 8002
    notification: int = 8003
    audit: int = 8004
    webhooks: int = 8005
    smtp: int = 1025
    smtp_http: int = 8025
    sms_http: int = 8026
    witness: int = 8006
    console: int = 8000  # issue 17: the console in the browser
    alerts: int = 8007  # issue 17, alerts

    @classmethod
    def from_env(cls) -> "Ports":
        return cls(**{name: int(os.environ.get(f"ONESTOP_PORT_{name.upper()}", default))
                      for name, default in cls().__dict__.items()})


@dataclass
class Platform:
    ports: Ports = field(default_factory=Ports)
    env: dict = field(default_factory=dict)
    log_dir: Path = ROOT / "var" / "log"
    sinks: bool = True
    # a witness of the audit log (examples/audit_witness.py), as another agency would run one beside the
    # platform; the fault suite and the benchmark run without it
    witness: bool = True
    # the people's tools beside the pipeline: the console and the alerts service (issue 17); the benchmark
    # runs without them, so that its figures stay the pipeline's
    tools: bool = True
    # service -> one CENTERS value per worker process, e.g. {"routing": ["hue-vyda,hue-phuxuan",
    # "hue-thuanhoa,hue-huongthuy"]}; each extra worker listens on its service's port + 1000 * i
    shards: dict = field(default_factory=dict)
    root: Path = ROOT  # the source tree the services run from (the benchmark compares two)
    procs: dict = field(default_factory=dict)
    healthy_after: dict = field(default_factory=dict)  # name -> seconds from the start until /healthz said 200
    # service -> its own AMQP URI (make run's broker users, onestop/dev/broker_users.py); else amqp_uri
    broker_users: dict = field(default_factory=dict)

    @property
    def amqp_uri(self) -> str:
        return self.env.get("AMQP_URI") or os.environ.get("AMQP_URI") or DEFAULTS["AMQP_URI"]

    def base_env(self) -> dict:
        p = self.ports
        env = {**DEV_WEBHOOKS, **DEV_CONSOLE, **console_env(p), **os.environ,
               "PYTHONUNBUFFERED": "1", "PYTHONWARNINGS": QUIET_EVENTLET,
               "AMQP_URI": self.amqp_uri,
               "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(p.smtp),
               "SMS_URL": f"http://127.0.0.1:{p.sms_http}/api/v1/sms",
               "PUBLIC_STATUS_URL": f"http://127.0.0.1:{p.intake}/api/v1/dossiers/{{code}}",
               "RATING_URL": f"http://127.0.0.1:{p.intake}/api/v1/dossiers/{{code}}/rating",
               "AUDIT_RECEIPT_URL": f"http://127.0.0.1:{p.audit}/api/v1/audit/receipts/{{leaf_hash}}",
               "SMTP_SINK_HOST": "127.0.0.1", "SMTP_SINK_PORT": str(p.smtp),
               "SMTP_SINK_HTTP": f"127.0.0.1:{p.smtp_http}", "SMS_SINK_HTTP": f"127.0.0.1:{p.sms_http}"}
        env.update(alerts_env(self.ports, env))  # issue 17, alerts
        env.update(self.env)
        env.update(dev_auth(env))  # issue 17, staff sign-in: the services' AUTH_JWKS_URL, the dev key set
        return env

    def settings(self) -> Settings:
        """The services' settings (their environment), checked before anything starts."""
        return Settings.load(self.base_env())

    def store(self) -> str:
        """Where the services keep their data, in one line (the services run in `root`)."""
        settings = self.settings()
        if settings.mongo_uri:
            return _without_password(settings.mongo_uri)
        if settings.embedded_store == "memory":
            return "EMBEDDED IN-MEMORY, NOT DURABLE (EMBEDDED_STORE=memory: all is lost when a service stops)"
        return (f"embedded SQLite, one file per service in {self.root / settings.data_dir}/ "
                "(durable on this machine only: back it up; MONGO_URI for MongoDB)")

    def audit_files(self) -> str:
        """Where audit's signing keys and the checkpoints it signed are: never in its database."""
        settings = self.settings()
        return (f"{self.root / settings.audit_keys_file} (signing; back it up apart), checkpoints "
                f"{self.root / settings.audit_checkpoints_file} (ship it elsewhere)")

    def commands(self) -> dict:
        bindir = Path(sys.executable).parent
        cmds = {}
        if self.sinks:
            cmds["smtp-sink"] = ([sys.executable, "-m", "onestop.dev.sinks.smtp"], {}, self.ports.smtp_http)
            cmds["sms-sink"] = ([sys.executable, "-m", "onestop.dev.sinks.sms"], {}, self.ports.sms_http)
        for name in SERVICES:
            if not (self.root / "services" / name / "service.py").exists():
                continue  # an older tree the benchmark compares with, from before this service
            if name in TOOLS and not self.tools:
                continue
            argv = [str(bindir / "nameko"), "run", "--config", str(self.root / "deploy" / "nameko.yaml"),
                    f"services.{name}.service"]
            for i, centers in enumerate(self.shards.get(name) or [None]):
                port = getattr(self.ports, name) + 1000 * i
                env = {"WEB_SERVER_ADDRESS": f"127.0.0.1:{port}", **({"CENTERS": centers} if centers else {}),
                       **({"AMQP_URI": self.broker_users[name]} if name in self.broker_users else {})}
                cmds[name if i == 0 else f"{name}-{i + 1}"] = (argv, env, port)
        if self.witness:
            cmds["witness"] = self.witness_command()
        return cmds

    def witness_command(self) -> tuple:
        """The witness of examples/audit_witness.py: its own key and state beside the store
        (<DATA_DIR>/<prefix>witness: a witness remembers one platform's logs), an auditor's token for
        the consistency proofs, and (development only) the log's keys taken from the log's own
        listing; its status on its port (/healthz, /cosigned)."""
        settings = self.settings()
        home = self.root / settings.data_dir / f"{settings.mongo_db_prefix}witness"
        audit = f"http://127.0.0.1:{self.ports.audit}"
        key = home / "witness.key"
        script = self.root / "examples" / "audit_witness.py"
        if not key.exists():
            home.mkdir(parents=True, exist_ok=True)
            subprocess.run([sys.executable, str(script), "keygen", "--name", "witness.onestop.local",
                            "--key-file", str(key)], check=True, capture_output=True)
        token = TokenIssuer.load(self.base_env()).mint("witness-dev", "auditor", sorted(load_catalog().centers),
                                                       ttl_s=30 * 24 * 3600)
        argv = [sys.executable, str(script), "run", "--amqp", self.amqp_uri, "--audit", audit,
                "--vkeys-from", f"{audit}/api/v1/audit/keys", "--key-file", str(key),
                "--state-dir", str(home / "state"), "--http", f"127.0.0.1:{self.ports.witness}"]
        return argv, {"WITNESS_TOKEN": token}, self.ports.witness

    def start(self, timeout: float = 60) -> "Platform":
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name in self.commands():
            self.spawn(name)
        self.wait_healthy(timeout)
        return self

    def spawn(self, name: str) -> subprocess.Popen:
        """Start one process (again, when the supervisor restarts it), its output appended to its log."""
        argv, extra, _port = self.commands()[name]
        with open(self.log_dir / f"{name}.log", "ab") as log:
            self.procs[name] = subprocess.Popen(argv, cwd=self.root, env={**self.base_env(), **extra}, stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True)
        return self.procs[name]

    def wait_healthy(self, timeout: float) -> None:
        started = time.monotonic()
        deadline = started + timeout
        pending = {name: port for name, (_a, _e, port) in self.commands().items()}
        while pending and time.monotonic() < deadline:
            for name, port in list(pending.items()):
                if self.procs[name].poll() is not None:
                    raise RuntimeError(f"{name} exited with {self.procs[name].returncode}; see {self.log_dir / name}.log")
                try:
                    if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                        del pending[name]
                        self.healthy_after[name] = round(time.monotonic() - started, 2)  # the bench's start-up figure
                except requests.RequestException:
                    pass
            time.sleep(0.2)
        if pending:
            raise RuntimeError(f"not healthy after {timeout}s: {', '.join(pending)}; logs in {self.log_dir}")

    def stop(self, sig=signal.SIGTERM, timeout: float = 15) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, sig)
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def describe(self) -> str:
        p = self.ports
        return "\n".join([
            "OneStop is running:",
            f"Console: http://127.0.0.1:{p.console}/console/   (operators and center leaders; development sign-in)",
            f"  intake        http://127.0.0.1:{p.intake}   (POST /api/v1/dossiers, GET /api/v1/dossiers/<code>)",
            f"  routing       http://127.0.0.1:{p.routing}   (staff: /api/v1/work/queue, /api/v1/work/dossiers/<code>, "
            "/api/v1/reports)",
            f"  notification  http://127.0.0.1:{p.notification}   (operators: /api/v1/held, /api/v1/held/<id>/release)",
            f"  audit         http://127.0.0.1:{p.audit}   (staff: GET /api/v1/audit/dossiers/<code>, /api/v1/audit/verify,"
            " proofs; public: /api/v1/audit/keys)",
            f"  audit keys    {self.audit_files()}",
            f"  webhooks      http://127.0.0.1:{p.webhooks}   (integrators: /api/v1/subscriptions; docs/webhooks.md)",
            f"  alerts        http://127.0.0.1:{p.alerts}   (operators: /api/v1/alerts; emails to OPERATORS_EMAIL; "
            "docs/operations.md#alerts)",
            *([f"  witness       http://127.0.0.1:{p.witness}/cosigned   (examples/audit_witness.py: cosigns each "
               "checkpoint it can prove extends the last; /healthz)"] if self.witness else []),
            f"  SMTP sink     smtp://127.0.0.1:{p.smtp}  emails: http://127.0.0.1:{p.smtp_http}/api/v1/messages",
            f"  SMS sink      http://127.0.0.1:{p.sms_http}/api/v1/sms  (what the gateway received)",
            f"  RabbitMQ      {_without_password(self.amqp_uri)}   (vhost {urlparse(self.amqp_uri).path[1:] or '/'})",
            *([f"  broker users  {', '.join(urlparse(u).username for u in self.broker_users.values())}"
               f"  (passwords in {BROKER_USERS_FILE}; docs/security.md)"] if self.broker_users else []),
            f"  store         {self.store()}",
            "  metrics       GET /metrics on every service above (Prometheus text format; docs/metrics.md)",
            f"  logs          {self.log_dir}/",
            "Staff tokens (bearer JWT, 1 h) for each role, and a portal's for online intake, e.g.:",
            *(f"  {role:<16} TOKEN=$(.venv/bin/onestop token {role} --user {user} {extra})"
              for role, user, extra in DEV_STAFF),
            f"  then           curl -H \"Authorization: Bearer $TOKEN\" http://127.0.0.1:{p.routing}/api/v1/work/queue",
            # issue 17, staff sign-in (docs/identity.md)
            "  signed by      the development key set var/dev-signing-keys.json (JWKS var/dev-jwks.json); "
            "revoke: .venv/bin/onestop auth revoke --sid <sid>, rotate: .venv/bin/onestop auth rotate-key",
            "Try: make demo    Processes: .venv/bin/onestop status    Restart one: .venv/bin/onestop restart <name>",
            "Stop: Ctrl-C (a process that dies is started again; README: \"When a process dies\")",
        ])


def alerts_env(ports: Ports, env: dict) -> dict:
    """Issue 17, alerts: the services it watches (their first worker's /healthz), unless the environment
    names them; the alerts go to the SMTP sink's ops@onestop.local (DEV_WEBHOOKS' OPERATORS_EMAIL)."""
    if env.get("ALERTS_TARGETS"):
        return {}
    watched = [name for name in SERVICES if name != "alerts"]
    return {"ALERTS_TARGETS": ",".join(f"{name}=http://127.0.0.1:{getattr(ports, name)}" for name in watched)}


def _without_password(uri: str) -> str:
    password = urlparse(uri).password
    return uri.replace(f":{password}@", ":***@", 1) if password else uri


def dev_vhost() -> None:
    """make run's own vhost, made (with every permission for guest) if it is missing."""
    if ensure_vhost(DEV_VHOST):
        print(f"made the vhost {DEV_VHOST} on the local RabbitMQ (make run's own; '/' is left alone)", file=sys.stderr)


def dev_broker_users(admin_uri: str) -> dict:
    """The shared exchanges made (as the broker's definitions make them in compose), and make run's
    own users, one per service; {role: AMQP URI}."""
    with Connection(admin_uri, connect_timeout=10) as conn:
        declare_exchanges(conn.default_channel)
    return ensure_users(admin_uri, BROKER_USERS_FILE)


def main() -> int:
    platform = Platform(ports=Ports.from_env(), log_dir=Path(os.environ.get("ONESTOP_LOG_DIR") or ROOT / "var" / "log"))
    if not os.environ.get("AMQP_URI"):
        dev_vhost()
        platform.broker_users = dev_broker_users(platform.amqp_uri)
    if not os.environ.get("AUTH_JWKS_URL"):
        print(f"WARNING: AUTH_JWKS_URL is not set: staff tokens are signed with a DEVELOPMENT key set\n"
              f"kept in {DEV_KEYS_FILE}. Anywhere real, point AUTH_JWKS_URL at the sign-in provider's JWKS.",
              file=sys.stderr)
    settings = platform.settings()
    if not settings.mongo_uri and settings.embedded_store == "memory":
        print("WARNING: EMBEDDED_STORE=memory: each service keeps its data in an in-memory store\n"
              "that is NOT DURABLE: everything is lost when it stops. Unset it for the durable one.", file=sys.stderr)
    stop = lambda *_: (_ for _ in ()).throw(KeyboardInterrupt)  # noqa: E731
    signal.signal(signal.SIGTERM, stop)
    try:
        platform.start()
        supervisor = Supervisor(platform, Path(os.environ.get("ONESTOP_STATE_FILE") or STATE_FILE))
        print(platform.describe(), flush=True)
        supervisor.run()  # until Ctrl-C or SIGTERM; a child that dies is started again
    except KeyboardInterrupt:
        return 0
    finally:
        platform.stop()


if __name__ == "__main__":
    sys.exit(main())
