"""Static checks of the Keycloak realm docker-compose imports (deploy/keycloak/onestop-realm.json).

No Keycloak runs here; these build each user's access token the way Keycloak's protocol mappers would from the
realm file, and check that the services' claim mapping (the AUTH_* settings in docker-compose.yml) reads a valid
OneStop principal from every one of them: a role, centers of the catalog, a department where the role needs one.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from onestop.catalog import load_catalog
from onestop.dev import keycloak_realm
from onestop.web.auth import DEPARTMENT_ROLES, ROLES

ROOT = Path(__file__).resolve().parents[2]
REALM_FILE = ROOT / "deploy" / "keycloak" / "onestop-realm.json"
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
REALM = json.loads(REALM_FILE.read_text(encoding="utf-8"))
CATALOG = load_catalog()
USERS = {u["username"]: u for u in REALM["users"]}
CLIENTS = {c["clientId"]: c for c in REALM["clients"]}
SERVICE_ENV = COMPOSE["services"]["intake"]["environment"]


def access_claims(client: dict, user: dict) -> dict:
    """The claims Keycloak puts in `user`'s access token for `client` from the client's protocol mappers,
    and from the "profile" client scope (preferred_username, the full name)."""
    claims = {}
    for mapper in client["protocolMappers"]:
        config = mapper["config"]
        if config.get("access.token.claim") != "true":
            continue
        if mapper["protocolMapper"] == "oidc-audience-mapper":
            claims.setdefault("aud", []).append(config["included.custom.audience"])
        elif mapper["protocolMapper"] == "oidc-usermodel-attribute-mapper":
            values = user.get("attributes", {}).get(config["user.attribute"]) or []
            if values:
                claims[config["claim.name"]] = list(values) if config["multivalued"] == "true" else values[0]
    if "profile" in client["defaultClientScopes"]:
        claims["preferred_username"] = user["username"]
        name = " ".join(part for part in (user.get("firstName"), user.get("lastName")) if part)
        if name:
            claims["name"] = name
    if len(claims.get("aud", [])) == 1:
        claims["aud"] = claims["aud"][0]  # Keycloak writes a single audience as a string
    return claims


def principal(claims: dict) -> dict:
    """What the services read from the claims, through the claim names compose gives them."""
    read = {key: claims.get(SERVICE_ENV[f"AUTH_{key.upper()}_CLAIM"])
            for key in ("user", "name", "role", "centers", "department")}
    return read


def client_of(user: dict) -> dict:
    return CLIENTS[user.get("serviceAccountClientId") or keycloak_realm.CONSOLE_CLIENT]


def test_the_realm_file_is_what_the_catalog_makes():
    assert REALM["realm"] == "onestop" and REALM["enabled"] is True
    assert REALM_FILE.read_text(encoding="utf-8") == keycloak_realm.render(), \
        "run: python -m onestop.dev.keycloak_realm"


def test_every_sample_staff_member_of_the_catalog_can_sign_in():
    people = {p.id for c in CATALOG.centers.values() for p in (*c.officers, *c.staff)}
    assert people and people <= set(USERS)
    roles = {USERS[u]["attributes"]["onestop_role"][0] for u in USERS}
    assert set(ROLES) <= roles, set(ROLES) - roles  # someone of every role, machines included


@pytest.mark.parametrize("username", sorted(USERS))
def test_each_users_access_token_maps_to_a_valid_principal(username):
    user = USERS[username]
    claims = access_claims(client_of(user), user)
    who = principal(claims)
    assert claims["aud"] == SERVICE_ENV["AUTH_AUDIENCE"] == "onestop-staff"
    assert who["user"] == username and who["role"] in ROLES
    assert isinstance(who["centers"], list) and who["centers"], "centers must be a JSON array"
    assert set(who["centers"]) <= set(CATALOG.centers), who["centers"]
    if who["role"] in DEPARTMENT_ROLES:
        for center in who["centers"]:
            assert who["department"] in {d.id for d in CATALOG.centers[center].departments}, who
    else:
        assert who["department"] is None
    if not user.get("serviceAccountClientId"):
        assert who["name"] and user["attributes"]["onestop_sample"][0] in ("catalog", "assumption")


def test_users_named_by_the_catalog_carry_its_role_department_and_name():
    for center in CATALOG.centers.values():
        for officer in center.officers:
            assert principal(access_claims(client_of(USERS[officer.id]), USERS[officer.id])) == {
                "user": officer.id, "name": officer.name, "role": "officer", "centers": [center.id],
                "department": officer.department}
        for staff in center.staff:
            who = principal(access_claims(client_of(USERS[staff.id]), USERS[staff.id]))
            assert (who["role"], who["department"], who["name"]) == (staff.role, staff.department, staff.name)


def test_passwords_are_temporary_placeholders_never_in_the_file():
    for user in REALM["users"]:
        if user.get("serviceAccountClientId"):
            assert "credentials" not in user
            continue
        (credential,) = user["credentials"]
        assert credential["temporary"] is True and credential["value"] == "${ONESTOP_STAFF_INITIAL_PASSWORD}"


def test_the_console_client_is_confidential_with_the_code_flow_and_pkce_only():
    console = CLIENTS["onestop-console"]
    assert console["publicClient"] is False and console["secret"] == "${ONESTOP_CONSOLE_CLIENT_SECRET}"
    assert console["standardFlowEnabled"] is True
    assert not (console["implicitFlowEnabled"] or console["directAccessGrantsEnabled"]
                or console["serviceAccountsEnabled"])
    assert console["attributes"]["pkce.code.challenge.method"] == "S256"
    assert console["redirectUris"] == ["${ONESTOP_CONSOLE_URL}/console/login/callback"]
    # the console's compose settings name the same client and callback
    oidc = COMPOSE["x-oidc-env"]
    assert oidc["OIDC_CLIENT_ID"] == "onestop-console"
    assert oidc["OIDC_REDIRECT_URI"].endswith("}/console/login/callback")
    assert oidc["OIDC_REDIRECT_URI"].startswith("${ONESTOP_CONSOLE_URL:?")


def test_machine_clients_have_service_accounts_and_no_browser_flow():
    machines = [c for c in REALM["clients"] if c["serviceAccountsEnabled"]]
    assert {c["clientId"] for c in machines} == {"portal-dvc", "portal-tinh"}
    for client in machines:
        assert not (client["standardFlowEnabled"] or client["implicitFlowEnabled"] or client["publicClient"])
        assert f"service-account-{client['clientId']}" in USERS


def test_no_other_audience_joins_the_access_tokens():
    """Keycloak's "roles" scope would add the audience `account`; the services want onestop-staff alone."""
    for client in REALM["clients"]:
        assert "roles" not in client["defaultClientScopes"] + client["optionalClientScopes"]
        assert client["fullScopeAllowed"] is False


