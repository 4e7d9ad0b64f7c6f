"""Events intake publishes: the dossier received, the citizen's contact (private), the rating."""
from marshmallow import RAISE, Schema, fields, validate

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
    procedure_code = fields.String(required=True)
    score = fields.Integer(required=True, validate=validate.Range(1, 5), metadata={"description": "1 (bad) to 5 (very good)"})
    has_comment = fields.Boolean(required=True, metadata={
        "description": "whether the citizen wrote a comment; its text stays in intake (it may hold personal data)"})
    rated_at = fields.String(required=True, metadata={"description": "UTC ISO 8601"})


EVENTS = [
    EventType("dossier.received.v1", DossierReceivedV1, "intake",
              "A center accepted a dossier: its code, procedure and appointment date."),
    EventType("citizen.contact.v1", CitizenContactV1, "intake",
              "How to reach the citizen about a dossier. Private: notification only.", visibility=PRIVATE),
    EventType("dossier.rated.v1", DossierRatedV1, "intake",
              "The citizen rated the service after the result was returned (once per dossier)."),
]
