"""`onestop audit checkpoint`: have audit sign a checkpoint of a center's log now.

    onestop audit checkpoint --center hue-vyda   exit 0 and the signed note; 1 if audit refuses (its reason)

The signing keys are audit's own: ``python -m services.audit.keys`` where
audit runs (docs/audit.md, "Keys").
"""
from __future__ import annotations

import sys

import requests


def checkpoint(args, headers) -> int:
    response = requests.post(f"{args.audit}/api/v1/audit/checkpoints", json={"center": args.center},
                             headers=headers(args), timeout=60)
    body = response.json()
    if response.status_code in (200, 201):
        print(("signed" if response.status_code == 201 else "unchanged since") +
              f" checkpoint {body['tree_size']} of {body['origin']}:\n\n{body['note']}")
        return 0
    print(f"the audit service said {response.status_code}: {body.get('message', response.text)}", file=sys.stderr)
    return 1 if response.status_code == 409 else 2


def add_commands(audit_sub, headers) -> list:
    """`onestop audit checkpoint`; returned, as it calls the API (it takes --token)."""
    sign = audit_sub.add_parser("checkpoint", help="have audit sign a checkpoint of a center's log now")
    sign.add_argument("--center", required=True)
    sign.set_defaults(func=lambda args: checkpoint(args, headers))
    return [sign]
