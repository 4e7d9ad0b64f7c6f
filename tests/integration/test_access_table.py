"""The access table walked against the running services: every row of
onestop.web.access x every role (and no token) x a token of the dossier's center
and one of another center, over real HTTP, the four services on real RabbitMQ.

Each cell must answer as the table says: a public row or an allowed role gets
its answer (200, 201, or 409/422 when the request is refused for what it is,
not for who sent it); no token 401 with the RFC 6750 challenge; a role the row
does not list 403; a role it lists, holding a token of another center, the
row's scope refusal (403, or a 404 identical to the one for something that does
not exist). A row without a request here fails the walk.
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest
import requests

from onestop.web import access
from onestop.web.auth import ROLES
from onestop.web.http import STATUS
from tests.integration.conftest import HTTP
from tests.support.samples import dossier
from tests.support.staff import AUDITOR, COUNTER, KEYS_FILE, bearer
from tests.support.wait import until

pytestmark = pytest.mark.integration

CENTER, OTHER = "hue-vyda", "hue-phuxuan"
LAND = "1.013978"  # department ktht
ALLOWED = (200, 201, 202, 409, 422)  # answered for what the request is, not for who sent it
WALKER = bearer("integrator", "integrator-walk", centers=(CENTER,))  # the integrator cells' own user
HOOK = "http://127.0.0.1:9/walk"  # nothing listens: the walk's deliveries stay pending


@dataclass(frozen=True)
class Target:
    """What the requests are about: a dossier of CENTER, and a center to name."""

    code: str
    center: str = CENTER
    held: str = "nothing:sms"  # a citizen message held by a recipient limit
    leaf: str = "00" * 32  # the audit log's leaf of the dossier's receipt
    subscription: str = "whsub_0000000000000000"  # a webhook subscription of CENTER, its event, one to delete
    event: str = "00000000-0000-0000-0000-000000000000"
    doomed: str = "whsub_0000000000000001"


NOTHING = Target("VYDA-200101-9999", "hue-nowhere")  # a dossier, a center and a held message that do not exist


def _submit(channel):
    return lambda t: ("POST", "/api/v1/dossiers", {"json": dossier(center=t.center, procedure_code=LAND,
                                                                      channel=channel)})


def _get(path, **params):
    return lambda t: ("GET", path.format(code=t.code), {"params": {k: v.format(center=t.center)
                                                                   for k, v in params.items()}})


def _act(action):
    return lambda t: ("POST", f"/api/v1/work/dossiers/{t.code}/actions/{action}", {"json": {}})


# How to call each row: (method, path, requests kwargs) for a target.
REQUESTS = {
    "intake.submit.counter": _submit("counter"),
    "intake.submit.postal": _submit("postal"),
    "intake.submit.online": _submit("online"),
    "intake.status": _get("/api/v1/dossiers/{code}"),
    "intake.rating": lambda t: ("POST", f"/api/v1/dossiers/{t.code}/rating", {"json": {}}),  # 422: no rating code
    "intake.procedures": _get("/api/v1/procedures"),
    "intake.centers": _get("/api/v1/centers"),
    "intake.healthz": _get("/healthz"),
    "intake.openapi": _get("/openapi.json"),
    "intake.privacy_export": lambda t: ("POST", "/api/v1/privacy/export", {"json": {"id_number": "046095001234"}}),
    # 409 for a citizen whose dossiers are open, 200 for one without: never erases what the walk needs
    "intake.privacy_erase": lambda t: ("POST", "/api/v1/privacy/erase",
                                       {"json": {"id_number": "046095001234", "reason": "Đơn yêu cầu xóa số 1/2026"}}),
    "routing.queue": _get("/api/v1/work/queue", center="{center}"),
    "routing.case": _get("/api/v1/work/dossiers/{code}"),
    **{row.id: _act(dict(row.fixed)["action"]) for row in access.ENDPOINTS if row.id.startswith("routing.act.")},
    "routing.reports": _get("/api/v1/reports", center="{center}"),
    "routing.healthz": _get("/healthz"),
    "routing.openapi": _get("/openapi.json"),
    "notification.healthz": _get("/healthz"),
    "notification.openapi": _get("/openapi.json"),
    "notification.privacy_export": lambda t: ("POST", "/api/v1/privacy/export", {"json": {"codes": [t.code]}}),
    "notification.held": _get("/api/v1/held", center="{center}"),
    "notification.release": lambda t: ("POST", f"/api/v1/held/{t.held}/release", {}),  # then 409: released
    "audit.timeline": _get("/api/v1/audit/dossiers/{code}"),
    "audit.verify": _get("/api/v1/audit/verify", center="{center}"),
    "audit.keys": _get("/api/v1/audit/keys"),
    "audit.checkpoint": _get("/api/v1/audit/checkpoints/latest", center="{center}"),
    "audit.sign": lambda t: ("POST", "/api/v1/audit/checkpoints", {"json": {"center": t.center}}),
    "audit.inclusion": _get("/api/v1/audit/proofs/inclusion", center="{center}", leaf_index="0"),
    "audit.consistency": _get("/api/v1/audit/proofs/consistency", center="{center}", first="1", second="1"),
    "audit.entries": _get("/api/v1/audit/entries", center="{center}"),
    "audit.receipt": lambda t: ("GET", f"/api/v1/audit/receipts/{t.leaf}", {}),
    "audit.healthz": _get("/healthz"),
    "audit.openapi": _get("/openapi.json"),
    "webhooks.create": lambda t: ("POST", "/api/v1/subscriptions", {"json": {"url": HOOK, "centers": [t.center]}}),
    "webhooks.list": _get("/api/v1/subscriptions"),
    "webhooks.get": lambda t: ("GET", f"/api/v1/subscriptions/{t.subscription}", {}),
    "webhooks.update": lambda t: ("PATCH", f"/api/v1/subscriptions/{t.subscription}", {"json": {"description": "x"}}),
    "webhooks.delete": lambda t: ("DELETE", f"/api/v1/subscriptions/{t.doomed}", {}),
    "webhooks.pause": lambda t: ("POST", f"/api/v1/subscriptions/{t.subscription}/pause", {}),
    "webhooks.resume": lambda t: ("POST", f"/api/v1/subscriptions/{t.subscription}/resume", {}),
    "webhooks.rotate_secret": lambda t: ("POST", f"/api/v1/subscriptions/{t.subscription}/rotate-secret", {}),
    "webhooks.deliveries": lambda t: ("GET", f"/api/v1/subscriptions/{t.subscription}/deliveries", {}),
    "webhooks.replay_one": lambda t: ("POST", f"/api/v1/subscriptions/{t.subscription}/deliveries/{t.event}/replay",
                                      {}),
    "webhooks.replay_range": lambda t: ("POST", f"/api/v1/subscriptions/{t.subscription}/replay",
                                        {"json": {"from": "2000-01-01T00:00:00Z", "to": "2999-01-01T00:00:00Z"}}),
    "webhooks.healthz": _get("/healthz"),
    "webhooks.openapi": _get("/openapi.json"),
    # Metrics (issue 17)
    **{f"{service}.metrics": _get("/metrics")
       for service in ("intake", "routing", "notification", "audit", "webhooks", "console", "alerts")},
    # issue 17, the console: its pages are public shells; its JSON takes the walk's bearer tokens as a session's
    "console.index": _get("/console/"),
    "console.script": _get("/console/app.js"),
    "console.style": _get("/console/app.css"),
    "console.login": _get("/console/login"),
    "console.login_dev": lambda t: ("POST", "/console/login/dev", {}),  # 422: the form's fields are missing
    "console.login_oidc": _get("/console/login/oidc"),  # no provider here: back to the sign-in page, saying so
    "console.login_callback": _get("/console/login/callback"),
    "console.logout": lambda t: ("POST", "/console/logout", {}),  # no session: nothing to end
    "console.me": _get("/console/api/me"),
    "console.ops": _get("/console/api/ops", center="{center}"),
    "console.leader": _get("/console/api/leader", center="{center}"),
    "console.replay": lambda t: ("POST", "/console/api/deadletters/replay",
                                 {"json": {"queue": f"routing/{t.center}", "ids": [t.event]}}),
    "console.healthz": _get("/healthz"),
    "console.openapi": _get("/openapi.json"),
    # Issue 17, alerts
    "alerts.list": _get("/api/v1/alerts", center="{center}"),
    "alerts.healthz": _get("/healthz"),
    "alerts.openapi": _get("/openapi.json"),
}


def callers(case: dict) -> dict:
    """(role or None, own center?) -> headers; officers are the dossier's assignee, heads of its department."""
    def token(role, center):
        user = case["officer_id"] if role == "officer" else f"{role}-walk"
        department = case["department_id"] if role in ("officer", "department_head") else None
        return bearer(role, user, centers=(center,), department=department)
    cells = {(role, own): token(role, CENTER if own else OTHER) for role in ROLES for own in (True, False)}
    return {**cells, (None, True): {}}


