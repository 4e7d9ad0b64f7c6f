"""Events intake publishes: the dossier received, the citizen's contact (private), the rating,
the erasure of the citizen's personal data."""
from marshmallow import RAISE, Schema, fields, validate

from contracts.dossier import dossier_id_field
from contracts.envelope import PRIVATE, EventType


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class DossierReceivedV1(_Strict):
    code = fields.String(required=True, metadata={"example": "VYDA-260213-0007"})
    official_code = fields.String(required=True, metadata={"description": "<unit code>-YYMMDD-NNNN", "example": "00.00.H57.VYDA-260213-0007"})
    procedure_code = fields.String(required=True, metadata={"example": "1.001193"})
    procedure_name = fields.String(required=True, metadata={"description": "Vietnamese name", "example": "Đăng ký khai sinh"})
    field = fields.String(required=True, metadata={"example": "justice"})
    channel = fields.String(required=True, validate=validate.OneOf(["counter", "online", "postal"]))
    received_at = fields.String(required=True, metadata={"description": "UTC ISO 8601", "example": "2026-02-13T02:15:00Z"})
    appointment_date = fields.Date(required=True, metadata={"description": "result date, local", "example": "2026-02-13"})
    working_days = fields.Integer(required=True, metadata={"description": "statutory processing time"})
    missing_documents = fields.List(fields.String(), required=True, metadata={"description": "codes of required documents not handed in"})
    applicant = fields.String(required=True, metadata={"description": "masked name, e.g. 'N. V. A.'", "example": "N. V. A."})
    status = fields.String(required=True, validate=validate.Equal("received"))


class CitizenContactV1(_Strict):
    """Private: only the notification service may read it (exchange onestop.private)."""

    code = fields.String(required=True, metadata={"example": "VYDA-260213-0007"})
    dossier_id = dossier_id_field()
    full_name = fields.String(required=True, metadata={"example": "Nguyễn Văn An"})
    phone = fields.String(required=True, metadata={"description": "E.164", "example": "+84912345678"})
    email = fields.String(allow_none=True, load_default=None, metadata={"example": "an.nguyen@example.vn"})
    channels = fields.List(fields.String(validate=validate.OneOf(["sms", "email"])), required=True)
    language = fields.String(required=True, validate=validate.OneOf(["vi", "en"]))
    rating_code = fields.String(load_default=None, metadata={
        "description": "the one-use code the citizen rates the service with once the result is returned",
        "example": "K7P2QX9M"})
    lookup_code = fields.String(load_default=None, metadata={
        "description": "the code, as printed on the receipt, that shows the citizen the details of their dossier "
                       "(GET /api/v1/dossiers/<code>?lookup_code=...); intake keeps only its SHA-256",
        "example": "K7P2Q-X9MAB"})


class DossierRatedV1(_Strict):
    code = fields.String(required=True, metadata={"example": "VYDA-260213-0007"})
    dossier_id = dossier_id_field()
    procedure_code = fields.String(required=True)
    score = fields.Integer(required=True, validate=validate.Range(1, 5), metadata={"description": "1 (bad) to 5 (very good)"})
    has_comment = fields.Boolean(required=True, metadata={
        "description": "whether the citizen wrote a comment; its text stays in intake (it may hold personal data)"})
    rated_at = fields.String(required=True, metadata={"description": "UTC ISO 8601"})


# Why personal data was erased: the retention period after the dossier closed, or the citizen's request.
ERASURE_BASES = ("retention", "request")
# What intake can erase of a dossier (notification erases its whole copy of the contact).
ERASABLE = ("full_name", "id_number", "phone", "email", "notes", "rating_comment")


class CitizenDataErasedV1(_Strict):
    """Says what was erased, never what it was: no personal data (the audit chain keeps it for ever)."""

    code = fields.String(required=True, metadata={"description": "the dossier code", "example": "VYDA-260213-0007"})
    dossier_id = dossier_id_field()
    basis = fields.String(required=True, validate=validate.OneOf(ERASURE_BASES), metadata={
        "description": "retention: PERSONAL_DATA_RETENTION_DAYS after the dossier closed; "
                       "request: the citizen asked (onestop privacy erase)", "example": "request"})
    erased = fields.List(fields.String(validate=validate.OneOf(ERASABLE)), required=True, metadata={
        "description": "which of the citizen's data intake held and erased; notification erases its copy of "
                       "the contact on this event", "example": ["full_name", "id_number", "phone", "email"]})
    requested_by = fields.String(required=True, metadata={
        "description": "who asked: the operator (staff id) for a request, intake for retention",
        "example": "ops-lan"})
    closed_at = fields.String(required=True, metadata={"description": "UTC ISO 8601: when the dossier closed",
                                                       "example": "2026-02-20T08:30:00.000Z"})
    erased_at = fields.String(required=True, metadata={"description": "UTC ISO 8601",
                                                       "example": "2026-05-21T09:00:00.000Z"})


EVENTS = [
    EventType("dossier.received.v1", DossierReceivedV1, "intake",
              "A center accepted a dossier: its code, procedure and appointment date."),
    EventType("citizen.contact.v1", CitizenContactV1, "intake",
              "How to reach the citizen about a dossier. Private: notification only.", visibility=PRIVATE),
    EventType("dossier.rated.v1", DossierRatedV1, "intake",
              "The citizen rated the service after the result was returned (once per dossier)."),
    EventType("citizen.data_erased.v1", CitizenDataErasedV1, "intake",
              "The citizen's personal data held for a closed dossier was erased (retention or request)."),
]
