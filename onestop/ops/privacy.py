"""`onestop privacy ...`: answer a citizen's access and erasure requests (docs/privacy.md).

    onestop privacy export --id-number 046095001234
    onestop privacy erase --id-number 046095001234 --reason "Đơn số 12/2026 ngày 05/01/2026" --actor ops-lan [--yes]

The services' stores are reached only through their operator endpoints:
intake's ``POST /api/v1/privacy/export`` and ``/erase`` (the citizen's dossiers
are found by ID number there), then notification's ``POST /api/v1/privacy/export``
for those dossiers' codes. The token is ``--token`` (or ``$ONESTOP_TOKEN``), else
an operator token minted for ``--actor`` with AUTH_SIGNING_KEYS (or make run's
development key set), valid for every center of the catalog and for 5 minutes.
"""
from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time

import requests

from onestop.ops.console import typed_confirmation

NOTIFICATION = os.environ.get("NOTIFICATION_URL", "http://127.0.0.1:8003")
TOKEN_TTL = 300  # seconds: long enough for one request, short enough to be worth nothing if it leaks
CONFIRM = "ERASE"


def add_commands(sub) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--id-number", required=True, help="the citizen's 12-digit ID number")
    common.add_argument("--actor", help="who answers the request, for the audit (default: $USER)")
    common.add_argument("--token", default=os.environ.get("ONESTOP_TOKEN"),
                        help="an operator token (default: $ONESTOP_TOKEN, else one minted for --actor)")
    common.add_argument("--notification", default=NOTIFICATION,
                        help="the notification service (default: $NOTIFICATION_URL or http://127.0.0.1:8003)")
    privacy = sub.add_parser("privacy", help="export or erase one citizen's personal data (access and erasure "
                                             "requests)").add_subparsers(dest="privacy_command", required=True)
    export = privacy.add_parser("export", parents=[common], help="print everything intake and notification "
                                                                 "hold about the citizen (JSON)")
    export.set_defaults(func=privacy_export)
    erase = privacy.add_parser("erase", parents=[common], help="erase the citizen's personal data from their "
                                                               "closed dossiers (audited)")
    erase.add_argument("--reason", required=True,
                       help="the request it answers, e.g. its number and date (kept; no personal data)")
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    erase.add_argument("--wait", type=float, default=30.0,
                       help="seconds to wait for notification to erase its copy (default 30)")
    erase.set_defaults(func=privacy_erase)


def privacy_export(args) -> int:
    token = _token(args)
    found = _post(f"{args.intake}/api/v1/privacy/export", token, {"id_number": args.id_number})
    if found is None:
        return 1
    codes = [d["code"] for d in found["dossiers"]]
    held = _held(args, token, codes)
    if held is None:
        return 1
    print(json.dumps({"intake": found, "notification": held}, ensure_ascii=False, indent=2))
    return 0


def privacy_erase(args) -> int:
    token = _token(args)
    found = _post(f"{args.intake}/api/v1/privacy/export", token, {"id_number": args.id_number})
    if found is None:
        return 1
    if not found["dossiers"]:
        print("intake holds no personal data for this ID number in the centers of the token: nothing to erase")
        return 0
    _show(found["dossiers"])
    if not args.yes and not _confirmed(len(found["dossiers"])):
        print("not erased: nothing was changed", file=sys.stderr)
        return 1
    done = _post(f"{args.intake}/api/v1/privacy/erase", token, {"id_number": args.id_number, "reason": args.reason})
    if done is None:
        return 1
    for item in done["erased"]:
        print(f"erased  {item['code']:<18} {', '.join(item['erased'])}")
    return _notification_erased(args, token, [item["code"] for item in done["erased"]])


def _show(dossiers: list[dict]) -> None:
    print(f"intake holds this citizen's data in {len(dossiers)} dossier{'s' * (len(dossiers) != 1)}:")
    for d in dossiers:
        print(f"  {d['code']:<18} {d['center']:<14} {d['status']}")


def _confirmed(count: int) -> bool:
    """The operator types ERASE."""
    return typed_confirmation(f"Erase the personal data of {count} dossier{'s' * (count != 1)} for good?",
                              CONFIRM, "erase")


def _notification_erased(args, token: str, codes: list[str]) -> int:
    """Notification erases its copy when it reads citizen.data_erased.v1: wait until it has."""
    deadline = time.monotonic() + args.wait
    while codes:
        held = _held(args, token, codes)
        if held is not None and not _still_personal(held):
            print(f"notification erased its copy of the contact of {len(codes)} "
                  f"dossier{'s' * (len(codes) != 1)}")
            return 0
        if time.monotonic() > deadline:
            print(f"notification has not erased its copy after {args.wait:g}s (is it running?); it will when "
                  "it reads citizen.data_erased.v1: check with onestop privacy export", file=sys.stderr)
            return 1
        time.sleep(0.5)
    return 0


def _still_personal(held: dict) -> bool:
    contacts = any("erased_at" not in c for c in held["contacts"])
    return contacts or any(d.get("recipient") or d.get("error") for d in held["deliveries"])


def _held(args, token: str, codes: list[str]) -> dict | None:
    if not codes:
        return {"contacts": [], "deliveries": []}
    return _post(f"{args.notification}/api/v1/privacy/export", token, {"codes": codes})


def _post(url: str, token: str, body: dict) -> dict | None:
    """The JSON answer, or None after printing the service's error (its message and fields)."""
    response = requests.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    if response.status_code == 200:
        return response.json()
    try:
        error = response.json()
    except ValueError:
        error = {"message": response.text[:300]}
    print(f"{url} answered {response.status_code}: {error.get('message')}", file=sys.stderr)
    for field in error.get("fields", []):
        print(f"  {field['field']}: {field['reason']}", file=sys.stderr)
    for still in error.get("open_dossiers", []):
        print(f"  open: {still['code']} ({still['status']})", file=sys.stderr)
    return None


def _token(args) -> str:
    if args.token:
        return args.token
    from onestop.catalog import load_catalog
    from onestop.ops.cli import _issuer
    issuer = _issuer()
    if issuer is None:
        raise SystemExit("no signing key set to mint an operator token: pass --token, or set AUTH_SIGNING_KEYS")
    actor = args.actor or os.environ.get("USER") or getpass.getuser()
    return issuer.mint(actor, "operator", sorted(load_catalog().centers), ttl_s=TOKEN_TTL)
