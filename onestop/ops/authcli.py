"""`onestop auth ...` and the key set `onestop token` mints with: staff token revocation and key rotation.

    onestop auth revoke --jti 6f0c...        one token refused on every service within a second
    onestop auth revoke --sid 2b1e...        every token of one sign-in session (signing out)
    onestop auth revoke --user vyda-o01      every token of that person issued until now
    onestop auth rotate-key                  a new signing key; the old one keeps verifying (docs/identity.md)
    onestop auth retire-key os-2026...       a previous key out of the JWKS now (thought stolen)
    onestop auth jwks                        the public JWKS of the key set

The key set is AUTH_SIGNING_KEYS, else make run's development one (var/dev-signing-keys.json); after a
rotation the public JWKS is written to --jwks-out (default: make run's var/dev-jwks.json when the key set
is make run's), where the services' AUTH_JWKS_URL reads it. Revocations go to the broker of --amqp
(default $AMQP_URI, else make run's vhost): the operator's broker user may publish them.
"""
from __future__ import annotations

import getpass
import json
import os
import sys
import time
from pathlib import Path

from onestop.config import DEFAULTS
from onestop.web.auth import MAX_TTL_S, SigningKeys, TokenIssuer

ROOT = Path(__file__).resolve().parents[2]
DEV_KEYS_FILE = ROOT / "var" / "dev-signing-keys.json"  # make run's development key set (0600)
DEV_JWKS_FILE = ROOT / "var" / "dev-jwks.json"  # its public JWKS: every service's AUTH_JWKS_URL under make run


def keys_path() -> Path | None:
    """AUTH_SIGNING_KEYS, else make run's development key set if it exists; None if neither."""
    if os.environ.get("AUTH_SIGNING_KEYS"):
        return Path(os.environ["AUTH_SIGNING_KEYS"])
    return DEV_KEYS_FILE if DEV_KEYS_FILE.exists() else None


def issuer() -> TokenIssuer | None:
    """The TokenIssuer of AUTH_SIGNING_KEYS or of make run's development key set; None if neither exists."""
    path = keys_path()
    return TokenIssuer.load({"AUTH_SIGNING_KEYS": str(path)}) if path else None


NO_KEYS = ("no signing key set: set AUTH_SIGNING_KEYS (a key file made by `onestop auth rotate-key --keys PATH`) "
           "or start `make run` first")


def jwks(args) -> int:
    path = args.keys or keys_path()
    if path is None:
        print(NO_KEYS, file=sys.stderr)
        return 2
    print(json.dumps(SigningKeys.load(path).jwks(), indent=1))
    return 0


def rotate_key(args) -> int:
    """A new current key (made if the file is missing); previous keys older than --keep dropped."""
    path = Path(args.keys) if args.keys else keys_path() or DEV_KEYS_FILE
    if not path.exists():
        made = SigningKeys.generate(path)
        print(f"made the key set {path}: current key {made.current()['kid']}")
        keys = made
    else:
        keys = SigningKeys.load(path)
        old, fresh = keys.current()["kid"], keys.rotate()["kid"]
        gone = keys.prune(keep_s=args.keep)
        print(f"rotated {path}: signing with {fresh}; {old} still verifies (previous)"
              + (f"; dropped {', '.join(gone)}" if gone else ""))
    out = args.jwks_out or (DEV_JWKS_FILE if path == DEV_KEYS_FILE else None)
    if out:
        keys.write_jwks(out)
        print(f"wrote the public JWKS to {out}")
    else:
        print("publish the new JWKS where AUTH_JWKS_URL reads it: onestop auth jwks > ...", file=sys.stderr)
    return 0


def retire_key(args) -> int:
    """A previous key out of the JWKS at once; the JWKS rewritten like rotate-key's."""
    path = Path(args.keys) if args.keys else keys_path()
    if path is None:
        print(NO_KEYS, file=sys.stderr)
        return 2
    keys = SigningKeys.load(path)
    try:
        keys.retire(args.kid)
    except ValueError as exc:
        print(f"cannot retire: {exc}", file=sys.stderr)
        return 2
    print(f"retired {args.kid}: out of the JWKS; tokens it signed stop verifying once each service refreshes "
          "its cached JWKS (AUTH_JWKS_LIFESPAN)")
    out = args.jwks_out or (DEV_JWKS_FILE if path == DEV_KEYS_FILE else None)
    if out:
        keys.write_jwks(out)
        print(f"wrote the public JWKS to {out}")
    return 0


def revoke(args) -> int:
    from onestop.web.revocation import revoke as publish
    until = args.until or int(time.time()) + MAX_TTL_S
    actor = {"id": args.actor or os.environ.get("USER") or getpass.getuser(), "role": "operator"}
    try:
        entry = publish(args.amqp, jti=args.jti, sid=args.sid, user=args.user, until=until, by=actor)
    except (ValueError, RuntimeError) as exc:
        print(f"cannot revoke: {exc}", file=sys.stderr)
        return 2
    what = next(f"{k} {entry[k]}" for k in ("jti", "sid", "user") if k in entry)
    print(f"revoked {what} until {time.strftime('%Y-%m-%d %H:%M:%SZ', time.gmtime(until))} (record {entry['id']})")
    return 0


def add_commands(sub) -> None:
    auth = sub.add_parser("auth", help="staff tokens: revoke, rotate the signing key, show the JWKS").add_subparsers(
        dest="auth_command", required=True)
    rev = auth.add_parser("revoke", help="refuse a token, a session or a user's tokens on every service")
    which = rev.add_mutually_exclusive_group(required=True)
    which.add_argument("--jti", help="one token (its jti claim)")
    which.add_argument("--sid", help="every token of one sign-in session (its sid claim)")
    which.add_argument("--user", help="every token of this user issued until now")
    rev.add_argument("--until", type=int, help="epoch seconds the entry lasts (default: the longest token lifetime)")
    rev.add_argument("--actor", help="who you are (default: $USER)")
    rev.add_argument("--amqp", default=os.environ.get("AMQP_URI") or DEFAULTS["AMQP_URI"],
                     help="broker URI, its vhost included (default: $AMQP_URI or make run's vhost)")
    rev.set_defaults(func=revoke)
    rot = auth.add_parser("rotate-key", help="a new signing key; the old one keeps verifying until --keep")
    rot.add_argument("--keys", help="the key file (default: AUTH_SIGNING_KEYS or make run's)")
    rot.add_argument("--jwks-out", help="where to write the public JWKS (default: make run's, for its key set)")
    rot.add_argument("--keep", type=int, default=MAX_TTL_S,
                     help="seconds a previous key keeps verifying after it was rotated out (default: 30 days, "
                          "the longest token lifetime)")
    rot.set_defaults(func=rotate_key)
    ret = auth.add_parser("retire-key", help="take a previous signing key out of the JWKS now")
    ret.add_argument("kid")
    ret.add_argument("--keys", help="the key file (default: AUTH_SIGNING_KEYS or make run's)")
    ret.add_argument("--jwks-out", help="where to write the public JWKS (default: make run's, for its key set)")
    ret.set_defaults(func=retire_key)
    pub = auth.add_parser("jwks", help="print the public JWKS of the key set")
    pub.add_argument("--keys", help="the key file (default: AUTH_SIGNING_KEYS or make run's)")
    pub.set_defaults(func=jwks)

