"""The console's HTTP API as OpenAPI describes it: its pages (text/html) and its JSON (onestop.web.openapi
builds the document; the rows console.* of onestop.web.access say who may call)."""
from __future__ import annotations

from onestop.web.health import HealthSchema
from onestop.web.openapi import METRICS, OPENAPI, Route, documented, query
from services.console.schemas import LeaderSchema, MeSchema, OpsSchema, ReplayedSchema, ReplayRequestSchema, SignedOutSchema

HTML = "text/html"
CENTER = (query("center", {"type": "string", "pattern": "^[a-z0-9-]{1,40}$", "example": "hue-vyda"},
                "one of the signed-in person's centers", required=True),)

ROUTES = (
    Route("GET", "/console/", answers={200: None}, media=HTML, description="The console's page (no data in it)."),
    Route("GET", "/console/app.js", answers={200: None}, media="text/javascript"),
    Route("GET", "/console/app.css", answers={200: None}, media="text/css"),
    Route("GET", "/console/login", answers={200: None}, media=HTML,
          params=(query("error", {"type": "string"}, "what went wrong last time, shown on the page"),),
          description="The sign-in page; sets the pre-session cookie onestop_login its form is bound to."),
    Route("POST", "/console/login/dev", answers={303: None}, errors=(403, 422, 503),
          description="A form (application/x-www-form-urlencoded): user=<sample staff id>&form_token=<the page's>. "
                      "303 to /console/ with the session cookie; 422 while CONSOLE_DEV_SIGNIN is off."),
    Route("GET", "/console/login/oidc", answers={303: None},
          description="303 to the OpenID Connect provider; without one (OIDC_ISSUER), back to the sign-in page."),
    Route("GET", "/console/login/callback", answers={303: None},
          description="The provider's redirect back: 303 to /console/ with the session cookie (refused: 303 back "
                      "to the sign-in page, saying so)."),
    Route("POST", "/console/logout", answers={200: SignedOutSchema}, errors=(403,),
          description="With a session, its X-CSRF-Token: the session ends at once, its token is revoked."),
    Route("GET", "/console/api/me", answers={200: MeSchema}),
    Route("GET", "/console/api/ops", answers={200: OpsSchema}, params=CENTER),
    Route("GET", "/console/api/leader", answers={200: LeaderSchema}, params=CENTER),
    Route("POST", "/console/api/deadletters/replay", body=ReplayRequestSchema,
          example={"queue": "routing/hue-vyda", "ids": ["3f1c2d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d"]},
          answers={200: ReplayedSchema}, errors=(404,),
          description="The same path as `onestop dlq replay` (audited, replayed_by: the caller)."),
    Route("GET", "/healthz", answers={200: HealthSchema, 503: HealthSchema}),
    OPENAPI,
    METRICS,
)

document = documented("console", ROUTES)
