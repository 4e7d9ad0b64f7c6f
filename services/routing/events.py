"""Events routing publishes."""
from marshmallow import RAISE, Schema, fields

from onestop.events import register


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class DossierRoutedV1(_Strict):
    code = fields.String(required=True, metadata={"example": "VYDA-260213-0007"})
    procedure_code = fields.String(required=True, metadata={"example": "1.001193"})
    department_id = fields.String(required=True, metadata={"example": "vp"})
    department_name = fields.String(required=True, metadata={"example": "Văn phòng HĐND và UBND"})
    routed_at = fields.String(required=True, metadata={"description": "UTC ISO 8601"})


class DossierAssignedV1(_Strict):
    code = fields.String(required=True, metadata={"example": "VYDA-260213-0007"})
    procedure_code = fields.String(required=True)
    department_id = fields.String(required=True)
    officer_id = fields.String(required=True, metadata={"example": "vyda-o01"})
    officer_name = fields.String(required=True, metadata={"description": "the officer (staff, not the citizen)"})
    open_dossiers = fields.Integer(required=True, metadata={"description": "the officer's open dossiers, this one included"})
    assigned_at = fields.String(required=True, metadata={"description": "UTC ISO 8601"})


register("dossier.routed.v1", DossierRoutedV1, "routing",
         "The dossier went to the competent department of its center.")
register("dossier.assigned.v1", DossierAssignedV1, "routing",
         "The dossier was given to the least-loaded officer with the right skill.")
