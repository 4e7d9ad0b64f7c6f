"""A service's OpenAPI 3.1 document, built by apispec from its routes, its marshmallow schemas and
the access table: never written by hand, so it cannot drift from what the service accepts.

Why this shape: the request schemas are already the ones the entrypoints ``load`` with, the
access table (onestop.web.access) already says who may call what, and onestop.web.http
already says which error kind is which status. A service only adds what none of them knows:
its response schemas and the query parameters it reads. The document is served at
``GET /openapi.json`` by each service, written to docs/openapi/<service>.json by ``make docs``,
validated by openapi-spec-validator (tests/unit/test_openapi.py) and fuzzed by schemathesis
against the running service (tests/integration/test_openapi_fuzz.py, ``make fuzz``).

How a service plugs in (services/intake/api.py is the model)::

    # services/<name>/api.py
    ROUTES = (
        Route("GET", "/api/v1/things/<code>", answers={200: ThingSchema},
              params=(query("verbose", {"type": "boolean"}),), errors=(429,)),
        Route("POST", "/api/v1/things", body=ThingRequestSchema, answers={201: ThingSchema}),
        OPENAPI,  # GET /openapi.json itself
    )
    document = documented("<name>", ROUTES)   # a cached function: the dict to serve

    # services/<name>/service.py
    @http("GET", "/openapi.json")
    @json_endpoint
    def openapi(self, request):
        return respond(200, api.document())

then a PUBLIC row ``<name>.openapi`` in onestop.web.access (and its request in the access walk,
tests/integration/test_access_table.py), the service's name in onestop.dev.apidocs.SERVICES
(docs/openapi/<name>.json) and its class in tests/integration/conftest.py ``HTTP`` (the fuzz
test and the walk start it), and ``make docs``. Every route must match access rows (same
service, method and path) and every row of the service a route, or building the document
raises: an endpoint cannot be left out of it. Response schemas subclass
``onestop.web.http.Answer`` (answers may gain fields); errors are ``onestop.web.http.ErrorSchema``.

Statuses come from the rows and the route: a token is needed (401, 403, and 503 while the
service has no AUTH_JWKS_URL or cannot fetch the keys), the scope hides other centers (404), a JSON body is read (400, 413,
415, 422), a query parameter is checked (422); ``errors`` adds what the handler itself answers
(404 unknown, 409, 429). A status the service answers and the document does not list fails the
fuzz test, as does a body that breaks the listed schema.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from importlib import metadata

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from onestop.web import access
from onestop.web.http import ErrorSchema

__all__ = ["Route", "Param", "query", "header", "OPENAPI", "build", "documented"]

BEARER = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
          "description": "A staff or portal token (`onestop token <role> ...`); its centers bound what it sees."}
REASONS = {200: "OK", 201: "Created", 400: "The body is not valid JSON", 401: "No valid bearer token",
           403: "The role, the token's centers or the proof do not allow this", 404: "No such thing",
           409: "The thing's state does not allow this now", 413: "The body is too large",
           415: "The body is not application/json", 422: "A field is missing, unknown or malformed",
           429: "Too many requests (Retry-After)", 503: "Not available now (a dependency or a setting is missing)"}
DESCRIPTION = ("The {service} service's HTTP API, generated from its schemas and the access table "
               "(onestop/web/openapi.py; `make docs`); docs/http-api.md is the guide, "
               "docs/access.md who may call what.")
# What onestop.web.http.edge_headers adds to these statuses, whatever the endpoint.
HEADERS = {
    401: {"WWW-Authenticate": {"required": True, "description": "the RFC 6750 challenge, with the reason",
                               "schema": {"type": "string", "example": 'Bearer realm="onestop"'}}},
    429: {"Retry-After": {"required": True, "description": "seconds to wait", "schema": {"type": "integer"}}},
}


@dataclass(frozen=True)
class Param:
    """A query or header parameter an entrypoint reads, with the JSON Schema of what it accepts."""

    name: str
    where: str  # "query", "header" (path parameters come from the route's path)
    schema: dict
    description: str = ""
    required: bool = False


def query(name: str, schema: dict, description: str = "", required: bool = False) -> Param:
    return Param(name, "query", schema, description, required)


def header(name: str, schema: dict, description: str = "") -> Param:
    return Param(name, "header", schema, description)


STRING = {"type": "string"}


@dataclass(frozen=True)
class Route:
    """One operation: the access rows of this method and path, plus what only the service knows."""

    method: str
    path: str  # as in onestop.web.access: /api/v1/dossiers/<code>
    answers: dict = field(default_factory=dict)  # status -> response Schema class (None: no schema)
    body: type | None = None  # the request Schema class; None: no JSON body is read
    body_required: bool = True  # False: an empty body is taken as {}
    example: dict | None = None  # a body the service accepts (clients read it; the fuzz test sends it)
    params: tuple[Param, ...] = ()
    path_params: dict = field(default_factory=dict)  # name -> JSON Schema (default: a string)
    errors: tuple[int, ...] = ()  # what the handler answers beyond what the rows and the body imply
    description: str = ""
    media: str = "application/json"  # what a success answers: a page is text/html (the console's)


OPENAPI = Route("GET", "/openapi.json", answers={200: None},
                description="This document: OpenAPI 3.1, generated from the service's schemas.")
METRICS = Route("GET", "/metrics", answers={200: None}, errors=(401,), media="text/plain",
                description="Prometheus metrics in the text exposition format (version 0.0.4; docs/metrics.md). "
                            "401 when the service runs with METRICS_TOKEN and the request does not carry it as a "
                            "bearer token.")


def _rows(service: str, route: Route) -> list[access.Endpoint]:
    rows = [r for r in access.ENDPOINTS if (r.service, r.method, r.path) == (service, route.method, route.path)]
    if not rows:
        raise ValueError(f"{service}: {route.method} {route.path} has no row in onestop.web.access")
    return rows


def _operation_id(rows) -> str:
    parts = [r.id.split(".") for r in rows]
    common = [p[0] for p in zip(*parts) if len(set(p)) == 1] if len(rows) > 1 else parts[0]
    return "_".join(common[1:]) or common[0]


def _statuses(rows, route: Route) -> list[int]:
    found = set(route.answers) | set(route.errors)
    if not rows[0].public:
        found |= {401, 403, 503}  # 503: no AUTH_JWKS_URL, or the provider's keys unreachable
    if any(r.scope in (access.DOSSIER, access.HIDDEN) for r in rows):
        found.add(404)
    if route.body is not None:
        found |= {400, 413, 415, 422}
    if route.params:
        found.add(422)
    return sorted(found)


def _who(rows) -> str:
    if rows[0].public:
        return "Anyone, without a token."
    def said(row) -> str:  # a variant's roles: 'channel "online": portal', 'action start: officer, ...'
        variant = row.when or ", ".join(f"{name} {value}" for name, value in row.fixed)
        return f"{variant}: {', '.join(row.roles)}" if variant else ", ".join(row.roles)
    return f"Roles: {'; '.join(sorted({said(r) for r in rows}))}. Centers: {rows[0].scope.rule}."


def _parameters(route: Route, rows) -> list[dict]:
    fixed = {}
    for row in rows:
        for name, value in row.fixed:
            fixed.setdefault(name, []).append(value)
    out = []
    for name in re.findall(r"<(\w+)>", route.path):
        schema = {"type": "string", "enum": fixed[name]} if name in fixed else route.path_params.get(name, STRING)
        out.append({"name": name, "in": "path", "required": True, "schema": schema})
    out += [{"name": p.name, "in": p.where, "required": p.required, "schema": p.schema,
             **({"description": p.description} if p.description else {})} for p in route.params]
    return out


def _response(status: int, schema, media: str = "application/json") -> dict:
    if status == 303:  # a redirect: where to, no body
        return {"description": "See Other: to the Location", "headers": {
            "Location": {"required": True, "schema": {"type": "string"}}}}
    if status >= 400 or media == "application/json":
        content = {"application/json": {"schema": schema if schema is not None else {"type": "object"}}}
    else:
        content = {media: {"schema": schema if schema is not None else {"type": "string"}}}
    answer = {"description": REASONS.get(status, str(status)), "content": content}
    if status in HEADERS:
        answer["headers"] = HEADERS[status]
    return answer


def _operation(service: str, route: Route) -> dict:
    rows = _rows(service, route)
    responses = {str(s): _response(s, route.answers.get(s, ErrorSchema if s >= 400 else None), route.media)
                 for s in _statuses(rows, route)}
    summary = rows[0].summary
    op = {"operationId": _operation_id(rows), "tags": [service], "summary": summary[:1].upper() + summary[1:],
          "description": " ".join(x for x in (route.description, _who(rows)) if x),
          "parameters": _parameters(route, rows), "responses": responses,
          "security": [] if rows[0].public else [{"bearer": []}]}
    if route.body is not None:
        media = {"schema": route.body, **({"example": route.example} if route.example else {})}
        op["requestBody"] = {"required": route.body_required, "content": {"application/json": media}}
    return op


def _check_covered(service: str, routes) -> None:
    declared = {(r.method, r.path) for r in routes}
    missing = sorted({f"{r.method} {r.path}" for r in access.ENDPOINTS
                      if r.service == service and (r.method, r.path) not in declared})
    if missing:
        raise ValueError(f"{service}: no route for {', '.join(missing)}; add it to the service's api.py")


def _servers(service: str) -> list[dict]:
    """The service that serves the document (a relative URL), then its address under `make run`."""
    from onestop.dev.launcher import Ports  # the one home of the ports; read here, not at import

    port = getattr(Ports(), service, None)
    local = [{"url": f"http://127.0.0.1:{port}", "description": "`make run` (ONESTOP_PORT_<SERVICE>)"}] if port else []
    return [{"url": "/", "description": "the service that serves this document"}, *local]


def build(service: str, routes, title: str | None = None) -> dict:
    """The OpenAPI 3.1 document of `service` as a plain dict (deterministic: no dates, no host names)."""
    _check_covered(service, routes)
    spec = APISpec(title or f"OneStop {service}", metadata.version("onestop"), "3.1.0",
                   plugins=[MarshmallowPlugin()], info={"description": DESCRIPTION.format(service=service)},
                   servers=_servers(service),
                   tags=[{"name": service, "description": f"The {service} service's HTTP API"}])
    spec.components.security_scheme("bearer", BEARER)
    spec.components.schema("Error", schema=ErrorSchema)
    paths: dict[str, dict] = {}
    for route in routes:
        path = re.sub(r"<(\w+)>", r"{\1}", route.path)
        paths.setdefault(path, {})[route.method.lower()] = _operation(service, route)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    doc = spec.to_dict()
    order = ("openapi", "info", "servers", "tags", "paths", "components")  # as the specification lists them
    return {**{k: doc[k] for k in order if k in doc}, **doc}


def documented(service: str, routes, title: str | None = None):
    """A function answering the service's document, built once (the schemas do not change at run time)."""
    return functools.cache(lambda: build(service, routes, title))
