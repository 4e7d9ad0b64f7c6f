"""The wire format of intake's HTTP API (marshmallow, at the boundary only)."""
from __future__ import annotations

import re

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from onestop.web.http import Answer
from services.intake.domain import LOOKUP_CODE, clean_text, normalize_phone, normalize_rating_code

NAME = r"^[^\W\d_]+(?:[ '\-][^\W\d_]+)*$"  # letters of any script, Vietnamese diacritics included
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # the header Idempotency-Key: 1 to 255 printable ASCII
ID_NUMBER = validate.Regexp(r"^[0-9]{12}$", error="must be exactly 12 digits")  # the citizen identity card's


class Text(fields.String):
    """A string that is NFC-normalised and refuses control characters."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return clean_text(text)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class Phone(Text):
    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return normalize_phone(super()._deserialize(value, attr, data, **kwargs))
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class CitizenSchema(_Strict):
    full_name = Text(required=True, validate=[validate.Length(min=2, max=100),
                                              validate.Regexp(NAME, error="letters, spaces, ' and - only")])
    id_number = Text(required=True, validate=ID_NUMBER)
    phone = Phone(required=True)
    email = Text(load_default=None, allow_none=True,
                 validate=[validate.Length(max=254), validate.Email(error="not a valid email address")])
    channels = fields.List(fields.String(validate=validate.OneOf(["sms", "email"])),
                           load_default=lambda: ["sms", "email"], validate=validate.Length(min=1, max=2))
    language = fields.String(load_default="vi", validate=validate.OneOf(["vi", "en"]))

    @validates_schema
    def _reachable(self, data, **kwargs):
        if "email" in data.get("channels", []) and not data.get("email"):
            raise ValidationError("required when 'email' is among the channels", "email")


class DocumentSchema(_Strict):
    code = Text(required=True, validate=validate.Length(min=1, max=64))
    copies = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100))
    note = Text(load_default=None, allow_none=True, validate=validate.Length(max=500))


class DossierRequestSchema(_Strict):
    """POST /api/v1/dossiers. Example::

        {"center": "hue-vyda", "procedure_code": "1.001193", "channel": "counter",
         "citizen": {"full_name": "Nguyễn Văn An", "id_number": "046095001234",
                     "phone": "0912345678", "email": "an@example.vn",
                     "channels": ["sms", "email"], "language": "vi"},
         "documents": [{"code": "birth-notice"}, {"code": "id-card"}]}
    """

    center = Text(required=True, validate=validate.Length(min=1, max=64))
    procedure_code = Text(required=True, validate=validate.Length(min=1, max=64))
    channel = fields.String(required=True, validate=validate.OneOf(["counter", "online", "postal"]))
    citizen = fields.Nested(CitizenSchema, required=True)
    documents = fields.List(fields.Nested(DocumentSchema), load_default=list, validate=validate.Length(max=50))
    note = Text(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class RatingCode(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return normalize_rating_code(super()._deserialize(value, attr, data, **kwargs))
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class Score(fields.Integer):
    """A whole number: 4.0, "4" and true are refused, not coerced."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, error_messages={"invalid": SCORE_RULE}, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class Comment(fields.String):
    """Free text up to `max_length` characters: line breaks are kept, tabs become
    spaces, other control characters are refused; a blank comment is none."""

    def __init__(self, max_length: int, **kwargs):
        self.max_length = max_length
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).replace("\r\n", "\n").replace("\r", "\n")
        try:
            text = "\n".join(clean_text(line.replace("\t", " ")) for line in text.split("\n")).strip()
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        if len(text) > self.max_length:
            raise ValidationError(f"at most {self.max_length} characters (got {len(text)})")
        return text or None


SCORE_RULE = "a whole number from 1 (very dissatisfied) to 5 (very satisfied)"


