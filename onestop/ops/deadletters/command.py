"""`onestop dlq ...`: the operators' dead-letter commands (docs/operations.md).

    onestop dlq list [--service S] [--center C]
    onestop dlq show QUEUE [--id ID] [--limit N]
    onestop dlq replay QUEUE (--id ID ... | --all) [--actor NAME]
    onestop dlq purge QUEUE [--yes]

QUEUE is ``onestop.<service>.<center>.dlq`` or ``<service>/<center>``.
"""
from __future__ import annotations

import argparse
import getpass
import json
import os
import sys

from onestop.config import DEFAULTS
from onestop.ops.console import typed_confirmation
from onestop.ops.deadletters import queues as dl

AMQP_URI = DEFAULTS["AMQP_URI"]  # make run's vhost
MGMT_URL = "http://guest:guest@127.0.0.1:15672"
ERROR_WIDTH = 72
QUEUE_HELP = "onestop.<service>.<center>.dlq or <service>/<center>, e.g. routing/hue-vyda"


def queue_arg(text: str) -> dl.DlqName:
    try:
        return dl.parse_queue(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return int(text)


def add_commands(sub) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--amqp", default=os.environ.get("AMQP_URI") or AMQP_URI,
                        help="broker URI, its vhost included (default: $AMQP_URI or amqp://guest:***@127.0.0.1:5672/onestop-dev)")
    common.add_argument("--mgmt", default=os.environ.get("RABBIT_MGMT_URL") or MGMT_URL,
                        help="management API (default: $RABBIT_MGMT_URL or http://guest:***@127.0.0.1:15672)")
    dlq = sub.add_parser("dlq", help="list, show, replay and purge dead letters").add_subparsers(
        dest="dlq_command", required=True)
    listing = dlq.add_parser("list", parents=[common], help="dead letters per service and center")
    listing.add_argument("--service")
    listing.add_argument("--center")
    listing.set_defaults(func=dlq_list)
    show = dlq.add_parser("show", parents=[common], help="a queue's dead letters, or one in full")
    show.add_argument("queue", type=queue_arg, help=QUEUE_HELP)
    show.add_argument("--id", help="show this one in full: its error, history and envelope")
    show.add_argument("--limit", type=positive, default=20)
    show.set_defaults(func=dlq_show)
    replay = dlq.add_parser("replay", parents=[common], help="put dead letters back on their work queue (audited)")
    replay.add_argument("queue", type=queue_arg, help=QUEUE_HELP)
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", dest="ids", metavar="ID", action="append", help="a dead letter's id (repeatable)")
    which.add_argument("--all", action="store_true", help="every dead letter now in the queue")
    replay.add_argument("--actor", help="who replays, for the audit (default: $USER)")
    replay.set_defaults(func=dlq_replay)
    purge = dlq.add_parser("purge", parents=[common], help="delete a queue's dead letters for good")
    purge.add_argument("queue", type=queue_arg, help=QUEUE_HELP)
    purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    purge.set_defaults(func=dlq_purge)


