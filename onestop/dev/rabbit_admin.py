"""The RabbitMQ management HTTP API, as the tests, the fault suite, the benchmark and
`make run` use it: throw-away vhosts, queue depths, make run's own vhost, and the
clean-up of leftover test vhosts, which only an operator starts:

    python -m onestop.dev.rabbit_admin clean [--yes] [--prefix onestop-it-]

The broker may be shared: nothing here deletes a vhost it did not make, except
`clean`, and `clean` only test vhosts (TEST_PREFIXES) that no live process uses.
"""
from __future__ import annotations

import argparse
import os
import socket
import sys
import time
import uuid
from urllib.parse import quote, urlparse

import requests

from onestop.ops.console import pid_alive

AMQP_HOST_DEFAULT = os.environ.get("TEST_AMQP_HOST", "127.0.0.1")
MGMT = os.environ.get("TEST_RABBIT_MGMT", f"http://{AMQP_HOST_DEFAULT}:15672")
AUTH = ("guest", "guest")


def request(method: str, path: str, mgmt: str | None = None, **kwargs):
    """One call, retried: the management API is slow to answer while the broker is busy.
    `mgmt` is another broker's management URL (the fault suite's own node), else MGMT."""
    for attempt in range(6):
        try:
            response = requests.request(method, f"{mgmt or MGMT}{path}", auth=AUTH, timeout=60, **kwargs)
            if method == "DELETE" and response.status_code == 404:
                return response  # an earlier, timed-out attempt did it
            response.raise_for_status()
            return response
        except requests.RequestException:
            if attempt == 5:
                raise
            time.sleep(1 + attempt)


# The names of the vhosts tests and benchmarks make: `clean` deletes nothing else.
TEST_PREFIXES = ("onestop-it-", "onestop-test-", "onestop-e2e-", "onestop-bench-", "onestop-fault-")
DEV_VHOST = "onestop-dev"  # make run's, so that a shared broker's default vhost "/" is left alone
ALL = {"configure": ".*", "write": ".*", "read": ".*"}


def make_vhost(prefix: str, mgmt: str | None = None) -> str:
    """A new vhost <prefix>-<random>, labelled with the process that made it (for `clean`)."""
    if f"{prefix}-" not in TEST_PREFIXES:
        raise ValueError(f"a throw-away vhost's prefix is one of {', '.join(p[:-1] for p in TEST_PREFIXES)}, "
                         f"not {prefix!r}")
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    request("PUT", f"/api/vhosts/{name}", mgmt, json={"description": _made_by(), "tags": ""})
    request("PUT", f"/api/permissions/{name}/guest", mgmt, json=ALL)
    return name


def _made_by() -> str:
    return f"made by pid {os.getpid()} on {socket.gethostname()}"


def ensure_vhost(name: str, user: str = "guest") -> bool:
    """Make the vhost, with every permission for `user`, if it is missing; True if it was."""
    if requests.get(f"{MGMT}/api/vhosts/{quote(name, safe='')}", auth=AUTH, timeout=30).status_code != 404:
        return False
    request("PUT", f"/api/vhosts/{quote(name, safe='')}", json={"description": "OneStop's make run", "tags": ""})
    request("PUT", f"/api/permissions/{quote(name, safe='')}/{quote(user, safe='')}", json=ALL)
    return True


def drop_vhost(name: str, mgmt: str | None = None) -> None:
    request("DELETE", f"/api/vhosts/{name}", mgmt)


def import_definitions(definitions: dict, mgmt: str | None = None) -> None:
    """Create or update what the definitions name (users, permissions, ...), nothing else."""
    request("POST", "/api/definitions", mgmt, json=definitions)


def drop_user(name: str, mgmt: str | None = None) -> None:
    request("DELETE", f"/api/users/{quote(name, safe='')}", mgmt)


def vhost_of(amqp_uri: str) -> str:
    """The vhost of an AMQP URI, quoted for a management API path."""
    return quote(urlparse(amqp_uri).path[1:] or "/", safe="")


