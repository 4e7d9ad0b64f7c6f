"""The Keycloak realm docker-compose imports (deploy/keycloak/onestop-realm.json), built from the catalog.

    python -m onestop.dev.keycloak_realm            # writes deploy/keycloak/onestop-realm.json
    python -m onestop.dev.keycloak_realm --check    # exit 1 if the file is not what the catalog makes

The realm's users are the catalog's SAMPLE staff (fictional people, onestop/data/catalog.yaml): each center's
officers, department heads and leader. The catalog names no counter staff, operators, auditors nor machine
clients, so these are ASSUMPTIONS made here (``source: "assumption"`` in ``sample_staff``, and the user
attribute ``onestop_sample`` in the realm says which): one counter staff member and one operator per center, one
city-wide auditor, and the two machine clients of onestop/dev/launcher.py DEV_STAFF (``portal-dvc``, a portal
for every center; ``portal-tinh``, an integrator for hue-vyda). Every password is temporary (Keycloak asks for
a new one at the first sign-in); a real deployment imports its own people, not these.

Claims (docs/identity-oidc.md): protocol mappers on each client put ``onestop_role``, ``onestop_centers`` (a
JSON array) and ``onestop_department`` from the user's attributes into the access token, and the audience
``onestop-staff`` (the "roles" client scope is left out, so no ``account`` audience joins it). The declarative
user profile declares the three attributes editable by administrators only: a staff member cannot give
themselves another role in Keycloak's account console.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from onestop.catalog import load_catalog
from onestop.web.auth import ROLES

ROOT = Path(__file__).resolve().parents[2]
REALM_FILE = ROOT / "deploy" / "keycloak" / "onestop-realm.json"
REALM = "onestop"
AUDIENCE = "onestop-staff"
CONSOLE_CLIENT = "onestop-console"
CLAIMS = ("onestop_role", "onestop_centers", "onestop_department")
# Keycloak resolves ${VAR} from its environment when it imports the realm (docker-compose sets them).
CONSOLE_URL = "${ONESTOP_CONSOLE_URL}"
INITIAL_PASSWORD = "${ONESTOP_STAFF_INITIAL_PASSWORD}"


@dataclass(frozen=True)
class SampleStaff:
    username: str
    name: str
    role: str
    centers: tuple
    department: str | None
    source: str  # "catalog" or "assumption"

    @property
    def email(self) -> str:
        return f"{self.username}@example.vn"  # reserved domain: reaches no one


@dataclass(frozen=True)
class MachineClient:
    client_id: str
    role: str
    centers: tuple
    secret_variable: str

    @property
    def username(self) -> str:
        return f"service-account-{self.client_id}"  # Keycloak's name for a client's service account


def _short(center_id: str) -> str:
    return center_id.removeprefix("hue-")


def _center_staff(center) -> list[SampleStaff]:
    people = [SampleStaff(o.id, o.name, "officer", (center.id,), o.department, "catalog") for o in center.officers]
    people += [SampleStaff(s.id, s.name, s.role, (center.id,), s.department, "catalog") for s in center.staff]
    short = _short(center.id)
    people += [SampleStaff(f"{short}-counter-01", f"Nhân viên một cửa {center.name_vi.rsplit('phường ', 1)[-1]}",
                           "counter_staff", (center.id,), None, "assumption"),
               SampleStaff(f"{short}-ops-01", f"Vận hành {center.name_vi.rsplit('phường ', 1)[-1]}",
                           "operator", (center.id,), None, "assumption")]
    return people


def sample_staff(catalog=None) -> list[SampleStaff]:
    """Every person of the sample realm, center by center (catalog order), then the city-wide auditor."""
    catalog = catalog or load_catalog()
    centers = _centers(catalog)
    people = [person for center in centers for person in _center_staff(center)]
    every = tuple(sorted(c.id for c in centers))
    return people + [SampleStaff("auditor-01", "Thanh tra thành phố (mẫu)", "auditor", every, None, "assumption")]


def machine_clients(catalog=None) -> list[MachineClient]:
    """The machine clients of onestop.dev.launcher DEV_STAFF: a portal (every center) and an integrator."""
    catalog = catalog or load_catalog()
    every = tuple(sorted(c.id for c in _centers(catalog)))
    return [MachineClient("portal-dvc", "portal", every, "ONESTOP_PORTAL_CLIENT_SECRET"),
            MachineClient("portal-tinh", "integrator", ("hue-vyda",), "ONESTOP_INTEGRATOR_CLIENT_SECRET")]


def _centers(catalog) -> list:
    return sorted(catalog.centers.values(), key=lambda c: c.id)


def _attributes(role: str, centers, department: str | None, source: str) -> dict:
    attributes = {"onestop_role": [role], "onestop_centers": list(centers), "onestop_sample": [source]}
    if department:
        attributes["onestop_department"] = [department]
    return attributes


def _user(person: SampleStaff) -> dict:
    # The whole (family-name-first) Vietnamese name in firstName: Keycloak's "full name" mapper joins
    # firstName and lastName in that order, and would print the family name last.
    return {"username": person.username, "enabled": True, "email": person.email, "emailVerified": True,
            "firstName": person.name,
            "attributes": _attributes(person.role, person.centers, person.department, person.source),
            "credentials": [{"type": "password", "value": INITIAL_PASSWORD, "temporary": True}]}


def _service_account(client: MachineClient) -> dict:
    return {"username": client.username, "enabled": True, "serviceAccountClientId": client.client_id,
            "attributes": _attributes(client.role, client.centers, None, "assumption")}


def _mapper_config(**claims) -> dict:
    return {"access.token.claim": "true", "introspection.token.claim": "true", **claims}


def protocol_mappers() -> list[dict]:
    """The audience and the three user-attribute claims, into the access token (and the id_token, userinfo)."""
    mappers = [{"name": f"audience {AUDIENCE}", "protocol": "openid-connect", "protocolMapper": "oidc-audience-mapper",
                "consentRequired": False,
                "config": _mapper_config(**{"included.custom.audience": AUDIENCE, "id.token.claim": "false"})}]
    for claim in CLAIMS:
        mappers.append({"name": claim, "protocol": "openid-connect",
                        "protocolMapper": "oidc-usermodel-attribute-mapper", "consentRequired": False,
                        "config": _mapper_config(**{
                            "user.attribute": claim, "claim.name": claim, "jsonType.label": "String",
                            "multivalued": "true" if claim == "onestop_centers" else "false",
                            "aggregate.attrs": "false", "id.token.claim": "true", "userinfo.token.claim": "true"})})
    return mappers


def _client(client_id: str, secret: str, **settings) -> dict:
    return {"clientId": client_id, "enabled": True, "protocol": "openid-connect", "publicClient": False,
            "clientAuthenticatorType": "client-secret", "secret": secret, "implicitFlowEnabled": False,
            "directAccessGrantsEnabled": False, "fullScopeAllowed": False, "consentRequired": False,
            "defaultClientScopes": ["basic", "profile", "acr"], "optionalClientScopes": [],
            "protocolMappers": protocol_mappers(), **settings}


def clients(catalog=None) -> list[dict]:
    console = _client(CONSOLE_CLIENT, "${ONESTOP_CONSOLE_CLIENT_SECRET}", name="OneStop console",
                      standardFlowEnabled=True, serviceAccountsEnabled=False, frontchannelLogout=False,
                      rootUrl=CONSOLE_URL, baseUrl=CONSOLE_URL + "/console/",
                      redirectUris=[CONSOLE_URL + "/console/login/callback"], webOrigins=[],
                      attributes={"pkce.code.challenge.method": "S256",
                                  "post.logout.redirect.uris": CONSOLE_URL + "/console/"})
    machines = [_client(m.client_id, "${" + m.secret_variable + "}", name=f"OneStop {m.role} client",
                        standardFlowEnabled=False, serviceAccountsEnabled=True, redirectUris=[], webOrigins=[])
                for m in machine_clients(catalog)]
    return [console] + machines


def _profile_attribute(name: str, options, *, multivalued=False) -> dict:
    # Not "required": Keycloak makes service-account users without asking, and a staff member without a
    # role or centers is refused by the services anyway.
    return {"name": name, "displayName": name, "multivalued": multivalued,
            "permissions": {"view": ["admin", "user"], "edit": ["admin"]},
            "validations": {"options": {"options": list(options)}}}


def user_profile(catalog=None) -> dict:
    """Keycloak's declarative user profile: the OneStop attributes, their allowed values, admin-only edits."""
    catalog = catalog or load_catalog()
    departments = sorted({d.id for c in _centers(catalog) for d in c.departments})
    return {"attributes": [
        {"name": "username", "displayName": "${username}", "multivalued": False,
         "validations": {"length": {"min": 3, "max": 255}, "username-prohibited-characters": {},
                         "up-username-not-idn-homograph": {}},
         "permissions": {"view": ["admin", "user"], "edit": ["admin"]}},
        {"name": "email", "displayName": "${email}", "multivalued": False,
         "validations": {"email": {}, "length": {"max": 255}},
         "permissions": {"view": ["admin", "user"], "edit": ["admin"]}},
        {"name": "firstName", "displayName": "${firstName}", "multivalued": False,
         "validations": {"length": {"max": 255}}, "permissions": {"view": ["admin", "user"], "edit": ["admin"]}},
        {"name": "lastName", "displayName": "${lastName}", "multivalued": False,
         "validations": {"length": {"max": 255}}, "permissions": {"view": ["admin", "user"], "edit": ["admin"]}},
        _profile_attribute("onestop_role", ROLES),
        _profile_attribute("onestop_centers", sorted(c.id for c in _centers(catalog)), multivalued=True),
        _profile_attribute("onestop_department", departments),
        _profile_attribute("onestop_sample", ("catalog", "assumption"))],
        "groups": [{"name": "user-metadata", "displayHeader": "User metadata",
                    "displayDescription": "Attributes, which refer to user metadata"}]}


