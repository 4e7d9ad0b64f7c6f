"""The access table (onestop.web.access): one row for every HTTP entrypoint of every
service, and the checks the services make with it."""
from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR
from nameko.web.handlers import HttpRequestHandler

from contracts.lifecycle import LIFECYCLE
from onestop import errors
from onestop.web import access
from onestop.web.auth import ROLES, Principal
from onestop.web.http import status_of

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "service.py").is_file())


def service_class(name: str):
    module = importlib.import_module(f"services.{name}.service")
    return next(c for _, c in inspect.getmembers(module, inspect.isclass) if getattr(c, "name", None) == name)


def http_entrypoints(name: str) -> set[tuple[str, str, str]]:
    """(service, method, rule) of each nameko http entrypoint of the service class."""
    found = set()
    for _, member in inspect.getmembers(service_class(name), inspect.isfunction):
        for ext in getattr(member, ENTRYPOINT_EXTENSIONS_ATTR, ()):
            if isinstance(ext, HttpRequestHandler):
                found.add((name, ext.method, ext.url))
    return found


def who(role: str, *centers: str) -> Principal:
    return Principal(f"{role}-1", role, frozenset(centers or ("hue-vyda",)),
                     "vp" if role in ("officer", "department_head") else None)


@pytest.mark.parametrize("service", SERVICES)
def test_every_http_entrypoint_has_a_row_and_every_row_an_entrypoint(service):
    rows = {(e.service, e.method, e.route) for e in access.ENDPOINTS if e.service == service}
    assert http_entrypoints(service) - rows == set(), "an endpoint without a row in onestop/web/access.py"
    assert rows - http_entrypoints(service) == set(), "a row of onestop/web/access.py without an endpoint"


def test_each_lifecycle_action_is_a_row_with_its_roles():
    for action in LIFECYCLE.actions:
        row = access.endpoint(access.act(action.name))
        assert set(row.roles) == action.roles - {"system"} and row.scope is access.DOSSIER
        assert row.shown == f"/api/v1/work/dossiers/<code>/actions/{action.name}"
    assert access.act("bogus") is None and access.act(None) is None


def test_online_intake_is_the_portals_and_counter_and_postal_intake_counter_staffs():
    assert access.endpoint(access.submit("online")).roles == ("portal",)
    assert access.endpoint(access.submit("counter")).roles == ("counter_staff",)
    assert access.endpoint(access.submit("postal")).roles == ("counter_staff",)
    assert access.submit("fax") == "intake.submit.counter"  # the schema refuses it after the token is checked


def test_the_audit_api_is_for_leaders_auditors_and_operators():
    for row in ("audit.timeline", "audit.verify"):
        assert [r for r in ROLES if access.allows(who(r), row)] == ["center_leader", "auditor", "operator"]


def test_a_refused_role_is_told_which_roles_may():
    with pytest.raises(errors.Forbidden) as refused:
        access.require(who("officer"), "audit.timeline")
    assert status_of(refused.value) == 403
    assert str(refused.value) == ("role officer may not read a dossier's audit timeline; "
                                  "allowed roles: center_leader, auditor, operator")
    assert access.require(who("auditor"), "audit.timeline").role == "auditor"


def test_another_center_is_403_or_the_endpoints_own_404_as_the_row_says():
    elsewhere = who("center_leader", "hue-phuxuan")
    with pytest.raises(errors.Forbidden, match="does not list center hue-vyda; it lists hue-phuxuan"):
        access.require_center(elsewhere, "routing.reports", "hue-vyda")
    missing = errors.NotFound("No dossier has this code.")
    with pytest.raises(errors.NotFound) as hidden:
        access.require_center(elsewhere, "audit.timeline", "hue-vyda", missing=missing)
    assert hidden.value is missing
    with pytest.raises(ValueError, match="pass the error"):
        access.require_center(elsewhere, "audit.timeline", "hue-vyda")
    access.require_center(elsewhere, "audit.timeline", "hue-phuxuan")
    assert access.covers(elsewhere, "intake.status", "hue-vyda")  # public: not bounded


def test_public_rows_have_no_roles_and_every_other_row_has_known_ones():
    with pytest.raises(ValueError):
        access.Endpoint("x.y", "x", "GET", "/y", ("officer",), access.PUBLIC, "read y")
    with pytest.raises(ValueError):
        access.Endpoint("x.y", "x", "GET", "/y", ("nobody",), access.NAMED, "read y")
    with pytest.raises(LookupError, match="no access row"):
        access.endpoint("x.y")
    assert all(bool(e.roles) != e.public for e in access.ENDPOINTS)


def test_module_doctests():
    import doctest
    assert doctest.testmod(access).failed == 0
