"""`onestop`: the operators' command line.

    onestop audit verify [--center hue-vyda]     recompute the hash chains (an operator's token: --token,
    onestop audit timeline VYDA-260213-0007      a dossier's audit timeline    or minted: AUTH_SIGNING_KEYS)
    onestop audit checkpoint --center hue-vyda   have audit sign a checkpoint now
    onestop demo                                 submit sample dossiers and follow them
    onestop dlq list|show|replay|purge ...       dead letters (onestop dlq -h, docs/operations.md)
    onestop held list [--center hue-vyda]        citizen messages held by a recipient limit
    onestop held release <id>                    send one of them now (once)
    onestop privacy export|erase --id-number ... a citizen's personal data on request (docs/privacy.md)
    onestop status                               the processes of `make run`: restarts, health
    onestop restart routing                      stop one of them and start it again
    onestop backup [--to var/backups]            a consistent copy of the embedded store (DATA_DIR), checked
    onestop restore var/backups/<time>           put it back (only while the services are stopped)
    onestop token officer --user vyda-o01 --center hue-vyda --department vp
                                                 a staff bearer token (AUTH_SIGNING_KEYS, or make run's dev keys)
    onestop auth revoke --jti X | --sid X | --user X a token, session or user refused on every service
    onestop auth rotate-key | retire-key | jwks  the signing key set (docs/identity.md)
    onestop token portal --user portal-dvc --center hue-vyda --ttl 604800
                                                 a portal's client credential, for online intake
"""
from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
import uuid
from pathlib import Path

import requests
import yaml
from amqp.exceptions import AMQPError
from kombu.exceptions import OperationalError

from onestop.catalog import load_catalog
from onestop.ops import auditlog as auditlog_cli
from onestop.ops import authcli as auth_cli
from onestop.ops import backup as backup_cli
from onestop.ops import privacy as privacy_cli
from onestop.ops import status as status_cli
from onestop.ops.deadletters import command as dlq_cli
from onestop.ops.deadletters.queues import UnknownQueue

INTAKE = os.environ.get("INTAKE_URL", "http://127.0.0.1:8001")
AUDIT = os.environ.get("AUDIT_URL", "http://127.0.0.1:8004")
SMTP_SINK = os.environ.get("SMTP_SINK_URL", "http://127.0.0.1:8025")
SMS_SINK = os.environ.get("SMS_SINK_URL", "http://127.0.0.1:8026")
NOTIFICATION = os.environ.get("NOTIFICATION_URL", "http://127.0.0.1:8003")


class NoToken(Exception):
    """The audit API needs a token and none can be had."""


def audit_headers(args) -> dict:
    """The bearer header for the audit API: --token (or ONESTOP_TOKEN), else an operator
    token of every center minted with AUTH_SIGNING_KEYS or `make run`'s development key set."""
    token = args.token or os.environ.get("ONESTOP_TOKEN")
    if not token:
        issuer = _issuer()
        if issuer is None:
            raise NoToken("the audit API needs a token: pass --token, or set AUTH_SIGNING_KEYS, or start `make run` "
                          "first")
        token = issuer.mint("onestop-cli", "operator", sorted(load_catalog().centers), ttl_s=300)
    return {"Authorization": f"Bearer {token}"}


def _refused(response) -> int | None:
    """Exit 2 with the service's reason when the audit API refuses the caller (401, 403, 429)."""
    if response.status_code in (401, 403, 429):
        print(f"the audit service said {response.status_code}: {response.json().get('message', response.text)}",
              file=sys.stderr)
        return 2
    return None


def audit_verify(args) -> int:
    params = {"center": args.center} if args.center else {}
    response = requests.get(f"{args.audit}/api/v1/audit/verify", params=params, headers=audit_headers(args),
                            timeout=60)
    if (refused := _refused(response)) is not None:
        return refused
    if response.status_code != 200:
        print(response.json().get("message", response.text), file=sys.stderr)
        return 1
    report = response.json()
    for verdict in report["centers"]:
        if verdict["ok"]:
            signed = verdict.get("checkpoint")
            against = f", the tree has the root of checkpoint {signed}" if signed else ", no checkpoint signed yet"
            print(f"OK      {verdict['center']}: {verdict['entries']} entries, chain and tree intact{against}")
        else:
            brk = verdict["first_break"]
            print(f"BROKEN  {verdict['center']}: entry #{brk['seq']} (event {brk['event_id']}): {brk['reason']}")
    if not report["centers"]:
        print("no audit entries yet")
    return 0 if report["ok"] else 1


def audit_timeline(args) -> int:
    response = requests.get(f"{args.audit}/api/v1/audit/dossiers/{args.code}", headers=audit_headers(args),
                            timeout=30)
    if (refused := _refused(response)) is not None:
        return refused
    if response.status_code != 200:
        print(response.json().get("message", response.text), file=sys.stderr)
        return 1
    for entry in response.json()["entries"]:
        print(f"#{entry['seq']:<5} {entry['time']}  {entry['type']:<24} {entry['actor']['id']:<14} {entry['hash'][:16]}")
    return 0


