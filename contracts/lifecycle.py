"""The dossier's life, described once: its states and its actions, as plain data.

This is the public description of the lifecycle. Routing runs it
(``services/routing/lifecycle.py`` checks roles, scope, fields and the decree
rules; ``services/routing/cases.py`` applies the clock and case effects),
``contracts/routing.py`` builds one event type per action from it, and intake
shows it to the citizen (``services/intake/progress.py``). A subscriber reads
an event's ``action``, ``from_state`` and ``to_state`` against this table.

The main paths::

    received → routed → assigned → in_progress → approved | rejected → result_ready → returned
    assigned | in_progress → supplement_requested → supplemented → (start) in_progress
    routed | assigned | in_progress | supplemented → (transfer) routed | (send_back) received
    received … supplemented → (withdraw) withdrawn

``returned`` and ``withdrawn`` are terminal. Choices the table makes:

* **Withdrawal** is allowed in every state before a decision (``received``
  through ``supplemented``); once ``approved`` or ``rejected`` the decision
  stands and the result is produced and returned.
* **After a supplement** the officer resumes with ``start`` (``supplemented →
  in_progress``); ``approve``/``reject`` are accepted only from
  ``in_progress``, so every decision follows an explicit "work resumed" event
  and the pause (the due date moves by its length) ends at a known time.
* **Transfer** sends the dossier to ``routed`` in the new department (the
  officer is cleared; the new department assigns) and records
  ``from_department``; the target must differ from the current department.
  **Send back** returns it to intake (``received``; department and officer
  cleared) for re-routing.
* ``reassign`` and ``extend_deadline`` keep the state; ``reassign`` records
  ``from_officer``.

Adding an action is adding one
``Action`` to ``_ACTIONS`` (plus, if its event carries data of its own, its
schema in ``contracts/routing.py``, and, if the citizen is told, its
``message`` and that template's files in ``services/notification/templates``). Pure data: no imports from ``onestop`` or ``services``.

    >>> LIFECYCLE.action["reject"].to_state("in_progress"), LIFECYCLE.action["reassign"].to_state("assigned")
    ('rejected', 'assigned')
    >>> LIFECYCLE.of_event["dossier.returned.v1"].name
    'return_result'
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

SAME = "="  # the to-state of an action that keeps the state

# What an action does to the deadline clock (routing's cases apply it).
PAUSE, RESUME, EXTEND = "pause", "resume", "extend"
# What an action records on routing's case, besides its state (routing's cases apply it).
SUPPLEMENT_REQUESTED, SUPPLEMENT_RECEIVED = "supplement_requested", "supplement_received"
DECISION, RESULT, CLOSED, RETURNED = "decision", "result", "closed", "returned"
# The decree rules (Decree 61/2018, Art. 9) an action is subject to (routing's lifecycle checks them).
SUPPLEMENT_ONCE, SUPPLEMENT_WINDOW, EXTEND_ONCE = "supplement_once", "supplement_window", "extend_once"
AT = "at"  # a fact taken from the event's time of transition


class Label(NamedTuple):
    """A text for the citizen, in both languages."""

    vi: str
    en: str


@dataclass(frozen=True)
class State:
    """One state: what the citizen's status page calls it, and what it asks them to do."""

    name: str
    public: str  # approved and rejected are both "processed" until the citizen proves who they are
    label: Label
    next_step: Label | None = None
    terminal: bool = False
    staff: str = ""  # how the deadline escalations name it to staff (Vietnamese); "" where none is sent


@dataclass(frozen=True)
class Action:
    """One action, everything about it: the machine, its event, the case, the citizen's view."""

    name: str
    sources: tuple[str, ...]
    target: str  # SAME keeps the state
    roles: frozenset[str]
    event: str
    summary: str  # docs/events.md shows it
    needs: tuple[str, ...] = ()  # the fields the action must carry
    # the dossier's department or officer it replaces: the new one must differ, the old one
    # is recorded as ``from_<field>``
    replaces: str | None = None
    clears: tuple[str, ...] = ()  # what the dossier no longer has afterwards (department, officer)
    rules: tuple[str, ...] = ()
    clock: str | None = None
    case: tuple[str, ...] = ()
    step: Label | None = None  # the citizen's history line; None: internal, not shown
    shows: tuple[str, ...] = ()  # event data the citizen's history line shows (otherwise staff notes)
    facts: tuple[tuple[str, str], ...] = ()  # (the citizen's dossier field, the event data field or AT)
    message: str | None = None  # the template notification sends the citizen (services/notification/templates)

    def __post_init__(self):
        object.__setattr__(self, "roles", frozenset(self.roles))  # written as tuples in the table

    def to_state(self, state: str) -> str:
        return state if self.target == SAME else self.target


