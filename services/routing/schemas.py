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


class ReportSchema(Answer):
    center = fields.String(required=True)
    department = fields.String(required=True, allow_none=True)
    from_ = fields.Date(required=True, data_key="from")
    to = fields.Date(required=True)
    totals = fields.Nested(FiguresSchema, required=True)
    departments = fields.List(fields.Nested(DepartmentFiguresSchema), required=True)
    officers = fields.List(fields.Nested(OfficerFiguresSchema), required=True)