def test_only_administrators_may_change_a_staff_members_role_centers_or_department():
    (component,) = REALM["components"]["org.keycloak.userprofile.UserProfileProvider"]
    profile = json.loads(component["config"]["kc.user.profile.config"][0])
    attributes = {a["name"]: a for a in profile["attributes"]}
    for name in ("onestop_role", "onestop_centers", "onestop_department", "username"):
        assert attributes[name]["permissions"]["edit"] == ["admin"], name
    assert attributes["onestop_role"]["validations"]["options"]["options"] == list(ROLES)
    assert set(attributes["onestop_centers"]["validations"]["options"]["options"]) == set(CATALOG.centers)
    assert attributes["onestop_centers"]["multivalued"] is True


def test_compose_runs_keycloak_in_production_mode_with_the_realm_file():
    keycloak = COMPOSE["services"]["keycloak"]
    assert re.fullmatch(r"quay\.io/keycloak/keycloak:26\.\d+\.\d+", keycloak["image"])
    assert keycloak["command"][:1] == ["start"] and "--import-realm" in keycloak["command"]
    mounts = dict(m.rsplit(":", 2)[:2] for m in keycloak["volumes"] if m.startswith("./"))
    target = mounts["./deploy/keycloak/onestop-realm.json"]
    assert (ROOT / "deploy/keycloak/onestop-realm.json").is_file()
    assert target.startswith("/opt/keycloak/data/import/") and target.endswith(".json")
    assert keycloak["environment"]["KC_DB"] == "postgres" and "keycloak-db" in keycloak["depends_on"]


def test_every_placeholder_of_the_realm_is_set_for_keycloak():
    placeholders = set(re.findall(r"\$\{(\w+)\}", REALM_FILE.read_text(encoding="utf-8")))
    # ${username} and friends are Keycloak's own message keys (user profile display names), not variables
    placeholders -= {"username", "email", "firstName", "lastName"}
    environment = COMPOSE["services"]["keycloak"]["environment"]
    assert placeholders and placeholders <= set(environment), placeholders - set(environment)
    for name in placeholders:
        assert environment[name].startswith("${" + name + ":?"), name  # compose refuses to start without it


def test_the_services_verify_against_keycloaks_keys_and_public_issuer():
    assert SERVICE_ENV["AUTH_JWKS_URL"] == "http://keycloak:8080/realms/onestop/protocol/openid-connect/certs"
    assert SERVICE_ENV["AUTH_ISSUER"].startswith("${KEYCLOAK_URL:?") and SERVICE_ENV["AUTH_ISSUER"].endswith(
        "}/realms/onestop")
    keycloak = COMPOSE["services"]["keycloak"]["environment"]
    assert keycloak["KC_HOSTNAME"].startswith("${KEYCLOAK_URL:?")  # the issuer the tokens name
    assert COMPOSE["x-oidc-env"]["OIDC_PUBLIC_ISSUER"] == SERVICE_ENV["AUTH_ISSUER"]
    assert COMPOSE["x-oidc-env"]["OIDC_ISSUER"] == "http://keycloak:8080/realms/onestop"
