"""Who may do what on the staff API (role x center x endpoint), and the state
machine driven through HTTP by hypothesis: it never reaches a state the
domain model forbids, and a refused action changes nothing."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from services.routing import lifecycle
from tests.integration.test_work_api import CENTER, LAND, OTHER, Staff, routing, seed, token  # noqa: F401

ALL_CENTERS = ("hue-vyda", "hue-phuxuan", "hue-thuanhoa", "hue-huongthuy")


def principals(case):
    """Every kind of caller, as (name, token), for a dossier of `case`."""
    dept, officer = case["department_id"], case["officer_id"]
    other_dept = "vp" if dept != "vp" else "ktht"
    return {
        "counter": token("counter_staff", "counter-01"),
        "assignee": token("officer", officer, department=dept),
        "other_officer": token("officer", "someone-else", department=dept),
        "officer_other_dept": token("officer", "vyda-o01", department=other_dept),
        "head": token("department_head", "head", department=dept),
        "head_other_dept": token("department_head", "head2", department=other_dept),
        "leader": token("center_leader", "leader"),
        "auditor": token("auditor", "aud", centers=ALL_CENTERS),
        "operator": token("operator", "ops"),
        "portal": token("portal", "portal-dvc"),
        "leader_other_center": token("center_leader", "leader-px", centers=(OTHER,)),
    }


# caller -> (GET queue, GET case, POST start, GET reports)
MATRIX = {
    "counter": (200, 200, 403, 403),
    "assignee": (200, 200, 200, 403),
    "other_officer": (200, 200, 403, 403),
    "officer_other_dept": (200, 404, 404, 403),
    "head": (200, 200, 200, 200),
    "head_other_dept": (200, 404, 404, 200),
    "leader": (200, 200, 403, 200),
    "auditor": (200, 200, 403, 200),
    "operator": (403, 403, 403, 403),  # a role with no access to cases: 403, whatever the dossier
    "portal": (403, 403, 403, 403),
    "leader_other_center": (403, 404, 403, 403),  # a leader may not start any dossier: 403 before the center
}


@pytest.mark.parametrize("caller", sorted(MATRIX))
def test_the_access_matrix(routing, caller):  # noqa: F811
    container, repo = routing
    staff = Staff(container)
    case = seed(repo, procedure=LAND)
    tok = principals(case)[caller]
    got = (
        staff.get("/api/v1/work/queue", tok, center=CENTER).status_code,
        staff.get(f"/api/v1/work/dossiers/{case['_id']}", tok).status_code,
        staff.act(case["_id"], "start", tok).status_code,
        staff.get("/api/v1/reports", tok, center=CENTER).status_code,
    )
    assert got == MATRIX[caller]


def test_the_state_machine_through_http_never_leaves_the_domain_model(routing):  # noqa: F811
    container, repo = routing
    staff = Staff(container)

    class Life(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.case = seed(repo, procedure=LAND)
            self.code = self.case["_id"]
            self.callers = principals(self.case)
            self.state, self.seq = "assigned", 2

        def current(self):
            body = staff.get(f"/api/v1/work/dossiers/{self.code}", self.callers["leader"]).json()
            return body

        @rule(action=st.sampled_from(lifecycle.ACTION_NAMES + ("bogus",)),
              caller=st.sampled_from(sorted(MATRIX)),
              reason=st.sampled_from([None, "", "Lý do", "  "]),
              documents=st.sampled_from([None, [], ["Bản vẽ"], [""]]),
              officer=st.sampled_from([None, "vyda-o04", "vyda-o03", "nobody"]),
              department=st.sampled_from([None, "vp", "ktht", "vhxh", "nope"]),
              due=st.sampled_from([None, "2027-01-04", "2027-01-02", "not-a-date"]))
        def act(self, action, caller, reason, documents, officer, department, due):
            body = {k: v for k, v in dict(reason=reason, documents=documents, officer=officer,
                                          department=department, due=due).items() if v is not None}
            before = self.current()
            response = staff.act(self.code, action, self.callers[caller], **body)
            after = self.current()
            assert response.status_code in (200, 403, 404, 409, 422), response.text
            if response.status_code != 200:
                assert (after["status"], after["seq"], len(after["history"])) == \
                       (before["status"], before["seq"], len(before["history"]))  # nothing half-written
                if response.status_code == 409:
                    assert response.json()["current_state"] == before["status"]
                return
            # accepted: the domain model allows this action from the state it was in, for this role
            assert lifecycle.can(self.callers_role(caller), action)
            expected = lifecycle.transition(before["status"], action)
            if action in ("transfer", "route") and after["status"] == "assigned":
                expected = lifecycle.transition(expected, "assign")  # the new department's officer, at once
            assert after["status"] == expected
            assert after["seq"] > before["seq"]
            self.state = after["status"]
            self.callers = principals({**self.case, "department_id": after["department_id"] or "vp",
                                       "officer_id": after["officer_id"] or "none"})

        def callers_role(self, caller):
            return {"counter": "counter_staff", "assignee": "officer", "other_officer": "officer",
                    "officer_other_dept": "officer", "head": "department_head",
                    "head_other_dept": "department_head", "leader": "center_leader", "auditor": "auditor",
                    "operator": "operator", "portal": "portal", "leader_other_center": "center_leader"}[caller]

        @invariant()
        def the_history_replays_to_the_state(self):
            body = self.current()
            assert body["status"] in lifecycle.STATES
            assert lifecycle.replay(body["history"]).state == body["status"]
            assert [h["seq"] for h in body["history"][2:]] == list(range(3, body["seq"] + 1))

    run_state_machine_as_test(Life, settings=settings(max_examples=12, stateful_step_count=12, deadline=None,
                                                      suppress_health_check=list(HealthCheck)))