class RatingRequestSchema(_Strict):
    """POST /api/v1/dossiers/<code>/rating. Example::

        {"rating_code": "K7P2QX9M", "score": 5, "comment": "Nhanh, chu đáo."}
    """

    rating_code = RatingCode(required=True)
    score = Score(required=True, validate=validate.Range(min=1, max=5, error=SCORE_RULE))
    comment = Comment(1000, load_default=None, allow_none=True)


RETIRED = "no longer accepted: give lookup_code, the code printed on the receipt and sent in the receipt SMS and email"


def lookup_code(args, headers) -> str | None:
    """The citizen's proof from ``?lookup_code=`` or the header ``X-Lookup-Code``, canonical;
    None if neither (`args`, `headers`: the request's mappings).

    Raises ValidationError({field: [reason]}) when it is malformed, when the two
    disagree, or when the retired proof (``phone_last4``: 3 of its 4 digits were
    known from a masked phone) is given.
    """
    for name, value in (("phone_last4", args.get("phone_last4")), ("X-Phone-Last4", headers.get("X-Phone-Last4"))):
        if value is not None:
            raise ValidationError({name: [RETIRED]})
    given = {name: value for name, value in (("lookup_code", args.get("lookup_code")),
                                             ("X-Lookup-Code", headers.get("X-Lookup-Code"))) if value is not None}
    codes = set()
    for name, value in given.items():
        try:
            codes.add(LOOKUP_CODE.normalize(value))
        except ValueError as exc:
            raise ValidationError({name: [str(exc)]}) from None
    if len(codes) > 1:
        raise ValidationError({"lookup_code": ["the query parameter and the X-Lookup-Code header disagree"]})
    return codes.pop() if codes else None


class CitizenLookupSchema(_Strict):
    """POST /api/v1/privacy/export (operators). The ID number travels in the body, never in
    the URL, so it stays out of access logs. Example::

        {"id_number": "046095001234"}
    """

    id_number = Text(required=True, validate=ID_NUMBER)


class ErasureRequestSchema(CitizenLookupSchema):
    """POST /api/v1/privacy/erase (operators). Example::

        {"id_number": "046095001234", "reason": "Đơn yêu cầu xóa dữ liệu số 12/2026 ngày 05/01/2026"}
    """

    reason = Text(required=True, validate=validate.Length(min=5, max=500))


# --- what intake answers (documented in its OpenAPI document, services/intake/api.py) ---

class LabelSchema(Answer):
    vi = fields.String(required=True)
    en = fields.String(required=True)


class BilingualSchema(Answer):
    """What the catalog names in both languages (a procedure, a center, a department, a document)."""

    name_vi = fields.String(required=True)
    name_en = fields.String(required=True)


class NamedSchema(BilingualSchema):
    """A procedure, center or document as a receipt names it."""

    code = fields.String()
    id = fields.String()


class AuditLeafSchema(Answer):
    leaf_hash = fields.String(required=True, metadata={"description": "the receipt's leaf in the center's audit log"})
    proof = fields.String(required=True, metadata={"description": "where anyone can have the log prove it"})


class _Standing(Answer):
    code = fields.String(required=True, metadata={"example": "VYDA-260213-0007"})
    status = fields.String(required=True)
    status_label = fields.Nested(LabelSchema, required=True)
    procedure = fields.Nested(NamedSchema, required=True)
    center = fields.Nested(NamedSchema, required=True)


class ReceiptSchema(_Standing):
    """201 to POST /api/v1/dossiers: the receipt and appointment slip."""

    received_at = fields.String(required=True, metadata={"format": "date-time"})
    appointment_date = fields.String(required=True, allow_none=True, metadata={"format": "date"})
    official_code = fields.String(required=True)
    working_days = fields.Integer(required=True)
    missing_documents = fields.List(fields.Nested(NamedSchema), required=True)
    lookup_code = fields.String(required=True, allow_none=True,
                                metadata={"description": "only in the answer that created the dossier"})
    audit = fields.Nested(AuditLeafSchema, required=True, allow_none=True)
    links = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class StepSchema(Answer):
    step = fields.String(required=True)
    label = fields.Nested(LabelSchema, required=True)
    at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})


