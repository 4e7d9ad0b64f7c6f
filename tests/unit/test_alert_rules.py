"""The alerts' rules: one alert per incident, resolved once clear for long enough, a flapping
condition raising nothing more, a restart raising nothing again; what the watches make of what
they saw; the runbook lines the emails carry are those of docs/operations.md."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from onestop.catalog import load_catalog
from onestop.storage.sqlite import Client
from services.alerts import domain, handlers
from services.alerts.domain import Finding, QueueGrowth, plan
from services.alerts.mailer import body, subject
from services.alerts.runbook import WHAT_TO_DO
from services.alerts.store import AlertsRepository

T0 = datetime(2026, 2, 16, 5, 0, tzinfo=timezone.utc)
SMS = Finding("breaker_open:sms", "breaker_open", "all", "The sms provider's circuit breaker is open", "open")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def repo(tmp_path):
    """The durable embedded store, as the service runs on it; `reopen()` is a restarted process."""
    def reopen():
        return AlertsRepository(Client(tmp_path)["alerts"])
    made = reopen()
    made.ensure_indexes()
    made.reopen = reopen
    return made


def look(repo, findings, seconds, resolve_after=30):
    return handlers.look(findings, repo=repo, now=at(seconds), resolve_after=resolve_after, docs_url="docs/ops.md",
                         notify=True)


def test_a_condition_raises_one_alert_however_long_it_lasts(repo):
    raised = [len(look(repo, [SMS], s).raised) for s in range(0, 100, 15)]
    assert raised == [1, 0, 0, 0, 0, 0, 0]
    (alert,) = repo.open_alerts()
    assert alert["kind"] == "breaker_open" and alert["runbook"] == "docs/ops.md#alert-breaker-open"
    published = [(e["event"]["type"], e["event"]["center"]) for e in repo.alerts.find_one({})["outbox"]]
    assert published == [("ops.alert_raised.v1", c) for c in sorted(load_catalog().centers)]  # the platform's
    assert [n for n, state in alert["notices"].items() if state == "pending"] == ["raised"]


def test_it_is_resolved_only_once_clear_for_resolve_after_and_only_once(repo):
    look(repo, [SMS], 0)
    assert look(repo, [], 15).clearing and not repo.alerts.find_one({"state": "resolved"})
    assert not look(repo, [], 40).resolved  # clear since 15 s: 25 s < 30 s
    assert len(look(repo, [], 45).resolved) == 1
    assert not look(repo, [], 60).resolved and repo.open_alerts() == []
    done = repo.alerts.find_one({"state": "resolved"})
    assert done["notices"] == {"raised": "pending", "resolved": "pending"}
    assert [e["event"]["type"] for e in done["outbox"]][-1] == "ops.alert_resolved.v1"
    assert len({e["event"]["data"]["alert_id"] for e in done["outbox"]}) == 1


def test_a_flapping_condition_stays_one_incident(repo):
    for second, seen in ((0, True), (15, False), (20, True), (25, False), (35, True), (40, False), (50, True)):
        look(repo, [SMS] if seen else [], second)
    assert repo.alerts.count_documents({}) == 1 and repo.open_alerts()[0]["clear_since"] is None


def test_what_could_not_be_seen_is_neither_cleared_nor_resolved(repo):
    dead = Finding("dead_letter:onestop.routing.hue-vyda.dlq", "dead_letter", "hue-vyda", "Dead letters", "1")
    look(repo, [SMS, dead], 0)
    for second in (15, 30, 45, 60):  # the broker unreadable, notification down: nothing is known of either
        todo = handlers.look([], repo=repo, now=at(second), resolve_after=30, docs_url="d", notify=True,
                             unknown=("dead_letter:", "queue_growing:", "breaker_open:"))
        assert not (todo.clearing or todo.resolved)
    assert len(look(repo, [dead], 75).clearing) == 1  # seen again, and the breaker is closed


def test_it_comes_back_after_being_resolved_as_a_new_incident(repo):
    look(repo, [SMS], 0), look(repo, [], 10), look(repo, [], 50)
    assert len(look(repo, [SMS], 60).raised) == 1
    assert [a["state"] for a in repo.alerts.find({}, sort=[("raised_at", 1)])] == ["resolved", "open"]


def test_a_restarted_process_raises_nothing_again(repo):
    look(repo, [SMS], 0)
    restarted = repo.reopen()
    assert not look(restarted, [SMS], 15).raised and restarted.alerts.count_documents({}) == 1
    look(restarted, [], 30)
    assert len(look(repo.reopen(), [], 61).resolved) == 1  # its clearing, too, survived the restart


def test_a_notice_is_emailed_once_and_one_the_server_refused_waits(repo):
    class Mailer:
        def __init__(self, fail):
            self.fail, self.sent = fail, []

        def send(self, alert, notice):
            if self.fail:
                raise ConnectionRefusedError("down")
            self.sent.append((alert["title"], notice))

    look(repo, [SMS], 0)
    assert handlers.send_notices(repo=repo, mailer=Mailer(fail=True)) == 0
    working = Mailer(fail=False)
    assert handlers.send_notices(repo=repo, mailer=working) == 1
    assert handlers.send_notices(repo=repo, mailer=working) == 0
    look(repo, [], 10), look(repo, [], 45)
    handlers.send_notices(repo=repo, mailer=working)
    assert working.sent == [(SMS.title, "raised"), (SMS.title, "resolved")]


def test_a_queue_grows_when_it_grew_at_every_look_for_long_enough():
    growth = QueueGrowth(seconds=60)
    work, dlq = "onestop.notification.hue-vyda", "onestop.notification.hue-vyda.dlq"
    seen = [growth.observe({work: n, dlq: n}, at(s)) for s, n in ((0, 5), (20, 8), (40, 8), (60, 12))]
    assert [len(f) for f in seen] == [0, 0, 0, 1] and seen[-1][0].key == f"queue_growing:{work}"
    assert growth.observe({work: 11}, at(80)) == []  # it shrank: over, and a streak starts again
    assert growth.observe({work: 30}, at(120)) == []
    assert growth.observe({work: 40}, at(140)) != []


def test_the_health_of_a_service_becomes_its_findings():
    ok = {"status": "ok", "checks": {"broker": True, "store": True}, "outbox_lag_seconds": 0.2,
          "providers": {"sms": {"state": "half_open", "opened_at": "x", "consecutive_failures": 5},
                        "email": {"state": "closed"}}}
    assert [f.key for f in domain.health("notification", ok, "", 60)] == ["breaker_open:sms"]
    assert [f.key for f in domain.health("intake", {**ok, "providers": {}, "outbox_lag_seconds": 75}, "", 60)] == [
        "outbox_stale:intake"]
    down = domain.health("routing", {"status": "unhealthy", "checks": {"broker": False, "store": True}}, "", 60)
    assert [(f.key, f.details) for f in down] == [("service_down:routing", "broker failing")]
    assert domain.health("audit", None, "no answer", 60)[0].details == "no answer"


def test_dead_letters_are_one_incident_per_queue_holding_any():
    found = domain.dead_letters({"onestop.routing.hue-vyda.dlq": 2, "onestop.routing.hue-phuxuan.dlq": 0,
                                 "onestop.routing.hue-vyda": 9, "onestop.unrouted": 4})
    assert [(f.key, f.center) for f in found] == [("dead_letter:onestop.routing.hue-vyda.dlq", "hue-vyda")]


def event(type_, center, data, time):
    return {"type": type_, "center": center, "data": data, "time": time}


def test_overdue_dossiers_are_one_incident_per_center_until_each_is_dealt_with(repo):
    for code in ("VYDA-260213-0007", "VYDA-260213-0008"):
        handlers.on_event(event("dossier.overdue.v1", "hue-vyda", {"code": code}, "2026-02-16T05:00:00.000Z"),
                          repo=repo)
    (finding,) = handlers.signalled(repo)
    assert finding.title == "2 dossier(s) overdue at hue-vyda" and "VYDA-260213-0008" in finding.details
    handlers.on_event(event("dossier.result_ready.v1", "hue-vyda", {"code": "VYDA-260213-0007"},
                            "2026-02-16T06:00:00.000Z"), repo=repo)
    # an overdue delivered late, after the result: it undoes nothing
    handlers.on_event(event("dossier.overdue.v1", "hue-vyda", {"code": "VYDA-260213-0007"},
                            "2026-02-16T05:00:00.000Z"), repo=repo)
    handlers.on_event(event("dossier.returned.v1", "hue-vyda", {"code": "VYDA-999999-0001"},
                            "2026-02-16T06:00:00.000Z"), repo=repo)  # never overdue: nothing kept for it
    assert [f.title for f in handlers.signalled(repo)] == ["1 dossier(s) overdue at hue-vyda"]
    assert repo.signals.count_documents({}) == 2
    handlers.on_event(event("dossier.deadline_extended.v1", "hue-vyda", {"code": "VYDA-260213-0008"},
                            "2026-02-16T07:00:00.000Z"), repo=repo)
    assert handlers.signalled(repo) == []


def test_a_paused_subscription_is_an_incident_until_resumed(repo):
    paused = {"subscription_id": "whsub_1", "state": "paused", "reason": "retries_exhausted", "url_host": "h.vn",
              "head_event_id": "e1", "attempts": 11, "last_error": "HTTP 503", "centers": ["hue-vyda"]}
    handlers.on_event(event("webhook.subscription_paused.v1", "hue-vyda", paused, "2026-02-16T05:00:00.000Z"),
                      repo=repo)
    assert [f.key for f in handlers.signalled(repo)] == ["webhook_paused:whsub_1:hue-vyda"]
    handlers.on_event(event("webhook.subscription_resumed.v1", "hue-vyda", {"subscription_id": "whsub_1"},
                            "2026-02-16T06:00:00.000Z"), repo=repo)
    assert handlers.signalled(repo) == []


def test_every_email_carries_the_runbook_lines_of_docs_operations():
    docs = DOCS.read_text(encoding="utf-8")
    for kind, anchor in domain.RUNBOOK.items():
        assert f'<a id="{anchor}"></a>' in docs, anchor
        section = docs.split(f'<a id="{anchor}"></a>', 1)[1].split("<a id=", 1)[0]
        for line in WHAT_TO_DO[kind]:
            assert line.replace("`", "") in re.sub(r"`", "", section), (kind, line)
    alert = {"kind": "breaker_open", "center": "all", "title": SMS.title, "details": "open",
             "raised_at": "2026-02-16T05:00:00.000Z", "resolved_at": None}
    assert subject(alert, "raised") == "[OneStop alert] The sms provider's circuit breaker is open"
    assert subject(alert, "resolved").startswith("[OneStop alert] resolved: ")
    assert WHAT_TO_DO["breaker_open"][0] in body(alert, "raised", "docs/operations.md")
    assert "docs/operations.md#alert-breaker-open" in body(alert, "raised", "docs/operations.md")