def table(headers: list[str], rows: list, right: tuple = ()) -> str:
    """Columns as wide as their widest cell; the columns named in ``right`` right-aligned."""
    cells = [list(map(str, headers))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join("  ".join(cell.rjust(w) if headers[i] in right else cell.ljust(w)
                               for i, (cell, w) in enumerate(zip(row, widths))).rstrip() for row in cells)


def one_line(text: str, width: int = ERROR_WIDTH) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[:width - 1] + "…"


def dlq_list(args) -> int:
    rows = dl.list_queues(args.amqp, args.mgmt, args.service, args.center)
    if not rows:
        print(f"no dead-letter queues in vhost {dl.vhost_of(args.amqp)!r}"
              + (" for that service/center" if args.service or args.center else " (no service has started yet?)"))
        return 0
    print(table(["SERVICE", "CENTER", "QUEUE", "MESSAGES"], rows, right=("MESSAGES",)))
    total = sum(row.messages for row in rows)
    print(f"\n{total} dead letter{'s' * (total != 1)} in {sum(1 for r in rows if r.messages)} of {len(rows)} queues")
    return 0


def dlq_show(args) -> int:
    letters = dl.browse(args.amqp, args.queue.name)
    if args.id:
        found = [letter for letter in letters if letter.id == args.id]
        if not found:
            print(f"no dead letter with id {args.id} in {args.queue.name} ({len(letters)} there)", file=sys.stderr)
            return 1
        print(detail(found[0], args.queue))
        return 0
    shown = letters[:args.limit]
    print(f"{args.queue.name}: {len(letters)} dead letter{'s' * (len(letters) != 1)}"
          + (f" (the first {len(shown)})" if len(shown) < len(letters) else ""))
    if shown:
        print(table(["#", "ID", "DEAD-LETTERED AT", "REASON", "TYPE", "SUBJECT", "ERROR"],
                    [(n, lt.id, lt.dead_lettered_at or "-", lt.reason, lt.event_type or "-", lt.subject or "-",
                      one_line(lt.error) or "-") for n, lt in enumerate(shown, 1)], right=("#",)))
    return 0


def detail(letter: dl.DeadLetter, queue: dl.DlqName) -> str:
    lines = [f"{label:<17} {value}" for label, value in (
        ("id", letter.id), ("queue", f"{queue.name} (replays to {queue.work_queue})"),
        ("type", letter.event_type or "-"), ("subject", letter.subject or "-"), ("center", letter.center or "-"),
        ("routing key", letter.routing_key or "-"), ("reason", letter.reason),
        ("dead-lettered at", letter.dead_lettered_at or "-"), ("replayed before", f"{letter.replay_count} times"))]
    lines += ["error", f"  {letter.error or '-'}", f"history ({len(letter.history)})"]
    lines += [f"  {n}. {entry}" for n, entry in enumerate(letter.history, 1)] or ["  -"]
    if letter.envelope is None:
        lines += ["body (not an event, cannot be replayed)", f"  {letter.body[:2000]!r}"]
    else:
        lines += ["envelope", *("  " + line for line in json.dumps(letter.envelope, indent=2,
                                                                     ensure_ascii=False).splitlines())]
    return "\n".join(lines)


def dlq_replay(args) -> int:
    actor = args.actor or os.environ.get("USER") or getpass.getuser()
    report = dl.replay(args.amqp, args.queue.name, None if args.all else args.ids, actor)
    if args.all and not (report.replayed or report.skipped):
        print(f"nothing to replay: {args.queue.name} has no dead letters")
        return 0
    for letter in report.replayed:
        print(f"replayed   {letter.id}  {letter.event_type}  {letter.subject}")
    for letter, why in report.skipped:
        print(f"skipped    {letter.id}  {why}")
    for missing in report.missing:
        print(f"not found  {missing}  (not in {args.queue.name})", file=sys.stderr)
    print(f"{len(report.replayed)} replayed to {args.queue.work_queue} by {actor} (audited), "
          f"{len(report.skipped)} skipped, {len(report.missing)} not found")
    return 1 if report.skipped or report.missing else 0


def dlq_purge(args) -> int:
    name = args.queue.name
    count = dl.depth(args.amqp, name)
    if not args.yes and not confirmed(name, count):
        print(f"not purged: {name} keeps its {count} dead letter{'s' * (count != 1)}", file=sys.stderr)
        return 1
    purged = dl.purge(args.amqp, name)
    print(f"purged {purged} dead letter{'s' * (purged != 1)} from {name}")
    return 0


def confirmed(name: str, count: int) -> bool:
    """The operator types the queue name."""
    return typed_confirmation(f"Delete {count} dead letter{'s' * (count != 1)} from {name} for good?",
                              name, "purge", named="the queue name")