def demo_payloads() -> list[dict]:
    catalog = load_catalog()
    spec = yaml.safe_load((Path(__file__).parents[1] / "data" / "demo.yaml").read_text(encoding="utf-8"))
    payloads = []
    for item in spec["dossiers"]:
        procedure = catalog.procedure(item["procedure_code"])
        missing = set(item.get("missing", []))
        docs = [{"code": d.code} for d in procedure.documents if d.required and d.code not in missing]
        payloads.append({k: v for k, v in item.items() if k != "missing"} | {"documents": docs})
    return payloads


def demo(args) -> int:
    print(f"Submitting {len(demo_payloads())} sample dossiers to {args.intake} ...")
    issuer, codes = _issuer(), []
    callers = _demo_callers(issuer)
    for payload in demo_payloads():
        response = requests.post(f"{args.intake}/api/v1/dossiers", json=payload, timeout=30,
                                 headers={"Idempotency-Key": f"demo-{uuid.uuid4()}", **callers[payload["channel"]]})
        body = response.json()
        if response.status_code != 201:
            print(f"  refused ({response.status_code}): {body}")
            continue
        codes.append(body["code"])
        missing = ", ".join(d["code"] for d in body["missing_documents"]) or "none"
        print(f"  {body['code']:<18} {body['procedure']['name_vi']} — appointment {body['appointment_date']}; missing: {missing}")
    print("Following them (routing, notification, audit) ...")
    for code in codes:
        print(f"  {code:<18} {wait_routed(args, code, callers['audit'])}")
    print(f"\nEmails: {SMTP_SINK}/api/v1/messages    SMS: {SMS_SINK}/api/v1/sms")
    print(f"Audit:  {args.audit}/api/v1/audit/dossiers/<code>    onestop audit verify")
    return 0


def _demo_callers(issuer) -> dict:
    """The demo's bearer headers: counter staff at the counter and by post, a portal online,
    an operator reading audit; all for every center (none without a secret)."""
    if issuer is None:
        return {"counter": {}, "postal": {}, "online": {}, "audit": {}}
    centers = sorted(load_catalog().centers)
    bearer = lambda user, role: {"Authorization": f"Bearer {issuer.mint(user, role, centers)}"}  # noqa: E731
    counter = bearer("counter-demo", "counter_staff")
    return {"counter": counter, "postal": counter, "online": bearer("portal-demo", "portal"),
            "audit": bearer("ops-demo", "operator")}