@dataclass(frozen=True)
class Lifecycle:
    """The states and actions, with the lookups every reader needs (cached: the object is frozen)."""

    states: tuple[State, ...]
    actions: tuple[Action, ...]

    @cached_property
    def state(self) -> dict[str, State]:
        return {s.name: s for s in self.states}

    @cached_property
    def action(self) -> dict[str, Action]:
        return {a.name: a for a in self.actions}

    @cached_property
    def of_event(self) -> dict[str, Action]:
        return {a.event: a for a in self.actions}

    def plus(self, *actions: Action, states: tuple[State, ...] = ()) -> "Lifecycle":
        """This lifecycle with more actions (and states): how a new action is tried out."""
        return Lifecycle(self.states + states, self.actions + actions)


_STATES = (
    State("received", "received", Label("Đã tiếp nhận", "Received"),
          staff="Mới tiếp nhận"),
    State("routed", "routed", Label("Đã chuyển đến phòng chuyên môn", "Sent to the competent department"),
          staff="Đã chuyển phòng chuyên môn"),
    State("assigned", "assigned", Label("Đã giao cán bộ xử lý", "Assigned to an officer"),
          staff="Đã phân công, chưa xử lý"),
    State("in_progress", "in_progress", Label("Đang xử lý", "In process"),
          staff="Đang xử lý"),
    State("supplement_requested", "supplement_requested", Label("Yêu cầu bổ sung giấy tờ", "Supplement requested"),
          next_step=Label("Vui lòng nộp bổ sung các giấy tờ được yêu cầu; ngày hẹn trả mới được tính khi nhận đủ.",
                          "Please hand in the papers asked for; the new appointment date is set once they arrive."),
          staff="Chờ bổ sung giấy tờ"),
    State("supplemented", "supplemented",
          Label("Đã bổ sung giấy tờ, chờ xử lý tiếp", "Supplement received, processing resumes"),
          staff="Đã bổ sung giấy tờ, chờ xử lý tiếp"),
    State("approved", "processed", Label("Đã xử lý xong", "Processed"),
          staff="Đã phê duyệt, chưa có kết quả"),
    State("rejected", "processed", Label("Đã xử lý xong", "Processed"),
          staff="Không giải quyết, chưa trả văn bản"),
    State("result_ready", "result_ready", Label("Đã có kết quả, chờ trả", "Result ready for collection"),
          next_step=Label("Kết quả đã sẵn sàng; vui lòng đến nhận tại nơi ghi dưới đây.",
                          "The result is ready; please collect it where shown below.")),
    State("returned", "returned", Label("Đã trả kết quả", "Result returned"), terminal=True,
          next_step=Label("Mời bạn đánh giá mức độ hài lòng bằng mã đánh giá đã được gửi.",
                          "Please rate the service with the rating code you were sent.")),
    State("withdrawn", "withdrawn", Label("Công dân đã rút hồ sơ", "Withdrawn at the citizen's request"), terminal=True),
)

_BEFORE_DECISION = ("received", "routed", "assigned", "in_progress", "supplement_requested", "supplemented")
_WORKING = ("routed", "assigned", "in_progress", "supplemented")
_OPEN = tuple(s.name for s in _STATES if not s.terminal)
_OFFICER_WORK = ("officer", "department_head")

