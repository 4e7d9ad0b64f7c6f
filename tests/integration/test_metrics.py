"""Every service's /metrics over real HTTP, the five services on real RabbitMQ: a dossier
taken in shows up as events published and consumed for its type and center, handler
latencies, HTTP requests counted by the entrypoint's rule (never the path); and no
/metrics text holds the dossier's code or anything of its citizen.

The services of one test run in one process, so they share prometheus_client's
registry (in production each is a process of its own): every figure is read by its
``service`` label, and compared with a scrape taken before the dossier.
"""
from __future__ import annotations

import re
import uuid

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import drop_databases, drop_vhost, make_vhost
from tests.integration.conftest import HTTP, Services, platform_config
from tests.support.personal_data import Citizen, unaccented
from tests.support.samples import dossier
from tests.support.staff import AUDITOR, COUNTER, bearer
from tests.support.wait import until

pytestmark = pytest.mark.integration

CENTER = "hue-vyda"
LAND = "1.013978"
TOKEN = "scrape-me-0f3c9a"  # webhooks runs with METRICS_TOKEN: its /metrics needs it
KHANH = Citizen("Lê Hữu Minh Khánh", "079203665418", "0936571284", "minhkhanh.le@song-huong.vn")
LEADER = bearer("center_leader", "leader-metrics", centers=(CENTER,))
LABELS = re.compile(r"\{[^}]*\}")


def scrape(base: str, **headers) -> requests.Response:
    return requests.get(f"{base}/metrics", headers=headers, timeout=10)


def samples(text: str) -> dict:
    """(sample name, frozenset of its labels) -> value, parsed as Prometheus would."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(figures: dict, name: str, **labels) -> float:
    """The sum of the samples of `name` whose labels include these."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in figures.items() if n == name and wanted <= ls)


def private_data(text: str, code: str) -> list[str]:
    """What of the dossier or its citizen a /metrics text shows. Sample values are numbers (counts,
    seconds) and are left out, as the citizen's digits could turn up in a float by chance."""
    shown = "\n".join(LABELS.findall(text)) + "\n" + "\n".join(re.findall(r"^#.*$", text, re.M))
    words = {"code": code, "full name": KHANH.full_name, "unaccented name": unaccented(KHANH.full_name),
             "ID number": KHANH.id_number, "phone": KHANH.phone, "phone (E.164)": "84" + KHANH.phone[1:],
             "email": KHANH.email, "email's local part": KHANH.email.split("@")[0]}
    return [f"the {what}" for what, word in words.items() if word.casefold() in shown.casefold()] + KHANH.hits(
        LABELS.findall(text))


@pytest.fixture(scope="module")
def platform(sinks):
    """The five services, once for the module (webhooks with a METRICS_TOKEN): {name: base URL}."""
    vhost, prefix = make_vhost("onestop-it"), f"t{uuid.uuid4().hex[:10]}_"
    started = Services(platform_config(f"amqp://guest:guest@127.0.0.1:5672/{vhost}", sinks, prefix))
    try:
        yield {name: started.start(cls, **({"METRICS_TOKEN": TOKEN} if name == "webhooks" else {})).http
               for name, cls in HTTP.items()}
    finally:
        started.stop_all()
        drop_vhost(vhost)
        drop_databases(prefix)


