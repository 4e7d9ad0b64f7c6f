"""Webhooks' use cases for the subscription API: (command, principal, repository) -> answer.

Who sees a subscription: a caller whose token lists every one of its centers, and,
for an integrator, only the subscriptions it created (an operator sees all of its
centers'). Anything else answers exactly as a subscription that does not exist.
"""
from __future__ import annotations

import secrets
from datetime import timedelta

from contracts import PUBLIC, REGISTRY, make_event
from onestop.errors import Conflict, InvalidInput, NotFound
from onestop.timestamps import iso
from onestop.web import access
from services.webhooks.domain import ACTIVE, DELETED, PAUSED, rotated
from services.webhooks.sender import new_secret

EDITABLE = ("url", "centers", "event_types", "procedures", "fields", "description", "contact_email")
PUBLIC_TYPES = tuple(sorted(t for t, e in REGISTRY.items() if e.visibility == PUBLIC))


class NoSuchSubscription(NotFound):
    def __init__(self):
        super().__init__("No such subscription.", fields=[{"field": "id", "reason": "unknown"}])


def visible(subscription: dict | None, principal) -> bool:
    return (subscription is not None and subscription["state"] != DELETED
            and all(principal.may_act_for(c) for c in subscription["centers"])
            and (principal.role == "operator" or subscription["owner"] == principal.user))


def find(sub_id: str, principal, repo) -> dict:
    subscription = repo.get(sub_id)
    if not visible(subscription, principal):
        raise NoSuchSubscription()
    return subscription


def check_filters(payload: dict, catalog, principal) -> None:
    """Unknown centers, event types, procedures and fields are refused, each naming its place."""
    known = (("centers", catalog.centers), ("event_types", PUBLIC_TYPES), ("procedures", catalog.procedures),
             ("fields", catalog.fields))
    problems = [{"field": f"{name}[{i}]", "reason": f"unknown {name[:-1].replace('_', ' ')} {value!r}"}
                for name, table in known for i, value in enumerate(payload.get(name) or ()) if value not in table]
    if problems:
        raise InvalidInput(problems, "The subscription was not accepted.")
    for center in payload.get("centers") or ():
        access.require_center(principal, "webhooks.create", center)  # 403 naming the center, on update too


def _stored(payload: dict) -> dict:
    """The schema's keys as the store keeps them (``fields_`` is ``fields``)."""
    out = {k: v for k, v in payload.items() if k != "fields_"}
    if "fields_" in payload:
        out["fields"] = payload["fields_"]
    return out


def create(payload: dict, principal, *, repo, catalog, policy, bindings, now) -> dict:
    """A new active subscription and its secret, shown this once; webhooks' queues bound to what it wants
    before the answer (services/webhooks/bindings.py)."""
    body = _stored(payload)
    check_filters(body, catalog, principal)
    policy.resolve(body["url"])
    secret = new_secret()
    subscription = {"_id": "whsub_" + secrets.token_hex(8), **body, "owner": principal.user, "state": ACTIVE,
                    "state_reason": None, "secrets": [{"secret": secret, "created_at": now, "expires_at": None}],
                    "created_at": now, "updated_at": now, "version": 1, "seq": 0, "retry_at": now,
                    "lease_until": now - timedelta(seconds=1), "lease_owner": None}
    bindings.change(lambda: repo.add(subscription), repo.live, subscription["centers"], adding=[subscription])
    return {**view(subscription, 0), "secret": secret}


def update(sub_id: str, payload: dict, principal, *, repo, catalog, policy, bindings, now) -> dict:
    current = find(sub_id, principal, repo)
    body = _stored(payload)
    check_filters(body, catalog, principal)
    if "url" in body:
        policy.resolve(body["url"])
    centers = {*current["centers"], *body.get("centers", ())}
    return bindings.change(lambda: _write(repo, current, {**body, "updated_at": now}), repo.live, centers,
                           adding=[{**current, **body}])


def set_state(sub_id: str, state: str, principal, *, repo, now) -> dict:
    """Pause (by its owner or an operator) or resume; resuming restarts the backlog's retry schedule."""
    current = find(sub_id, principal, repo)
    if state == PAUSED:
        fields = {"state": PAUSED, "state_reason": f"by_{'operator' if principal.role == 'operator' else 'owner'}"}
    else:
        fields = {"state": ACTIVE, "state_reason": None, "retry_at": now}
        repo.restart_schedules(sub_id)
    events = resumed_events(current, principal, now) if state == ACTIVE and current["state"] != ACTIVE else ()
    return _write(repo, current, {**fields, "updated_at": now, "state_changed_by": principal.user}, events, now)


def resumed_events(subscription: dict, principal, now) -> list[dict]:
    """Issue 17 (alerts): one webhook.subscription_resumed.v1 per center, as its pause had."""
    data = {"subscription_id": subscription["_id"], "centers": subscription["centers"], "resumed_by": principal.user,
            "resumed_at": iso(now)}
    return [make_event("webhook.subscription_resumed.v1", center=center, subject=subscription["_id"], data=data,
                       actor=principal.actor(), time=now) for center in subscription["centers"]]


def delete(sub_id: str, principal, *, repo, bindings, now) -> dict:
    """Deleted, its backlog given up, and webhooks' queues unbound from what no other subscription wants."""
    current = find(sub_id, principal, repo)

    def write():
        _write(repo, current, {"state": DELETED, "updated_at": now, "state_changed_by": principal.user})
        repo.cancel(sub_id, now)

    bindings.change(write, repo.live, current["centers"])
    return {"id": sub_id, "state": DELETED}


def rotate(sub_id: str, principal, *, repo, now, grace: float) -> dict:
    """A new secret; the old one keeps signing beside it for `grace` seconds (both signatures sent)."""
    current = find(sub_id, principal, repo)
    secret = new_secret()
    _write(repo, current, {"secrets": rotated(current["secrets"], secret, now, grace), "updated_at": now})
    return {"secret": secret, "previous_expire_at": iso(now + timedelta(seconds=grace))}


def _write(repo, current: dict, fields: dict, events=(), now=None) -> dict:
    written = repo.change(current["_id"], current["version"], fields, events, now)
    if written is None:
        raise Conflict("The subscription changed meanwhile; read it again and retry.")
    return view(written, repo.backlog(written["_id"]))


def listing(principal, repo) -> dict:
    mine = [s for s in repo.live() if visible(s, principal)]
    return {"subscriptions": [view(s, repo.backlog(s["_id"])) for s in mine], "total": len(mine)}


def one(sub_id: str, principal, repo) -> dict:
    subscription = find(sub_id, principal, repo)
    return view(subscription, repo.backlog(sub_id))


def view(subscription: dict, backlog: int) -> dict:
    """What the API shows of a subscription: never its secrets, nor the dispatcher's lease."""
    shown = {k: subscription.get(k) for k in ("url", "centers", "event_types", "procedures", "fields", "description",
                                               "contact_email", "state", "state_reason", "owner")}
    return {"id": subscription["_id"], **shown, "backlog": backlog,
            "created_at": iso(subscription["created_at"]), "updated_at": iso(subscription["updated_at"])}
