"""How a dossier's life, as routing publishes it, looks to the citizen (pure).

Routing owns the lifecycle and numbers each transition (``seq``: 1 routed,
2 assigned, then +1 per transition). Intake follows it: the dossier takes the
state of the highest ``seq`` it has seen, since events may arrive out of order
or twice, and keeps one history entry per event. The life loops (supplement
requested and supplemented, transfer back to routed, sent back to received),
so the state alone cannot tell old from new; the ``seq`` can.

What the citizen sees is coarser than routing's states: ``approved`` and
``rejected`` are both ``processed`` until the citizen proves who they are
(the decision is a detail), and internal steps (a change of officer) are not
shown at all.
"""
from __future__ import annotations


from onestop.timestamps import iso, parse_time
from contracts.routing import TRANSITION_EVENTS

ROUTED, ASSIGNED = "dossier.routed.v1", "dossier.assigned.v1"
# The seq routed/assigned had before they carried one (the first route and assignment).
LEGACY_SEQ = {ROUTED: 1, ASSIGNED: 2}
ACTION_OF_TYPE = {ROUTED: "route", ASSIGNED: "assign", **{t: a for a, (t, _, _) in TRANSITION_EVENTS.items()}}
LIFECYCLE_TYPES = tuple(ACTION_OF_TYPE)

# routing state -> (public status, Vietnamese label, English label)
STATUS = {
    "received": ("received", "Đã tiếp nhận", "Received"),
    "routed": ("routed", "Đã chuyển đến phòng chuyên môn", "Sent to the competent department"),
    "assigned": ("assigned", "Đã giao cán bộ xử lý", "Assigned to an officer"),
    "in_progress": ("in_progress", "Đang xử lý", "In process"),
    "supplement_requested": ("supplement_requested", "Yêu cầu bổ sung giấy tờ", "Supplement requested"),
    "supplemented": ("supplemented", "Đã bổ sung giấy tờ, chờ xử lý tiếp", "Supplement received, processing resumes"),
    "approved": ("processed", "Đã xử lý xong", "Processed"),
    "rejected": ("processed", "Đã xử lý xong", "Processed"),
    "result_ready": ("result_ready", "Đã có kết quả, chờ trả", "Result ready for collection"),
    "returned": ("returned", "Đã trả kết quả", "Result returned"),
    "withdrawn": ("withdrawn", "Công dân đã rút hồ sơ", "Withdrawn at the citizen's request"),
}

# step (action) -> (Vietnamese, English); actions missing here are internal and not shown.
STEPS = {
    "received": ("Tiếp nhận hồ sơ", "Dossier received"),
    "route": ("Chuyển đến phòng chuyên môn", "Sent to the competent department"),
    "assign": ("Giao cán bộ xử lý", "Assigned to an officer"),
    "start": ("Bắt đầu xử lý", "Processing started"),
    "request_supplement": ("Yêu cầu bổ sung giấy tờ", "Supplement requested"),
    "receive_supplement": ("Đã nhận giấy tờ bổ sung", "Supplement received"),
    "approve": ("Hồ sơ được chấp thuận", "Dossier approved"),
    "reject": ("Hồ sơ không được chấp thuận", "Dossier rejected"),
    "mark_result_ready": ("Kết quả sẵn sàng để nhận", "Result ready for collection"),
    "return_result": ("Đã trả kết quả", "Result returned"),
    "withdraw": ("Rút hồ sơ theo yêu cầu của công dân", "Withdrawn at the citizen's request"),
    "transfer": ("Chuyển sang phòng chuyên môn khác", "Moved to another department"),
    "send_back": ("Chuyển lại bộ phận một cửa để phân công lại", "Sent back to the front desk to be routed again"),
    "extend_deadline": ("Xin lỗi và hẹn lại ngày trả kết quả", "Apology and a new appointment date"),
}
REASON_SHOWN = ("request_supplement", "reject", "withdraw", "extend_deadline")  # others are staff notes
LEGACY_STEP = {"received": "received", "routed": "route", "assigned": "assign"}