def test_each_service_counts_a_dossiers_events_and_requests_and_shows_nothing_of_it(platform):
    bases = platform
    auth = {"Authorization": f"Bearer {TOKEN}"}
    before = samples(scrape(bases["intake"]).text)

    answer = requests.post(f"{bases['intake']}/api/v1/dossiers", headers=COUNTER, timeout=10, json=dossier(
        center=CENTER, procedure_code=LAND, full_name=KHANH.full_name, id_number=KHANH.id_number,
        phone=KHANH.phone, email=KHANH.email))
    assert answer.status_code == 201, answer.text
    code = answer.json()["code"]
    until(lambda: (r := requests.get(f"{bases['routing']}/api/v1/work/dossiers/{code}", headers=LEADER,
                                     timeout=5)).ok and r.json()["status"] == "assigned", 20, 0.1, "assigned")
    until(lambda: requests.get(f"{bases['audit']}/api/v1/audit/dossiers/{code}", headers=AUDITOR, timeout=5).ok,
          20, 0.1, "the audit timeline")
    assert requests.get(f"{bases['intake']}/api/v1/dossiers/{code}", timeout=5).status_code == 200
    assert requests.get(f"{bases['intake']}/api/v1/{code}/nowhere", timeout=5).status_code == 404

    def delta(figures, name, **labels):
        return value(figures, name, **labels) - value(before, name, **labels)

    def told():  # notification took the dossier in (a receipt by SMS and email) and audit recorded it
        now = samples(scrape(bases["notification"]).text)
        return all(delta(now, "onestop_events_consumed_total", service=svc, event_type="dossier.received.v1",
                         center=CENTER, outcome="ok") >= 1 for svc in ("notification", "audit", "routing")) and now
    until(told, 20, 0.2, "dossier.received.v1 consumed by notification, audit and routing")

    texts = {name: scrape(base, **(auth if name == "webhooks" else {})) for name, base in bases.items()}
    for name, got in texts.items():
        assert got.status_code == 200, (name, got.text[:200])
        assert got.headers["Content-Type"].startswith("text/plain; version=0.0.4"), name
    figures = samples(texts["routing"].text)

    published = dict(event_type="dossier.received.v1", center=CENTER)
    assert delta(figures, "onestop_events_published_total", service="intake", **published) == 1
    for event in ("dossier.routed.v1", "dossier.assigned.v1"):
        assert delta(figures, "onestop_events_published_total", service="routing", event_type=event,
                     center=CENTER) == 1, event
    assert delta(figures, "onestop_handler_seconds_count", service="routing", event_type="dossier.received.v1") >= 1
    assert delta(figures, "onestop_handler_seconds_sum", service="routing", event_type="dossier.received.v1") > 0
    assert delta(figures, "onestop_events_consumed_total", service="intake", event_type="dossier.assigned.v1",
                 center=CENTER, outcome="ok") >= 1  # intake follows the dossier's life
    assert delta(figures, "onestop_provider_calls_total", provider="sms", outcome="ok") >= 1

    http = dict(name="onestop_http_requests_total", service="intake", method="GET")
    assert delta(figures, route="/api/v1/dossiers", status="201", **{**http, "method": "POST"}) == 1
    assert delta(figures, route="/api/v1/dossiers/<code>", status="200", **http) == 1
    assert delta(figures, route="other", status="404", **http) == 1
    routes = {dict(ls).get("route") for (n, ls) in figures if n == "onestop_http_requests_total"}
    assert not [r for r in routes if code in r or "nowhere" in r], routes  # the rule, never the path
    for svc in (name for name in HTTP if name != "console"):  # the console keeps no outbox
        assert (("onestop_outbox_pending", frozenset({("service", svc)})) in figures
                and ("onestop_outbox_lag_seconds", frozenset({("service", svc)})) in figures), svc
    assert value(figures, "onestop_breaker_state", provider="sms") == 0  # closed
    assert ("onestop_messages_held", frozenset({("center", CENTER)})) in figures

    for name, got in texts.items():
        assert private_data(got.text, code) == [], name


def test_a_metrics_token_is_asked_for_when_the_service_has_one(platform):
    webhooks = platform["webhooks"]
    for headers in ({}, {"Authorization": "Bearer not-the-token"}, {"Authorization": f"Basic {TOKEN}"}):
        refused = scrape(webhooks, **headers)
        assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer"), headers
        assert refused.json()["error"] == "unauthorized" and TOKEN not in refused.text
    assert scrape(webhooks, Authorization=f"Bearer {TOKEN}").status_code == 200
    assert scrape(platform["intake"]).status_code == 200  # no token there: open, for the internal network