def expected(row: access.Endpoint, role: str | None, own: bool):
    """'allowed', or the status the table says this caller gets."""
    if row.public:
        return "allowed"
    if role is None:
        return 401
    if role not in row.roles:
        return 403
    if own or row.scope.refusal is None:  # a filtered row answers another center's token, with nothing of ours
        return "allowed"
    return STATUS[row.scope.refusal]


def call(bases: dict, row: access.Endpoint, target: Target, headers: dict) -> requests.Response:
    method, path, kwargs = REQUESTS[row.id](target)
    return requests.request(method, bases[row.service] + path, headers=headers, timeout=10, **kwargs)


def verdict(bases, row, role, own, headers, target) -> str | None:
    """None if the cell answers as the table says, else what differs."""
    want = expected(row, role, own)
    got = call(bases, row, target, headers)
    if want == "allowed" and row.scope is access.FILTERED and not own and target.code in got.text:
        return f"nothing of {target.code}'s center, got {got.text[:160]}"
    if want == "allowed":
        return None if got.status_code in ALLOWED else f"allowed, got {got.status_code} {got.text[:160]}"
    if got.status_code != want:
        return f"{want}, got {got.status_code} {got.text[:160]}"
    if want == 401 and not got.headers.get("WWW-Authenticate", "").startswith('Bearer realm="onestop"'):
        return "401 without the Bearer challenge"
    if want == 404:  # exactly what the same caller gets for something that does not exist
        twin = call(bases, row, NOTHING, headers)
        if (twin.status_code, twin.json()) != (404, got.json()):
            return f"a 404 unlike a missing one's: {got.json()} vs {twin.status_code} {twin.json()}"
    return None


