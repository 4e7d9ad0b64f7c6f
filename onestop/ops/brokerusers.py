"""The broker's users as RabbitMQ definitions, from the one table (onestop.messaging.users).

    python -m onestop.ops.brokerusers definitions [--check]   # deploy/rabbitmq/definitions.json
    python -m onestop.ops.brokerusers deploy                  # passwords in .env, hashed definitions in var/

The shipped file holds no secret: its users have no password (RabbitMQ refuses a
password login to such a user), so it documents and checks what each may do.
`deploy` makes what docker-compose boots with: a random password per user in
``.env`` (kept if there already; compose reads it, the file is 0600 and never
committed) and ``var/rabbitmq/definitions.json``, the same definitions with each
password's salted SHA-256 hash (RabbitMQ's own scheme), which the broker loads.
`make run` and the tests load the same definitions, with prefixed user names,
through the management API (onestop.dev.rabbit_admin.import_definitions).
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import sys
from pathlib import Path

from onestop.messaging.topology import REVOCATIONS_QUEUE, SHARED_EXCHANGES, UNROUTED_QUEUE
from onestop.messaging.users import BrokerUser, platform_users

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "deploy" / "rabbitmq" / "definitions.json"
DEPLOYED = ROOT / "var" / "rabbitmq" / "definitions.json"
VHOST = "/"  # compose's: a dedicated broker; "/" keeps what a node upgraded from the guest-only release holds
HASHING = "rabbit_password_hashing_sha256"


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's stored form: base64(salt + sha256(salt + password)), a 4-byte salt."""
    salt = secrets.token_bytes(4) if salt is None else salt
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def password_variable(role: str) -> str:
    """The environment variable of a user's password: ONESTOP_AMQP_PASSWORD_<ROLE>."""
    return "ONESTOP_AMQP_PASSWORD_" + role.upper().replace("-", "_")


def user_definitions(users: list[BrokerUser], vhost: str, prefix: str = "", passwords: dict | None = None) -> dict:
    """Users and their permissions on one vhost; a user without a password in `passwords`
    gets none (cannot log in with one until it is set)."""
    passwords = passwords or {}
    return {
        "users": [{"name": prefix + u.role, "tags": [u.tags] if u.tags else [], "hashing_algorithm": HASHING,
                   "password_hash": password_hash(passwords[u.role]) if u.role in passwords else ""}
                  for u in users],
        "permissions": [{"user": prefix + u.role, "vhost": vhost, "configure": u.permissions.configure,
                         "write": u.permissions.write, "read": u.permissions.read} for u in users],
    }


def topology_definitions(vhost: str) -> dict:
    """The shared exchanges, the unrouted queue and the revocations stream, exactly as topology.declare_exchanges makes them."""
    return {
        "exchanges": [{"name": e.name, "vhost": vhost, "type": e.type, "durable": e.durable,
                       "auto_delete": e.auto_delete, "internal": False, "arguments": dict(e.arguments or {})}
                      for e in SHARED_EXCHANGES],
        "queues": [{"name": UNROUTED_QUEUE.name, "vhost": vhost, "durable": True, "auto_delete": False,
                    "arguments": dict(UNROUTED_QUEUE.queue_arguments)},
                   {"name": REVOCATIONS_QUEUE.name, "vhost": vhost, "durable": True, "auto_delete": False,
                    "arguments": dict(REVOCATIONS_QUEUE.queue_arguments)}],
        "bindings": [{"source": UNROUTED_QUEUE.exchange.name, "vhost": vhost, "destination": UNROUTED_QUEUE.name,
                      "destination_type": "queue", "routing_key": "", "arguments": {}}],
    }


def definitions(vhost: str = VHOST, passwords: dict | None = None, subscribers: tuple = ()) -> dict:
    """What the broker loads at boot: its vhost, every user, their permissions, the topology."""
    return {"vhosts": [{"name": vhost}], **user_definitions(platform_users(subscribers), vhost, "", passwords),
            **topology_definitions(vhost)}


def render(defs: dict) -> str:
    return json.dumps(defs, indent=2, sort_keys=True) + "\n"


def read_env(path: Path) -> dict:
    if not path.exists():
        return {}
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#") and "=" in line)


def ensure_passwords(path: Path, roles: list[str]) -> dict:
    """{role: password}: those already in the env file kept, missing ones made and appended."""
    known = read_env(path)
    missing = [role for role in roles if password_variable(role) not in known]
    if missing:
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "a", encoding="utf-8") as out:
            for role in missing:
                known[password_variable(role)] = secrets.token_urlsafe(24)
                out.write(f"{password_variable(role)}={known[password_variable(role)]}\n")
    path.chmod(0o600)
    return {role: known[password_variable(role)] for role in roles}


def deploy(env_file: Path, out: Path, subscribers: tuple = ()) -> None:
    """The passwords (env file) and the hashed definitions docker-compose's broker loads."""
    roles = [u.role for u in platform_users(subscribers)]
    passwords = ensure_passwords(env_file, roles)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.parent.chmod(0o700)  # the file itself must be readable by the broker's container user
    out.write_text(render(definitions(passwords=passwords, subscribers=subscribers)), encoding="utf-8")
    out.chmod(0o644)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m onestop.ops.brokerusers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    shipped = sub.add_parser("definitions", help=f"write {SHIPPED.relative_to(ROOT)} (no passwords)")
    shipped.add_argument("--check", action="store_true", help="fail if the shipped file is not current")
    made = sub.add_parser("deploy", help="passwords in the env file, hashed definitions for the broker")
    made.add_argument("--env-file", type=Path, default=ROOT / ".env")
    made.add_argument("--out", type=Path, default=DEPLOYED)
    for cmd in (shipped, made):
        cmd.add_argument("--subscriber", action="append", default=[], metavar="NAME",
                         help="a subscriber user sub-NAME (queues sub.NAME.*); repeatable")
    args = parser.parse_args(argv)
    subscribers = tuple(args.subscriber) or ("demo",)  # sub-demo: the example subscriber's (README)
    if args.command == "deploy":
        deploy(args.env_file, args.out, subscribers)
        print(f"passwords in {args.env_file} (0600, never commit it); broker definitions in {args.out}")
        return 0
    text = render(definitions(subscribers=subscribers))
    if args.check:
        current = SHIPPED.read_text(encoding="utf-8") if SHIPPED.exists() else ""
        if current != text:
            print(f"{SHIPPED} is not current: run python -m onestop.ops.brokerusers definitions", file=sys.stderr)
            return 1
        return 0
    SHIPPED.parent.mkdir(parents=True, exist_ok=True)
    SHIPPED.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
