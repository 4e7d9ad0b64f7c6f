"""What a person would notice of each accepted dossier, read through the platform's own doors.

An officer of the dossier's center finds its case in their queue and can act
on it (routing's work API, with that officer's token); the audit chain of its
center verifies (audit's verify endpoint, with an auditor's token); the citizen
got exactly one receipt SMS and one receipt email, each naming the dossier's
own code. The reads are batched: one queue page per officer and 200 cases, one
verify per center, one listing per sink. Only the case view, which carries the
officer's allowed actions, is read per dossier, a few at a time in parallel.
"""
from __future__ import annotations

import re
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

from onestop.catalog import load_catalog
from services.routing.lifecycle import STATES
from tests.support.staff import AUDITOR, bearer

PAGE = 200  # routing's largest queue page (services/routing/queries.py MAX_LIMIT)
VIEWERS = 4  # case views read side by side: the routing process answers them, the rest is idle by now
# A dossier code wherever a message names one (also inside the official code "00.00.H57.VYDA-261201-0001")
CODE_IN_TEXT = re.compile(r"(?<![A-Z])[A-Z]{2,8}-\d{6}-\d{4,}")


@dataclass
class Case:
    """A case as the officer it is assigned to sees it."""
    officer: str
    center: str
    status: str
    actions: list = field(default_factory=list)


def officer_token(center: str, officer) -> dict:
    return bearer("officer", officer.id, centers=(center,), department=officer.department)


def officer_cases(cluster, centers) -> dict[str, Case]:
    """code -> the case an officer of its center finds in their own queue, with the actions its view offers them."""
    found: dict[str, tuple] = {}
    for center in centers:
        url = cluster.host_for("routing", center).url
        for officer in load_catalog().center(center).officers:
            token = officer_token(center, officer)
            for item in _queue(url, center, token):
                found[item["code"]] = (url, token, Case(officer.id, center, item["status"]))
    with ThreadPoolExecutor(VIEWERS) as pool:
        list(pool.map(lambda entry: _view(*entry), [(code, *rest) for code, rest in found.items()]))
    return {code: case for code, (_u, _t, case) in found.items()}


def _queue(url: str, center: str, token: dict):
    """Every case of an officer's queue, whatever its state, a page at a time."""
    offset = 0
    while True:
        page = _get(f"{url}/api/v1/work/queue", token, {"center": center, "status": ",".join(STATES),
                                                        "limit": PAGE, "offset": offset}).json()
        yield from page["items"]
        offset += PAGE
        if offset >= page["total"]:
            return


_sessions = threading.local()


def _view(code: str, url: str, token: dict, case: Case) -> None:
    response = _get(f"{url}/api/v1/work/dossiers/{code}", token, expect=(200, 404))
    if response.status_code == 200 and response.json()["center"] == case.center:
        case.actions = response.json()["allowed_actions"]


def _get(url: str, headers: dict, params: dict | None = None, expect=(200,)) -> requests.Response:
    """A GET that waits out a refused connection for a while: in scenario 1c a service may be
    between a kill and its restart while it is read."""
    session = _sessions.__dict__.setdefault("session", requests.Session())
    deadline = time.monotonic() + 60
    while True:
        try:
            response = session.get(url, headers=headers, params=params, timeout=30)
            break
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    if response.status_code not in expect:
        raise AssertionError(f"GET {url} answered {response.status_code}: {response.text[:300]}")
    return response


def chains(cluster, centers) -> dict[str, dict]:
    """center -> audit's own verdict on its chain ({"ok", "entries", "first_break"})."""
    out = {}
    for center in centers:
        url = cluster.host_for("audit", center).url
        [verdict] = _get(f"{url}/api/v1/audit/verify", AUDITOR, {"center": center}).json()["centers"]
        out[center] = verdict
    return out


def codes_named(text: str) -> set[str]:
    """
    >>> sorted(codes_named("Đã tiếp nhận hồ sơ VYDA-261201-0007 (00.00.H57.VYDA-261201-0007)."))
    ['VYDA-261201-0007']
    """
    return set(CODE_IN_TEXT.findall(text))


@dataclass
class Inbox:
    """What one citizen address received: distinct messages, copies of one sent again, and the codes each names."""
    distinct: int = 0
    resent: int = 0
    codes: list = field(default_factory=list)  # one set per distinct message


def sms_inboxes(records: list[dict]) -> dict[str, Inbox]:
    """Per phone. The gateway stores a reference once (a resend is counted on the first record), so
    each record is a distinct SMS: two of them for one receipt would be two SMS on the citizen's phone."""
    boxes: dict[str, Inbox] = defaultdict(Inbox)
    for record in records:
        box = boxes[record["to"]]
        box.distinct += 1
        box.resent += record.get("resends", 0)
        box.codes.append(codes_named(record["text"]))
    return boxes


def email_inboxes(records: list[dict]) -> dict[str, Inbox]:
    """Per address, one message per Message-ID.

    SMTP has no idempotency key: a sender killed (or a relay killed) between
    the end of DATA and the 250 cannot know the message went through, and sends
    it again. Notification gives every (event, channel) a stable Message-ID, so
    such a copy is the same message (mailboxes that dedupe on Message-ID show it
    once): counted as resent; a second Message-ID for one receipt would be a
    true duplicate."""
    seen: dict[str, dict] = defaultdict(dict)
    for record in records:
        to = (record["to"][0] if isinstance(record["to"], list) else record["to"]).lower()
        seen[to].setdefault(record.get("message_id") or id(record), []).append(record)
    boxes = {}
    for to, by_id in seen.items():
        boxes[to] = Inbox(len(by_id), sum(len(copies) - 1 for copies in by_id.values()),
                          [codes_named(copies[0]["subject"] + "\n" + copies[0]["text"]) for copies in by_id.values()])
    return boxes


def reissued(codes) -> Counter:
    """Codes given to more than one accepted dossier: two citizens holding one code."""
    return Counter({code: n for code, n in Counter(codes).items() if n > 1})