NEXT_STEP = {
    "supplement_requested": ("Vui lòng nộp bổ sung các giấy tờ được yêu cầu; ngày hẹn trả mới được tính khi nhận đủ.",
                             "Please hand in the papers asked for; the new appointment date is set once they arrive."),
    "result_ready": ("Kết quả đã sẵn sàng; vui lòng đến nhận tại nơi ghi dưới đây.",
                     "The result is ready; please collect it where shown below."),
    "returned": ("Mời bạn đánh giá mức độ hài lòng bằng mã đánh giá đã được gửi.",
                 "Please rate the service with the rating code you were sent."),
}


def public_status(state: str) -> dict:
    status, vi, en = STATUS.get(state, (state, state, state))
    return {"status": status, "status_label": {"vi": vi, "en": en}}


def follow(event: dict) -> dict:
    """What one routing event does to the dossier, as three parts of an update:

    - ``seq``, and ``current``: the state and current facts, to be applied only
      if ``seq`` is above the stored one;
    - ``facts``: what this event alone tells (documents asked for, the decision,
      where to collect), recorded once, whatever the order of arrival;
    - ``entry``: its history entry.
    """
    event_type, data = event["type"], event["data"]
    action = ACTION_OF_TYPE[event_type]
    seq = data.get("seq") or LEGACY_SEQ.get(event_type)
    if event_type == ROUTED:
        to_state, at = "routed", data.get("routed_at")
        current = {"department_id": data["department_id"], "officer_id": None}
    elif event_type == ASSIGNED:
        to_state, at = "assigned", data.get("assigned_at")
        current = {"department_id": data["department_id"], "officer_id": data["officer_id"]}
    else:
        to_state, at = data["to_state"], data["at"]
        current = {k: data.get(k) for k in ("department_id", "officer_id", "due_at")}
        if "appointment_date" in data:  # null while the clock is stopped for a supplement
            current["appointment_date"] = data["appointment_date"]
    current["status"] = to_state
    at = at or event["time"]
    entry = {"status": to_state, "step": action, "seq": seq, "at": parse_time(at), "event_id": event["id"]}
    if action in REASON_SHOWN and data.get("reason"):
        entry["reason"] = data["reason"]
    if action == "extend_deadline":
        entry["appointment_date"] = data.get("appointment_date")
    return {"seq": seq, "current": current, "facts": _facts(action, data, at), "entry": entry}


def _facts(action: str, data: dict, at: str) -> dict:
    if action == "request_supplement":
        return {"supplement.documents": list(data["documents"]), "supplement.requested_at": at,
                "supplement.reason": data.get("reason")}
    if action == "receive_supplement":
        return {"supplement.received_at": at}
    if action in ("approve", "reject"):
        return {"result.decision": data["to_state"]}
    if action == "mark_result_ready":
        return {"result.decision": data["decision"], "result.collect_at": data["collect_at"],
                "result.ready_at": at}
    if action == "return_result":
        return {"result.returned_at": at, "result.on_time": data["on_time"]}
    if action == "withdraw":
        return {"closed_at": at}
    return {}


def citizen_steps(history: list) -> list[dict]:
    """The steps the citizen may see, in the order routing numbered them."""
    steps = []
    for entry in sorted(history, key=_order):
        step = entry.get("step") or LEGACY_STEP.get(entry.get("status"))
        if step not in STEPS:
            continue
        vi, en = STEPS[step]
        shown = {"step": step, "label": {"vi": vi, "en": en}, "at": _iso(entry["at"])}
        for key in ("reason", "appointment_date"):
            if entry.get(key):
                shown[key] = entry[key]
        steps.append(shown)
    return steps


def _iso(at) -> str:
    if isinstance(at, str):
        return at
    return iso(at)


def _order(entry: dict):
    seq = entry.get("seq")
    if seq is None:
        seq = {"received": 0, "routed": 1, "assigned": 2}.get(entry.get("status"), 0)
    return seq, _iso(entry["at"]) if entry.get("at") else ""


def next_step(state: str, rated: bool) -> dict | None:
    if state == "returned" and rated:
        return None
    text = NEXT_STEP.get(state)
    return {"vi": text[0], "en": text[1]} if text else None
