"""Sample dossier requests built from the catalog, for the tests and the benchmark."""
from onestop.catalog import load_catalog


def dossier(center="hue-vyda", procedure_code="1.001193", channel="counter", missing=(), **citizen):
    """A POST /api/v1/dossiers body: every required document but `missing`; citizen fields override."""
    procedure = load_catalog().procedure(procedure_code)
    docs = [{"code": d.code} for d in procedure.documents if d.required and d.code not in set(missing)]
    person = {"full_name": "Nguyễn Văn An", "id_number": "046095001234", "phone": "0912345678",
              "email": "an.nguyen@example.vn", "channels": ["sms", "email"], "language": "vi"}
    person.update(citizen)
    return {"center": center, "procedure_code": procedure_code, "channel": channel,
            "citizen": person, "documents": docs}