def queue_depths(amqp_uri: str, timeout: float = 10) -> dict:
    """{queue name: messages (ready + unacked)} of the URI's vhost."""
    rows = requests.get(f"{MGMT}/api/queues/{vhost_of(amqp_uri)}", params={"columns": "name,messages"},
                        auth=AUTH, timeout=timeout).json()
    return {row["name"]: row.get("messages") or 0 for row in rows}


# ---- clean: leftover test vhosts, on an operator's request ------------------------------------

def leftovers(vhosts: list[dict], connections: dict, alive, host: str, prefix: str = "") -> tuple[list, list]:
    """(to delete, to keep) of the test vhosts among `vhosts`, each as (name, why).

    A test vhost is kept while a client is connected to it, or while the process that
    made it still runs on this host; anything else of a test's is a leftover."""
    delete, keep = [], []
    for vhost in vhosts:
        name = vhost["name"]
        if not name.startswith(TEST_PREFIXES) or not name.startswith(prefix):
            continue
        why = _in_use(vhost.get("description") or "", connections.get(name, 0), alive, host)
        (keep if why else delete).append((name, why or "no client connected, its maker is gone"))
    return delete, keep


def _in_use(description: str, connected: int, alive, host: str) -> str | None:
    if connected:
        return f"in use: {connected} client connection(s)"
    words = description.split()  # "made by pid 1234 on <host>"
    if len(words) == 6 and words[:3] == ["made", "by", "pid"] and words[4] == "on" and words[5] == host \
            and words[3].isdigit() and alive(int(words[3])):
        return f"in use: made by pid {words[3]}, still running"
    return None



def _connections() -> dict:
    counts: dict = {}
    for row in request("GET", "/api/connections", params={"columns": "vhost"}).json():
        counts[row["vhost"]] = counts.get(row["vhost"], 0) + 1
    return counts


def clean(yes: bool, prefix: str = "", out=sys.stdout, ask=input) -> int:
    """List the leftover test vhosts, and delete them once confirmed (or with yes)."""
    vhosts = request("GET", "/api/vhosts", params={"columns": "name,description"}).json()
    delete, keep = leftovers(vhosts, _connections(), pid_alive, socket.gethostname(), prefix)
    for name, why in keep:
        print(f"  keep    {name:<32} {why}", file=out)
    for name, why in delete:
        print(f"  delete  {name:<32} {why}", file=out)
    if not delete:
        print("No leftover test vhosts.", file=out)
        return 0
    if not yes and not _confirmed(len(delete), ask, out):
        print("Nothing deleted.", file=out)
        return 1
    for name, _why in delete:
        drop_vhost(name)
    print(f"Deleted {len(delete)} test vhost(s).", file=out)
    return 0


def _confirmed(count: int, ask, out) -> bool:
    if not sys.stdin.isatty() and ask is input:
        print("Not a terminal: pass --yes to delete them.", file=out)
        return False
    return ask(f"Delete these {count} vhost(s) and every queue in them? Type yes: ").strip() == "yes"


def _test_prefix(text: str) -> str:
    if not text.startswith(TEST_PREFIXES):
        raise argparse.ArgumentTypeError(f"{text!r} does not start with a test prefix ({', '.join(TEST_PREFIXES)})")
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m onestop.dev.rabbit_admin",
                                     description="Delete leftover test vhosts (names " + ", ".join(
                                         f"{p}*" for p in TEST_PREFIXES) + ") that nothing uses any more.")
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("clean", help="list leftover test vhosts and delete them once confirmed")
    cmd.add_argument("--yes", action="store_true", help="delete without asking")
    cmd.add_argument("--prefix", type=_test_prefix, help="only vhosts whose name starts with this")
    args = parser.parse_args(argv)
    return clean(args.yes, args.prefix or "")


if __name__ == "__main__":
    sys.exit(main())
