"""The wire format of intake's HTTP API (marshmallow, at the boundary only)."""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from services.intake.domain import clean_text, normalize_phone

NAME = r"^[^\W\d_]+(?:[ '\-][^\W\d_]+)*$"  # letters of any script, Vietnamese diacritics included


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
    id_number = Text(required=True, validate=validate.Regexp(r"^[0-9]{12}$", error="must be exactly 12 digits"))
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