@pytest.fixture
def platform(services):
    """The four services, a dossier of CENTER that routing assigned and audit recorded, and
    a second one whose receipt notification held (one message an hour per address)."""
    limit = {"notification": {"CITIZEN_MESSAGES_PER_HOUR": 1},
             "webhooks": {"WEBHOOK_ALLOW_LOOPBACK": "true", "WEBHOOK_ALLOW_HTTP": "true"},
             "console": {"CONSOLE_DEV_SIGNIN": "true", "AUTH_SIGNING_KEYS": str(KEYS_FILE)}}  # issue 17
    running = {name: services.start(cls, **limit.get(name, {})) for name, cls in HTTP.items()}
    bases = {name: c.http for name, c in running.items()}
    subscription, doomed = (requests.post(f"{bases['webhooks']}/api/v1/subscriptions", headers=WALKER, timeout=10,
                                          json={"url": HOOK, "centers": [CENTER]}).json()["id"] for _ in range(2))
    answer = requests.post(f"{bases['intake']}/api/v1/dossiers", json=dossier(center=CENTER, procedure_code=LAND),
                           headers=COUNTER, timeout=10)
    assert answer.status_code == 201, answer.text
    code = answer.json()["code"]
    leader = bearer("center_leader", "leader-walk", centers=(CENTER,))
    case = until(lambda: (r := requests.get(f"{bases['routing']}/api/v1/work/dossiers/{code}", headers=leader,
                                            timeout=5)).ok and r.json()["status"] == "assigned" and r.json(),
                 20, 0.1, "the dossier routed and assigned")
    until(lambda: requests.get(f"{bases['audit']}/api/v1/audit/dossiers/{code}", headers=AUDITOR, timeout=5).ok,
          20, 0.1, "the dossier's audit timeline")
    signed = requests.post(f"{bases['audit']}/api/v1/audit/checkpoints", json={"center": CENTER}, headers=AUDITOR,
                           timeout=10)
    assert signed.status_code == 201, signed.text  # the checkpoint the proofs' rows are about
    again = requests.post(f"{bases['intake']}/api/v1/dossiers", json=dossier(center=CENTER, procedure_code=LAND),
                          headers=COUNTER, timeout=10)
    assert again.status_code == 201, again.text
    operator = bearer("operator", "ops-walk", centers=(CENTER,))
    held = until(lambda: requests.get(f"{bases['notification']}/api/v1/held", headers=operator,
                                      timeout=5).json()["held"], 20, 0.1, "the second receipt held")
    queued = until(lambda: requests.get(f"{bases['webhooks']}/api/v1/subscriptions/{subscription}/deliveries",
                                        headers=WALKER, timeout=5).json()["deliveries"], 20, 0.1, "a webhook queued")
    return bases, {**case, "held": held[0]["id"], "leaf": answer.json()["audit"]["leaf_hash"],
                   "subscription": subscription, "doomed": doomed, "event": queued[0]["event_id"]}


def test_every_row_has_a_request():
    assert [row.id for row in access.ENDPOINTS if row.id not in REQUESTS] == []
    assert [key for key in REQUESTS if key not in access.BY_ID] == []


def test_every_cell_of_the_table_answers_as_the_table_says(platform):
    bases, case = platform
    target = Target(case["code"], held=case["held"], leaf=case["leaf"], subscription=case["subscription"],
                    event=case["event"], doomed=case["doomed"])
    cells = callers(case)
    wrong = []
    for row in access.ENDPOINTS:
        for (role, own), headers in cells.items():
            problem = verdict(bases, row, role, own, headers, target)
            if problem:
                wrong.append(f"{row.id} as {role or 'no token'} ({'own' if own else 'other'} center): "
                             f"expected {problem}")
    walked = len(access.ENDPOINTS) * len(cells)
    assert not wrong, f"{len(wrong)} of {walked} cells differ from onestop.web.access:\n" + "\n".join(wrong)
