"""Routing's lifecycle events for one dossier, numbered as routing numbers them,
for the tests that check how intake follows a dossier's life."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from contracts import make_event
from onestop.timestamps import iso
from contracts.lifecycle import LIFECYCLE

T0 = datetime(2026, 2, 13, 2, 0, tzinfo=timezone.utc)
ROUTING = {"id": "routing", "role": "system"}
OFFICER = {"id": "vyda-o01", "role": "officer"}
DOCUMENTS = ["Bản sao Giấy chứng sinh", "Giấy xác nhận cư trú"]
COLLECT_AT = "Trung tâm Phục vụ hành chính công phường Vỹ Dạ"


class Life:
    """Each call makes the next event (seq + 1) and appends it to ``events``."""

    def __init__(self, code: str, center: str = "hue-vyda", procedure_code: str = "1.001193",
                 appointment: str = "2026-02-20"):
        self.code, self.center, self.procedure_code = code, center, procedure_code
        self.seq, self.state, self.appointment = 0, "received", appointment
        self.department, self.officer = None, None
        self.events: list[dict] = []

    def _at(self) -> datetime:
        return T0 + timedelta(minutes=10 * self.seq)

    def _emit(self, type_: str, data: dict, actor: dict) -> dict:
        event = make_event(type_, center=self.center, subject=self.code, data=data, actor=actor, time=self._at())
        self.events.append(event)
        return event

    def routed(self, department: str = "vp") -> dict:
        self.seq += 1
        self.state, self.department, self.officer = "routed", department, None
        return self._emit("dossier.routed.v1", {
            "code": self.code, "procedure_code": self.procedure_code, "department_id": department,
            "department_name": "Văn phòng HĐND và UBND", "routed_at": iso(self._at()), "seq": self.seq}, ROUTING)

    def assigned(self, officer: str = "vyda-o01") -> dict:
        self.seq += 1
        self.state, self.officer = "assigned", officer
        return self._emit("dossier.assigned.v1", {
            "code": self.code, "procedure_code": self.procedure_code, "department_id": self.department,
            "officer_id": officer, "officer_name": "Nguyễn Thị Thu Hà", "open_dossiers": 1,
            "assigned_at": iso(self._at()), "seq": self.seq, "due_at": f"{self.appointment}T17:00:00+07:00"}, ROUTING)

    def act(self, action: str, to_state: str | None = None, reason: str | None = None, **extra) -> dict:
        """One transition; `to_state` defaults to the state kept (reassign, extend_deadline)."""
        self.seq += 1
        type_ = LIFECYCLE.action[action].event
        from_state, self.state = self.state, to_state or self.state
        if action == "request_supplement":
            self.appointment = None  # the clock stops
            extra.setdefault("documents", DOCUMENTS)
            extra.setdefault("remaining_working_s", 3600.0)
        if "appointment" in extra:
            self.appointment = extra.pop("appointment")
        if action in ("transfer",):
            extra.setdefault("from_department", self.department)
            self.department, self.officer = extra.pop("department", "ktht"), None
        if action == "send_back":
            self.department, self.officer = None, None
        data = {"code": self.code, "seq": self.seq, "action": action, "from_state": from_state,
                "to_state": self.state, "reason": reason, "at": iso(self._at()),
                "procedure_code": self.procedure_code, "department_id": self.department,
                "officer_id": self.officer, "appointment_date": self.appointment,
                "due_at": f"{self.appointment}T17:00:00+07:00" if self.appointment else None, **extra}
        return self._emit(type_, data, OFFICER)

    def through_a_supplement(self) -> "Life":
        """routed, assigned, work, supplement asked and received, work again, deadline moved,
        approved, result ready, returned: ten events."""
        self.routed()
        self.assigned()
        self.act("start", "in_progress")
        self.act("request_supplement", "supplement_requested", reason="Thiếu giấy tờ chứng minh cư trú")
        self.act("receive_supplement", "supplemented", appointment="2026-02-24")
        self.act("start", "in_progress")
        self.act("extend_deadline", reason="Cần xác minh thêm", appointment="2026-02-27",
                 previous_due_at="2026-02-24T17:00:00+07:00", previous_appointment_date="2026-02-24")
        self.act("approve", "approved")
        self.act("mark_result_ready", "result_ready", decision="approved", collect_at=COLLECT_AT)
        self.act("return_result", "returned", on_time=True)
        return self
