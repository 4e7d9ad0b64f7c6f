"""The wire format of routing's staff API as its OpenAPI document shows it (services/routing/api.py).

The action body is checked by the dossier's life (services/routing/lifecycle.py: each action's
``needs``), which names every field to blame; this schema only describes it to clients.
"""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from onestop.web.http import Answer, PageSchema

TEXT = validate.Length(min=1)


class ActionRequestSchema(Schema):
    """POST /api/v1/work/dossiers/<code>/actions/<action>: the fields the action needs (others: 422). Example::

        {"reason": "Thiếu bản sao giấy khai sinh", "documents": ["birth_declaration"]}
    """

    reason = fields.String(validate=TEXT, metadata={"description": "why; needed by reject, withdraw, transfer, ..."})
    documents = fields.List(fields.String(validate=TEXT), validate=validate.Length(min=1),
                            metadata={"description": "request_supplement: the missing documents"})
    department = fields.String(validate=TEXT, metadata={"description": "route, transfer: the department id"})
    officer = fields.String(validate=TEXT, metadata={"description": "assign, reassign: the officer id"})
    due = fields.Date(metadata={"description": "extend_deadline: the new due date"})


class CaseSchema(Answer):
    """A dossier's case as staff see it, with the caller's next actions."""

    code = fields.String(required=True, metadata={"example": "VYDA-260213-0007"})
    center = fields.String(required=True)
    procedure_code = fields.String(required=True)
    department_id = fields.String(required=True, allow_none=True)
    officer_id = fields.String(required=True, allow_none=True)
    status = fields.String(required=True)
    seq = fields.Integer(required=True, allow_none=True)
    appointment_date = fields.String(required=True, allow_none=True)
    due_at = fields.Raw(required=True, allow_none=True)
    working_days = fields.Integer(required=True, allow_none=True)
    received_at = fields.String(required=True, allow_none=True)
    supplement = fields.Dict(required=True, allow_none=True)
    decision = fields.Raw(required=True, allow_none=True)
    on_time = fields.Boolean(required=True, allow_none=True)
    rating = fields.Dict(required=True, allow_none=True)
    clock = fields.Dict(required=True, allow_none=True)
    history = fields.List(fields.Dict(), required=True)
    allowed_actions = fields.List(fields.String(), required=True)


class QueueItemSchema(Answer):
    code = fields.String(required=True)
    status = fields.String(required=True)
    procedure_code = fields.String(required=True)
    department_id = fields.String(required=True, allow_none=True)
    officer_id = fields.String(required=True, allow_none=True)
    due_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    appointment_date = fields.String(required=True, allow_none=True, metadata={"format": "date"})
    received_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    clock_stopped = fields.Boolean(required=True, metadata={"description": "waiting for the citizen's papers"})


class QueuePageSchema(PageSchema):
    items = fields.List(fields.Nested(QueueItemSchema), required=True)


class FiguresSchema(Answer):
    """A report's figures, for the center, a department or an officer."""

    received = fields.Integer(required=True)
    in_progress = fields.Integer(required=True)
    result_ready = fields.Integer(required=True)
    on_time = fields.Integer(required=True)
    overdue = fields.Integer(required=True)
    withdrawn = fields.Integer(required=True)
    avg_processing_working_days = fields.Float(required=True, allow_none=True)
    supplement_rate = fields.Float(required=True, allow_none=True)
    avg_satisfaction = fields.Float(required=True, allow_none=True)
    ratings = fields.Integer(required=True)


class DepartmentFiguresSchema(FiguresSchema):
    department_id = fields.String(required=True)


class OfficerFiguresSchema(FiguresSchema):
    officer_id = fields.String(required=True)
    officer_name = fields.String(required=True)


class TodayFiguresSchema(FiguresSchema):
    """The figures of the dossiers received today (the center's day), whatever the period."""

    date = fields.Date(required=True)


