"""The wire format of notification's HTTP API (marshmallow, at the boundary only)."""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

CODE = validate.Regexp(r"^[A-Z]{2,8}-\d{6}-\d{4,}$", error="not a dossier code like VYDA-260213-0007")


class HeldDataRequestSchema(Schema):
    """POST /api/v1/privacy/export (operators): the dossiers intake found for a citizen. Example::

        {"codes": ["VYDA-260213-0007", "PXUA-260301-0012"]}
    """

    class Meta:
        unknown = RAISE

    codes = fields.List(fields.String(validate=CODE), required=True, validate=validate.Length(min=1, max=500))
