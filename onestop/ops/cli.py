"""`onestop`: the operators' command line.

    onestop audit verify [--center hue-vyda]     recompute the hash chains
    onestop audit timeline VYDA-260213-0007      a dossier's audit timeline
    onestop demo                                 submit sample dossiers and follow them
    onestop dlq list|show|replay|purge ...       dead letters (onestop dlq -h, docs/operations.md)
    onestop privacy export|erase --id-number ... a citizen's personal data on request (docs/privacy.md)
    onestop token officer --user vyda-o01 --center hue-vyda --department vp
                                                 a staff bearer token (JWT_SECRET, or make run's dev secret)
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

import requests
import yaml
from amqp.exceptions import AMQPError
from kombu.exceptions import OperationalError

from onestop.ops.deadletters import command as dlq_cli
from onestop.ops import privacy as privacy_cli
from onestop.catalog import load_catalog
from onestop.ops.deadletters.queues import UnknownQueue

INTAKE = os.environ.get("INTAKE_URL", "http://127.0.0.1:8001")
AUDIT = os.environ.get("AUDIT_URL", "http://127.0.0.1:8004")
SMTP_SINK = os.environ.get("SMTP_SINK_URL", "http://127.0.0.1:8025")
SMS_SINK = os.environ.get("SMS_SINK_URL", "http://127.0.0.1:8026")


def audit_verify(args) -> int:
    params = {"center": args.center} if args.center else {}
    report = requests.get(f"{args.audit}/api/v1/audit/verify", params=params, timeout=60).json()
    for verdict in report["centers"]:
        if verdict["ok"]:
            print(f"OK      {verdict['center']}: {verdict['entries']} entries, chain intact")
        else:
            brk = verdict["first_break"]
            print(f"BROKEN  {verdict['center']}: entry #{brk['seq']} (event {brk['event_id']}): {brk['reason']}")
    if not report["centers"]:
        print("no audit entries yet")
    return 0 if report["ok"] else 1


def audit_timeline(args) -> int:
    response = requests.get(f"{args.audit}/api/v1/audit/dossiers/{args.code}", timeout=30)
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
    centers = sorted(load_catalog().centers)
    staff = {"Authorization": f"Bearer {issuer.mint('counter-demo', 'counter_staff', centers)}"} if issuer else {}
    for payload in demo_payloads():
        response = requests.post(f"{args.intake}/api/v1/dossiers", json=payload, timeout=30,
                                 headers={"Idempotency-Key": f"demo-{uuid.uuid4()}", **staff})
        body = response.json()
        if response.status_code != 201:
            print(f"  refused ({response.status_code}): {body}")
            continue
        codes.append(body["code"])
        missing = ", ".join(d["code"] for d in body["missing_documents"]) or "none"
        print(f"  {body['code']:<18} {body['procedure']['name_vi']} — appointment {body['appointment_date']}; missing: {missing}")
    print("Following them (routing, notification, audit) ...")
    for code in codes:
        print(f"  {code:<18} {wait_routed(args, code)}")
    print(f"\nEmails: {SMTP_SINK}/api/v1/messages    SMS: {SMS_SINK}/api/v1/sms")
    print(f"Audit:  {args.audit}/api/v1/audit/dossiers/<code>    onestop audit verify")
    return 0


def wait_routed(args, code: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = requests.get(f"{args.audit}/api/v1/audit/dossiers/{code}", timeout=10)
        if response.status_code == 200:
            assigned = [e for e in response.json()["entries"] if e["type"] == "dossier.assigned.v1"]
            if assigned:
                data = assigned[0]["data"]
                return f"-> department {data['department_id']}, officer {data['officer_name']} ({data['officer_id']})"
        time.sleep(0.3)
    return "not routed yet (is the routing service running?)"


def _issuer():
    """The TokenIssuer of JWT_SECRET, or of `make run`'s development secret; None if neither exists."""
    from onestop.web.auth import TokenIssuer
    from onestop.dev.launcher import DEV_SECRET_FILE
    if os.environ.get("JWT_SECRET"):
        return TokenIssuer.load({})
    if DEV_SECRET_FILE.exists():
        return TokenIssuer.load({"JWT_SECRET": DEV_SECRET_FILE.read_text().strip()})
    return None


def token(args) -> int:
    try:
        issuer = _issuer()
        if issuer is None:
            print("JWT_SECRET is not set and there is no development secret yet: start `make run` first, "
                  "or set JWT_SECRET", file=sys.stderr)
            return 2
        print(issuer.mint(args.user, args.role, args.center, args.department, ttl_s=args.ttl, name=args.name))
    except ValueError as exc:
        print(f"cannot mint: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="onestop", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--intake", default=INTAKE)
    parser.add_argument("--audit", default=AUDIT)
    sub = parser.add_subparsers(dest="command", required=True)
    audit = sub.add_parser("audit").add_subparsers(dest="audit_command", required=True)
    verify = audit.add_parser("verify", help="recompute the hash chains")
    verify.add_argument("--center")
    verify.set_defaults(func=audit_verify)
    timeline = audit.add_parser("timeline", help="a dossier's audit timeline")
    timeline.add_argument("code")
    timeline.set_defaults(func=audit_timeline)
    sub.add_parser("demo", help="submit sample dossiers and follow them").set_defaults(func=demo)
    dlq_cli.add_commands(sub)
    privacy_cli.add_commands(sub)
    from onestop.web.auth import ROLES
    tok = sub.add_parser("token", help="mint a staff bearer token for development and scripts")
    tok.add_argument("role", choices=ROLES)
    tok.add_argument("--user", required=True)
    tok.add_argument("--center", action="append", required=True, help="a center the holder may act for (repeat)")
    tok.add_argument("--department", help="officers and department heads: their department")
    tok.add_argument("--name", help="display name")
    tok.add_argument("--ttl", type=int, default=None, help="seconds (default JWT_TTL or 3600)")
    tok.set_defaults(func=token)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except requests.ConnectionError as exc:
        print(f"cannot reach the service: {exc}", file=sys.stderr)
        return 2
    except UnknownQueue as exc:
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