class StatusSchema(_Standing):
    """200 to GET /api/v1/dossiers/<code>: public (with ``see_more``), or with the lookup code
    the citizen's details (received_at, appointment_date, steps, rated, ...)."""

    see_more = fields.Nested(LabelSchema)
    received_at = fields.String(metadata={"format": "date-time"})
    appointment_date = fields.String(allow_none=True, metadata={"format": "date"})
    steps = fields.List(fields.Nested(StepSchema))
    rated = fields.Boolean()
    supplement = fields.Dict(metadata={"description": "while papers are asked for: documents, requested_at, reason"})
    result = fields.Dict(metadata={"description": "once decided: decision, collect_at, ready_at, returned_at"})
    next_step = fields.Nested(LabelSchema, metadata={"description": "what the citizen is asked to do now"})


class RatingSchema(Answer):
    score = fields.Integer(required=True)
    comment = fields.String(required=True, allow_none=True)
    rated_at = fields.String(required=True, metadata={"format": "date-time"})


class RatedSchema(Answer):
    """201 to POST /api/v1/dossiers/<code>/rating."""

    code = fields.String(required=True)
    rating = fields.Nested(RatingSchema, required=True)


class CatalogDocumentSchema(BilingualSchema):
    code = fields.String(required=True)
    required = fields.Boolean(required=True)


class ProcedureSchema(BilingualSchema):
    """A procedure of the catalog (onestop/data/catalog.yaml), as onestop.catalog.Procedure shows it."""

    code = fields.String(required=True, metadata={"example": "1.004873"})
    field = fields.String(required=True)
    department = fields.String(required=True)
    working_days = fields.Integer(required=True)
    cutoff_applies = fields.Boolean(required=True)
    documents = fields.List(fields.Nested(CatalogDocumentSchema), required=True)
    fee_vnd = fields.Integer(required=True, allow_none=True)
    fee_note = fields.String(required=True)
    sources = fields.List(fields.String(), required=True)
    assumptions = fields.List(fields.String(), required=True)


class DepartmentSchema(BilingualSchema):
    id = fields.String(required=True)
    fields_ = fields.List(fields.String(), required=True, data_key="fields")


class OfficerSchema(Answer):
    id = fields.String(required=True)
    name = fields.String(required=True)
    department = fields.String(required=True)
    skills = fields.List(fields.String(), required=True)


class CenterSchema(BilingualSchema):
    """A center of the catalog, without its staff's contacts."""

    id = fields.String(required=True, metadata={"example": "hue-vyda"})
    short_code = fields.String(required=True)
    unit_code = fields.String(required=True)
    timezone = fields.String(required=True)
    cutoff = fields.String(required=True, metadata={"example": "15:00"})
    office_hours = fields.List(fields.List(fields.String()), required=True)
    departments = fields.List(fields.Nested(DepartmentSchema), required=True)
    officers = fields.List(fields.Nested(OfficerSchema), required=True)
    routing = fields.Dict(required=True)
    overrides = fields.Dict(required=True)


class ProceduresSchema(Answer):
    procedures = fields.List(fields.Nested(ProcedureSchema), required=True)


class CentersSchema(Answer):
    centers = fields.List(fields.Nested(CenterSchema), required=True)


class ExportSchema(Answer):
    """200 to POST /api/v1/privacy/export: every dossier of the token's centers with the ID number."""

    dossiers = fields.List(fields.Dict(), required=True)


class ErasedSchema(Answer):
    code = fields.String(required=True)
    status = fields.String(required=True)
    erased = fields.List(fields.String())


class ErasureSchema(Answer):
    """200 to POST /api/v1/privacy/erase."""

    erased = fields.List(fields.Nested(ErasedSchema), required=True)