def _levels(description: str, value) -> dict:
    return {str(level): value(required=True, metadata={"description": description}) for level in range(1, 6)}


SatisfactionLevelsSchema = Answer.from_dict(_levels("ratings at this level", fields.Integer),
                                            name="SatisfactionLevelsSchema")


class LevelLabelSchema(Answer):
    vi = fields.String(required=True, metadata={"example": "Rất hài lòng"})
    en = fields.String(required=True, metadata={"example": "very satisfied"})


SatisfactionLabelsSchema = Answer.from_dict(
    {str(level): fields.Nested(LevelLabelSchema, required=True) for level in range(1, 6)},
    name="SatisfactionLabelsSchema")


class IndicatorSchema(Answer):
    """One Decision 766/QĐ-TTg indicator: value = numerator ÷ denominator (null when there is nothing to count)."""

    id = fields.String(required=True, validate=validate.OneOf(["on_time_rate", "satisfaction_rate", "online_rate"]))
    value = fields.Float(required=True, allow_none=True, validate=validate.Range(0, 1))
    numerator = fields.Integer(required=True, validate=validate.Range(min=0))
    denominator = fields.Integer(required=True, validate=validate.Range(min=0))
    left_out = fields.Integer(required=True, validate=validate.Range(min=0), metadata={
        "description": "the period's dossiers outside the denominator (withdrawn; not rated; channel unknown)"})
    formula_vi = fields.String(required=True)
    formula_en = fields.String(required=True)
    source = fields.String(required=True, metadata={"description": "where the formula comes from; "
                                                                   "'Assumption:' marks what no source fixes"})


class DayFiguresSchema(Answer):
    date = fields.Date(required=True)
    received = fields.Integer(required=True)
    result_ready = fields.Integer(required=True, metadata={
        "description": "the period's dossiers whose result was ready that day"})


class DeadlineRowSchema(Answer):
    """A case on the overdue or due-soon list (no citizen data)."""

    code = fields.String(required=True, metadata={"example": "VYDA-260213-0007"})
    procedure_code = fields.String(required=True)
    department_id = fields.String(required=True, allow_none=True)
    officer_id = fields.String(required=True, allow_none=True)
    officer_name = fields.String(required=True, allow_none=True)
    due_at = fields.String(required=True, metadata={"format": "date-time"})


class ReportSchema(Answer):
    center = fields.String(required=True)
    department = fields.String(required=True, allow_none=True)
    from_ = fields.Date(required=True, data_key="from")
    to = fields.Date(required=True)
    totals = fields.Nested(FiguresSchema, required=True)
    departments = fields.List(fields.Nested(DepartmentFiguresSchema), required=True)
    officers = fields.List(fields.Nested(OfficerFiguresSchema), required=True)
    # issue 17 (the leaders' console): today, the five levels, the 766 indicators, the days, the lists
    today = fields.Nested(TodayFiguresSchema, required=True)
    satisfaction_levels = fields.Nested(SatisfactionLevelsSchema, required=True)
    satisfaction_labels = fields.Nested(SatisfactionLabelsSchema, required=True)
    indicators = fields.List(fields.Nested(IndicatorSchema), required=True)
    daily = fields.List(fields.Nested(DayFiguresSchema), required=True)
    due_soon_within = fields.String(required=True, metadata={
        "description": "working time (DUE_SOON's largest offset) within which a due time is 'soon'", "example": "1d"})
    overdue_list = fields.List(fields.Nested(DeadlineRowSchema), required=True, metadata={
        "description": "every case open past its due time now, whenever received; soonest due first, at most 50"})
    overdue_list_truncated = fields.Boolean(required=True)
    due_soon_list = fields.List(fields.Nested(DeadlineRowSchema), required=True, metadata={
        "description": "every case due within due_soon_within, whenever received; soonest first, at most 50"})
    due_soon_list_truncated = fields.Boolean(required=True)