def wait_routed(args, code: str, headers: dict, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = requests.get(f"{args.audit}/api/v1/audit/dossiers/{code}", headers=headers, timeout=10)
        if response.status_code == 429:  # the audit API's rate limit: wait as told
            time.sleep(min(float(response.headers.get("Retry-After", 1)), max(0.0, deadline - time.monotonic())))
            continue
        if response.status_code == 200:
            assigned = [e for e in response.json()["entries"] if e["type"] == "dossier.assigned.v1"]
            if assigned:
                data = assigned[0]["data"]
                return f"-> department {data['department_id']}, officer {data['officer_name']} ({data['officer_id']})"
        time.sleep(0.3)
    return "not routed yet (is the routing service running?)"


def _issuer():
    """The TokenIssuer of AUTH_SIGNING_KEYS, or of `make run`'s development key set; None if neither exists."""
    return auth_cli.issuer()


def token(args) -> int:
    try:
        issuer = _issuer()
        if issuer is None:
            print(auth_cli.NO_KEYS, file=sys.stderr)
            return 2
        print(issuer.mint(args.user, args.role, args.center, args.department, ttl_s=args.ttl, name=args.name))
    except ValueError as exc:
        print(f"cannot mint: {exc}", file=sys.stderr)
        return 2
    return 0


# --- onestop held: citizen messages held by a recipient limit (docs/operations.md) ---------------

def _operator_headers(args) -> dict | None:
    """$ONESTOP_TOKEN (or --token), else an operator token minted for --actor over the
    centers asked for (or all); None if there is neither a token nor a secret."""
    token = args.token or os.environ.get("ONESTOP_TOKEN")
    if not token:
        issuer = _issuer()
        if issuer is None:
            return None
        centers = [args.center] if getattr(args, "center", None) else sorted(load_catalog().centers)
        token = issuer.mint(args.actor or getpass.getuser(), "operator", centers, ttl_s=300)
    return {"Authorization": f"Bearer {token}"}


def _held_call(args, method: str, path: str, **kwargs):
    """The notification service's answer, or None after saying why there is none."""
    headers = _operator_headers(args)
    if headers is None:
        print("no operator token: set ONESTOP_TOKEN (or --token), or AUTH_SIGNING_KEYS to mint one", file=sys.stderr)
        return None
    response = requests.request(method, f"{args.notification}{path}", headers=headers, timeout=30, **kwargs)
    if response.status_code != 200:
        try:
            said = response.json().get("message", response.text)
        except ValueError:
            said = response.text[:200]
        print(f"notification answered {response.status_code}: {said}", file=sys.stderr)
        return None
    return response.json()


def held_list(args) -> int:
    params = {k: v for k, v in (("center", args.center), ("limit", args.limit)) if v}
    page = _held_call(args, "GET", "/api/v1/held", params=params)
    if page is None:
        return 1
    rows = [(m["id"], m["center"], m["code"], m["channel"], m["recipient"], m["held_at"], m["reason_text"])
            for m in page["held"]]
    if rows:
        print(dlq_cli.table(["ID", "CENTER", "CODE", "CHANNEL", "TO", "HELD AT", "REASON"], rows))
    print(f"{len(rows)} held message{'' if len(rows) == 1 else 's'} shown, {page['total']} in all")
    return 0


def held_release(args) -> int:
    done = _held_call(args, "POST", f"/api/v1/held/{args.id}/release")
    if done is None:
        return 1
    print(f"released  {done['id']}  {done['code']}  {done['channel']} to {done['recipient']}: "
          f"{done['status']} (by {done['released_by']})")
    return 0 if done["status"] == "sent" else 1


def add_held_commands(sub) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--notification", default=NOTIFICATION, help="default: $NOTIFICATION_URL or :8003")
    common.add_argument("--token", help="an operator's bearer token (default: $ONESTOP_TOKEN, or one minted "
                                        "with AUTH_SIGNING_KEYS)")
    common.add_argument("--actor", help="who you are, when the token is minted here (default: $USER)")
    held = sub.add_parser("held", help="citizen messages held by a recipient limit").add_subparsers(
        dest="held_command", required=True)
    listing = held.add_parser("list", parents=[common], help="the held messages, oldest first, addresses masked")
    listing.add_argument("--center")
    listing.add_argument("--limit", type=dlq_cli.positive)
    listing.set_defaults(func=held_list)
    release = held.add_parser("release", parents=[common], help="send one held message now")
    release.add_argument("id", help="the id `onestop held list` shows")
    release.set_defaults(func=held_release)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="onestop", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--intake", default=INTAKE)
    parser.add_argument("--audit", default=AUDIT)
    sub = parser.add_subparsers(dest="command", required=True)
    audit = sub.add_parser("audit").add_subparsers(dest="audit_command", required=True)
    verify = audit.add_parser("verify", help="recompute the hash chains and trees, against the last checkpoint")
    verify.add_argument("--center")
    verify.set_defaults(func=audit_verify)
    timeline = audit.add_parser("timeline", help="a dossier's audit timeline")
    timeline.add_argument("code")
    timeline.set_defaults(func=audit_timeline)
    for command in (verify, timeline, *auditlog_cli.add_commands(audit, audit_headers)):
        command.add_argument("--token", help="a bearer token that may read audit (default: ONESTOP_TOKEN, or an "
                                             "operator token minted with AUTH_SIGNING_KEYS / make run's dev keys)")
    sub.add_parser("demo", help="submit sample dossiers and follow them").set_defaults(func=demo)
    dlq_cli.add_commands(sub)
    add_held_commands(sub)
    privacy_cli.add_commands(sub)
    status_cli.add_commands(sub)
    backup_cli.add_commands(sub)
    auth_cli.add_commands(sub)  # issue 17, staff sign-in: onestop auth revoke|rotate-key|jwks
    from onestop.web.auth import ROLES
    tok = sub.add_parser("token", help="mint a staff or portal bearer token (development, scripts, portals)")
    tok.add_argument("role", choices=ROLES)
    tok.add_argument("--user", required=True, help="the holder's id (a portal: its client id, e.g. portal-dvc)")
    tok.add_argument("--center", action="append", required=True,
                     help="a center the holder may act for, or a portal submits for (repeat)")
    tok.add_argument("--department", help="officers and department heads: their department")
    tok.add_argument("--name", help="display name")
    tok.add_argument("--ttl", type=int, default=None, help="seconds (default AUTH_TTL or 3600; at most 30 days)")
    tok.set_defaults(func=token)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except requests.ConnectionError as exc:
        print(f"cannot reach the service: {exc}", file=sys.stderr)
        return 2
    except (UnknownQueue, NoToken) as exc:
        print(exc.args[0], file=sys.stderr)
        return 2
    except requests.HTTPError as exc:  # the management API refused (credentials, permissions)
        print(f"the RabbitMQ management API said {exc.response.status_code}: {exc.response.text[:200]}",
              file=sys.stderr)
        return 2
    except (OperationalError, AMQPError, OSError) as exc:  # after HTTPError, an OSError too
        print(f"cannot use RabbitMQ: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
