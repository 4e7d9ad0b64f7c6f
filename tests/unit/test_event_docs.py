"""The event contract: generated docs are current and valid, public events carry no contact data."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from marshmallow import ValidationError

from onestop.dev import docsgen
from contracts import PUBLIC, REGISTRY, parse_event

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = ROOT / "tools" / "asyncapi"
# Field-name words that mean citizen contact data; masked values use other names (applicant, recipient).
CONTACT = re.compile(r"(^|_)(phone|mobile|e_?mail|full_name|id_number|national_id|citizen_id|cccd|cmnd"
                     r"|date_of_birth|birth_date|home_address)(_|$)")


@pytest.mark.parametrize("path", sorted(docsgen.OUTPUTS), ids=lambda p: p.name)
def test_committed_docs_are_not_stale(path):
    expected = docsgen.OUTPUTS[path]()
    actual = path.read_text(encoding="utf-8") if path.exists() else None
    assert actual == expected, f"{path.relative_to(ROOT)} is stale: run make docs"


def test_asyncapi_document_validates_with_the_official_parser():
    if not (VALIDATOR / "node_modules" / "@asyncapi" / "parser").is_dir():
        pytest.fail("tools/asyncapi/node_modules is missing: run make install")
    if shutil.which("node") is None:
        pytest.fail("node is not installed (Node 20 is needed to validate docs/asyncapi.yaml)")
    result = subprocess.run(["node", str(VALIDATOR / "validate.mjs"), str(ROOT / "docs" / "asyncapi.yaml")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid" in result.stdout


def _field_names(js, prefix=""):
    """Every property name, nested objects and arrays of objects included."""
    js = js.get("items", js)
    for name, sub in js.get("properties", {}).items():
        yield prefix + name, name
        yield from _field_names(sub, f"{prefix}{name}.")


@pytest.mark.parametrize("type_", sorted(t for t, e in REGISTRY.items() if e.visibility == PUBLIC))
def test_public_events_carry_no_contact_data(type_):
    leaks = [path for path, name in _field_names(docsgen.schema_json(REGISTRY[type_].schema))
             if CONTACT.search(name.lower())]
    assert not leaks, (f"{type_} is public but {leaks} look like citizen contact data: "
                       "put them in a private event (visibility=PRIVATE, exchange onestop.private)")


@pytest.mark.parametrize("type_", sorted(REGISTRY))
def test_event_type_names_are_versioned(type_):
    assert re.fullmatch(r"[a-z_]+(\.[a-z_]+)+\.v\d+", type_), f"{type_!r} is not <noun>.<verb>.vN"


@pytest.mark.parametrize("type_", sorted(REGISTRY))
def test_documented_examples_are_valid_events(type_):
    # The examples are what integrators copy; they must pass the same checks as real events.
    try:
        parse_event(docsgen.example_envelope(REGISTRY[type_]))
    except ValidationError as exc:
        pytest.fail(f"the generated {type_} example is invalid {exc.messages}: "
                    "give those fields metadata={'example': ...}")
