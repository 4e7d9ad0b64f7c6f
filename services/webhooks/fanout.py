"""Events into subscriptions' queues: each received event once per subscription that wants it,
and the replays an owner or an operator asks for, behind the backlog, in the original order.

Receiving never waits on HTTP: this only writes deliveries; the dispatcher sends them.
"""
from __future__ import annotations

import orjson

from onestop.errors import NotFound
from onestop.timestamps import iso, parse_time
from services.webhooks.domain import PENDING, Filter
from services.webhooks.handlers import find

HISTORY_SHOWN = 50  # attempts shown per delivery, the latest


def facts(event: dict, catalog) -> dict:
    """What filters look at: type, center, and the dossier's procedure and field where it has one:
    the envelope's ``procedure`` and ``field`` (an event of the deprecated form has neither field nor,
    always, procedure: then the data's procedure_code and the catalog's field of it)."""
    procedure = event.get("procedure") or (event.get("data") or {}).get("procedure_code")
    field = event.get("field") or catalog.field_of(procedure)
    return {"type": event["type"], "center": event["center"], "procedure": procedure, "field": field}


def accept_all(events: list[dict], *, repo, catalog, now) -> int:
    """`accept` for a batch, in order, reading the subscriptions once. The number newly queued."""
    subscriptions = repo.live()
    return sum(accept(event, repo=repo, catalog=catalog, now=now, subscriptions=subscriptions) for event in events)


def accept(event: dict, *, repo, catalog, now, subscriptions: list[dict] | None = None) -> int:
    """Queue the event for every subscription it matches (paused ones too: their backlog is kept);
    idempotent by event id. The number newly queued."""
    subscriptions = repo.live() if subscriptions is None else subscriptions
    if not subscriptions:
        return 0
    seen = facts(event, catalog)
    payload = orjson.dumps(event).decode()
    queued = 0
    for subscription in subscriptions:
        delivery_id = f"{subscription['_id']}:{event['id']}"
        if not Filter.of(subscription).wants(seen) or repo.has_delivery(delivery_id):
            continue
        queued += repo.queue(_delivery(delivery_id, subscription["_id"], event, payload, now,
                                       repo.next_seq(subscription["_id"])))
    return queued


def _delivery(delivery_id: str, sub_id: str, event: dict, payload: str, now, seq: int, replay_of=None) -> dict:
    """A queued event. Its place (``order_time``, then ``seq``) is the event's own time, so that two
    events of a dossier handled at once by two workers still go in the order they happened; a
    replay's is when it was asked for: behind the backlog."""
    event_time = parse_time(event["time"])
    return {"_id": delivery_id, "subscription_id": sub_id, "seq": seq, "event_id": event["id"],
            "event_type": event["type"], "center": event["center"], "subject": event.get("subject"),
            "event_time": event_time, "order_time": now if replay_of else event_time, "payload": payload,
            "status": PENDING, "attempts": 0, "failures": 0, "history": [], "queued_at": now,
            "replay_of": replay_of}


def replay_one(sub_id: str, event_id: str, principal, *, repo, now) -> dict:
    find(sub_id, principal, repo)
    original = repo.delivery(f"{sub_id}:{event_id}")
    if original is None:
        raise NotFound("No such event for this subscription.", fields=[{"field": "event_id", "reason": "unknown"}])
    _again(repo, original, now)
    return {"replayed": 1}


def replay_range(sub_id: str, payload: dict, principal, *, repo, now) -> dict:
    """Every event first queued for the subscription with a time in [from, to), again, oldest first."""
    find(sub_id, principal, repo)
    count = 0
    for original in repo.originals_between(sub_id, payload["from_"], payload["to"]):
        _again(repo, original, now)
        count += 1
    return {"replayed": count}


def _again(repo, original: dict, now) -> None:
    seq = repo.next_seq(original["subscription_id"])
    event = orjson.loads(original["payload"])
    repo.queue(_delivery(f"{original['_id']}:replay-{seq}", original["subscription_id"], event,
                         original["payload"], now, seq, replay_of=original["event_id"]))


def deliveries(sub_id: str, query: dict, principal, *, repo) -> dict:
    find(sub_id, principal, repo)
    total, docs = repo.listing(sub_id, query.get("status"), query["offset"], query["limit"])
    return {"deliveries": [delivery_view(d) for d in docs], "total": total,
            "limit": query["limit"], "offset": query["offset"]}


def delivery_view(doc: dict) -> dict:
    attempts = [{**a, "at": iso(a["at"])} for a in doc.get("history", [])[-HISTORY_SHOWN:]]
    return {"event_id": doc["event_id"], "event_type": doc["event_type"], "subject": doc.get("subject"),
            "center": doc["center"], "event_time": iso(doc["event_time"]), "status": doc["status"],
            "replay_of": doc.get("replay_of"), "attempts_made": doc.get("attempts", 0), "attempts": attempts}