def realm(catalog=None) -> dict:
    catalog = catalog or load_catalog()
    return {
        "realm": REALM, "enabled": True, "displayName": "OneStop — SAMPLE staff of the Huế service centers",
        "sslRequired": "external", "registrationAllowed": False, "resetPasswordAllowed": False,
        "editUsernameAllowed": False, "loginWithEmailAllowed": False, "duplicateEmailsAllowed": False,
        "rememberMe": False, "bruteForceProtected": True, "failureFactor": 10, "permanentLockout": False,
        "passwordPolicy": "length(12) and notUsername",
        "defaultSignatureAlgorithm": "RS256", "accessTokenLifespan": 300, "ssoSessionIdleTimeout": 1800,
        "ssoSessionMaxLifespan": 36000, "revokeRefreshToken": True, "refreshTokenMaxReuse": 0,
        "internationalizationEnabled": True, "supportedLocales": ["vi", "en"], "defaultLocale": "vi",
        "components": {"org.keycloak.userprofile.UserProfileProvider": [{
            "providerId": "declarative-user-profile", "subComponents": {},
            "config": {"kc.user.profile.config": [json.dumps(user_profile(catalog), ensure_ascii=False)]}}]},
        "clients": clients(catalog),
        "users": [_user(p) for p in sample_staff(catalog)] + [_service_account(m) for m in machine_clients(catalog)],
    }


def render(catalog=None) -> str:
    return json.dumps(realm(catalog), ensure_ascii=False, indent=2) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        same = REALM_FILE.exists() and REALM_FILE.read_text(encoding="utf-8") == text
        print(f"{REALM_FILE.relative_to(ROOT)} {'is' if same else 'is NOT'} what the catalog makes")
        return 0 if same else 1
    REALM_FILE.parent.mkdir(parents=True, exist_ok=True)
    REALM_FILE.write_text(text, encoding="utf-8")
    print(f"wrote {REALM_FILE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
