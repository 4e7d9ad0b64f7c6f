"""Each service's OpenAPI document: valid OpenAPI 3.1 (openapi-spec-validator), one operation per
endpoint of the access table, with the security and the errors the table implies."""
from __future__ import annotations

import pytest
from openapi_spec_validator import validate

from onestop.dev import apidocs
from onestop.web import access
from onestop.web.openapi import Route, build
from services.audit.api import ROUTES


def _operations(doc: dict) -> dict:
    return {(method.upper(), path): op for path, item in doc["paths"].items() for method, op in item.items()}


@pytest.mark.parametrize("service", apidocs.SERVICES)
def test_the_document_is_valid_openapi_3_1(service):
    doc = apidocs.document(service)
    validate(doc)
    assert doc["openapi"] == "3.1.0" and doc["info"]["version"] and doc["servers"]
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


@pytest.mark.parametrize("service", apidocs.SERVICES)
def test_every_row_of_the_access_table_is_an_operation_with_its_security(service):
    operations = _operations(apidocs.document(service))
    for row in (r for r in access.ENDPOINTS if r.service == service):
        op = operations[(row.method, row.path.replace("<", "{").replace(">", "}"))]
        if row.public:
            # /metrics alone may answer 401: the optional METRICS_TOKEN, not a staff token (docs/metrics.md)
            assert op["security"] == [] and ("401" not in op["responses"]) != (row.path == "/metrics"), row.id
        else:
            assert op["security"] == [{"bearer": []}] and {"401", "403"} <= set(op["responses"]), row.id


def test_a_lifecycle_action_is_a_path_parameter_of_the_actions_the_table_lists():
    op = _operations(apidocs.document("routing"))[("POST", "/api/v1/work/dossiers/{code}/actions/{action}")]
    action = next(p for p in op["parameters"] if p["name"] == "action")
    assert sorted(action["schema"]["enum"]) == sorted(dict(r.fixed)["action"] for r in access.ENDPOINTS
                                                      if r.id.startswith("routing.act."))


def test_an_endpoint_left_out_of_the_document_or_without_a_row_is_refused():
    with pytest.raises(ValueError, match="no route for .*GET /healthz"):
        build("audit", ())
    with pytest.raises(ValueError, match="no row in onestop.web.access"):
        build("audit", (*ROUTES, Route("GET", "/api/v1/nowhere")))
