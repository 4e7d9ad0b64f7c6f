"""docs/openapi/<service>.json: each service's OpenAPI document, as the service serves it at /openapi.json.

The kernel never imports a service (tests/unit/test_layout.py); like the launcher, which
runs ``services.<name>.service`` by name, this names each service's ``services.<name>.api``
module and loads it when the docs are made. A service with an HTTP API adds its name to
``SERVICES`` (onestop.web.openapi says the rest).
"""
from __future__ import annotations

import importlib
import json

SERVICES = ("intake", "routing", "notification", "audit", "webhooks", "console", "alerts")  # issue 17: console, alerts


def document(service: str) -> dict:
    return importlib.import_module(f"services.{service}.api").document()


def render(service: str) -> str:
    """The document as committed: keys in the generator's order, two-space indents, UTF-8 kept."""
    return json.dumps(document(service), indent=2, ensure_ascii=False) + "\n"


def outputs(docs) -> dict:
    """{path: render function} for docsgen.OUTPUTS."""
    return {docs / "openapi" / f"{name}.json": (lambda name=name: render(name)) for name in SERVICES}