_ACTIONS = (
    Action("route", ("received",), "routed", ("system", "counter_staff"), needs=("department",),
           event="dossier.routed.v1", summary="The dossier went to the competent department of its center.",
           step=Label("Chuyển đến phòng chuyên môn", "Sent to the competent department")),
    Action("assign", ("routed",), "assigned", ("system", "department_head"), needs=("officer",),
           event="dossier.assigned.v1",
           summary="The dossier was given to the least-loaded officer with the right skill.",
           step=Label("Giao cán bộ xử lý", "Assigned to an officer")),
    Action("start", ("assigned", "supplemented"), "in_progress", _OFFICER_WORK,
           event="dossier.work_started.v1", summary="An officer started work on the dossier.",
           step=Label("Bắt đầu xử lý", "Processing started")),
    Action("request_supplement", ("assigned", "in_progress"), "supplement_requested", _OFFICER_WORK,
           needs=("reason", "documents"), rules=(SUPPLEMENT_ONCE, SUPPLEMENT_WINDOW),
           clock=PAUSE, case=(SUPPLEMENT_REQUESTED,), event="dossier.supplement_requested.v1",
           summary="The department asked the citizen, once and completely, for missing papers; "
                   "the deadline clock stops.",
           step=Label("Yêu cầu bổ sung giấy tờ", "Supplement requested"), shows=("reason",),
           facts=(("supplement.documents", "documents"), ("supplement.requested_at", AT),
                  ("supplement.reason", "reason")), message="supplement_requested"),
    Action("receive_supplement", ("supplement_requested",), "supplemented", ("counter_staff",) + _OFFICER_WORK,
           clock=RESUME, case=(SUPPLEMENT_RECEIVED,), event="dossier.supplement_received.v1",
           summary="The missing papers arrived; the deadline clock runs again with the time that was left.",
           step=Label("Đã nhận giấy tờ bổ sung", "Supplement received"),
           facts=(("supplement.received_at", AT),), message="supplement_received"),
    Action("approve", ("in_progress",), "approved", _OFFICER_WORK, case=(DECISION,),
           event="dossier.approved.v1", summary="The dossier was approved.",
           step=Label("Hồ sơ được chấp thuận", "Dossier approved"), facts=(("result.decision", "to_state"),)),
    Action("reject", ("in_progress",), "rejected", _OFFICER_WORK, needs=("reason",), case=(DECISION,),
           event="dossier.rejected.v1", summary="The dossier was rejected, with the reason.",
           step=Label("Hồ sơ không được chấp thuận", "Dossier rejected"), shows=("reason",),
           facts=(("result.decision", "to_state"),)),
    Action("mark_result_ready", ("approved", "rejected"), "result_ready", _OFFICER_WORK, case=(RESULT,),
           event="dossier.result_ready.v1", summary="The result waits at the center for the citizen.",
           step=Label("Kết quả sẵn sàng để nhận", "Result ready for collection"),
           facts=(("result.decision", "decision"), ("result.collect_at", "collect_at"), ("result.ready_at", AT)),
           message="result_ready"),
    Action("return_result", ("result_ready",), "returned", ("counter_staff",), case=(CLOSED, RETURNED),
           event="dossier.returned.v1", summary="The result was handed back to the citizen; the dossier is closed.",
           step=Label("Đã trả kết quả", "Result returned"),
           facts=(("result.returned_at", AT), ("result.on_time", "on_time")), message="rating_invite"),
    Action("withdraw", _BEFORE_DECISION, "withdrawn", ("counter_staff",), needs=("reason",), case=(CLOSED,),
           event="dossier.withdrawn.v1", summary="The citizen withdrew the dossier; it is closed.",
           step=Label("Rút hồ sơ theo yêu cầu của công dân", "Withdrawn at the citizen's request"),
           shows=("reason",), facts=(("closed_at", AT),), message="withdrawn"),
    Action("transfer", _WORKING, "routed", ("department_head",), needs=("reason", "department"),
           replaces="department", clears=("officer",),
           event="dossier.transferred.v1", summary="The dossier moved to another department.",
           step=Label("Chuyển sang phòng chuyên môn khác", "Moved to another department")),
    Action("send_back", _WORKING, "received", ("department_head", "system"), needs=("reason",),
           clears=("department", "officer"),
           event="dossier.sent_back.v1", summary="The dossier went back to intake to be routed again.",
           step=Label("Chuyển lại bộ phận một cửa để phân công lại", "Sent back to the front desk to be routed again")),
    Action("reassign", ("assigned", "in_progress", "supplement_requested", "supplemented"), SAME,
           ("department_head",), needs=("officer",), replaces="officer",
           event="dossier.reassigned.v1", summary="The department head gave the dossier to another officer."),
    Action("extend_deadline", tuple(s for s in _OPEN if s != "result_ready"), SAME, ("center_leader",),
           needs=("reason", "due"), rules=(EXTEND_ONCE,), clock=EXTEND,
           event="dossier.deadline_extended.v1",
           summary="The center leader set a new due date; the citizen gets an apology with the new date.",
           step=Label("Xin lỗi và hẹn lại ngày trả kết quả", "Apology and a new appointment date"),
           shows=("reason", "appointment_date"), message="apology"),
)

LIFECYCLE = Lifecycle(_STATES, _ACTIONS)
