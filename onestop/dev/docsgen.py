"""Generate docs/events.md, docs/asyncapi.yaml and each type's JSON Schema
(docs/schemas/events/<type>.json, the events' `dataschema`) from the event
registry (and docs/access.md, docs/openapi/<service>.json, docs/security.md).

    python -m onestop.dev.docsgen           # (re)write both files (`make docs`)
    python -m onestop.dev.docsgen --check   # exit 1 naming the stale file(s)

The marshmallow schemas are the contract; these files are derived from them
and never edited by hand. Output is deterministic (types sorted, no
timestamps) so that tests/unit/test_event_docs.py can compare it.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml
from marshmallow import fields, missing, validate

from contracts import PRIVATE, REGISTRY
from contracts.dossier import RULE as DOSSIER_RULE
from contracts.envelope import CONTENT_TYPE, DATASCHEMA, FILTER_ATTRIBUTES, EnvelopeSchema
from onestop.catalog import DEFAULT_PATH, load_catalog
from onestop.dev import accessdoc, apidocs, brokerdoc
from onestop.messaging.topology import EXCHANGES, LEGACY, MATCH, UNROUTED

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLE_ID = "6f0c2a4e-9b1d-4c3e-8f7a-5d2b1e0c9a84"
CONTRACT_VERSION = "2.0.0"  # 2: CloudEvents 1.0 (structured mode); 1: the envelope before it, now deprecated


def _events():
    """Registered types, sorted: the output must not depend on import order."""
    return [REGISTRY[t] for t in sorted(REGISTRY)]


def _centers() -> list[str]:
    # The packaged catalog, not CATALOG_PATH: the docs must not depend on the environment.
    return sorted(load_catalog(str(DEFAULT_PATH)).centers)


# --- marshmallow -> JSON Schema ------------------------------------------------

# Looked up along the field class's MRO, so subclasses (Email < String,
# AwareDateTime < DateTime) get the most specific entry without special cases.
_BASE = {
    fields.String: {"type": "string"}, fields.Email: {"type": "string", "format": "email"},
    fields.Url: {"type": "string", "format": "uri"}, fields.UUID: {"type": "string", "format": "uuid"},
    fields.Date: {"type": "string", "format": "date"}, fields.DateTime: {"type": "string", "format": "date-time"},
    fields.Time: {"type": "string", "format": "time"}, fields.Integer: {"type": "integer"},
    fields.Number: {"type": "number"}, fields.Boolean: {"type": "boolean"},
    fields.Mapping: {"type": "object"}, fields.Raw: {},
}


def field_schema(field: fields.Field, refs: dict | None = None) -> dict:
    """One field as JSON Schema; `refs` maps schema classes to $ref targets (else inlined)."""
    refs = refs or {}
    if isinstance(field, fields.Nested):
        cls = type(field.schema)
        js = {"$ref": refs[cls]} if cls in refs else schema_json(cls, refs)
        js = {"type": "array", "items": js} if field.many else js
    elif isinstance(field, fields.List):
        js = {"type": "array", "items": field_schema(field.inner, refs)}
    else:
        js = dict(next(_BASE[c] for c in type(field).__mro__ if c in _BASE))
        if isinstance(field, fields.Mapping) and field.value_field is not None:
            js["additionalProperties"] = field_schema(field.value_field, refs)
    sized = "Items" if js.get("type") == "array" else "Length"
    for v in field.validators:
        if isinstance(v, validate.OneOf):
            js["enum"] = list(v.choices)
        elif isinstance(v, validate.Equal):
            js["const"] = v.comparable
        elif isinstance(v, validate.Regexp):
            js["pattern"] = v.regex.pattern
        elif isinstance(v, validate.Length):
            lo, hi = (v.equal, v.equal) if v.equal is not None else (v.min, v.max)
            js.update({k: n for k, n in ((f"min{sized}", lo), (f"max{sized}", hi)) if n is not None})
        elif isinstance(v, validate.Range):
            for bound, key, inclusive in ((v.min, "minimum", v.min_inclusive), (v.max, "maximum", v.max_inclusive)):
                if bound is not None:
                    js[key if inclusive else "exclusive" + key.title()] = bound
    if field.allow_none:  # validators are not run on None, so null joins any enum too
        if "type" in js:
            js["type"] = [js["type"], "null"]
            if "enum" in js:
                js["enum"] = js["enum"] + [None]
        else:
            js = {"anyOf": [js, {"type": "null"}]}
    if field.load_default is not missing and not callable(field.load_default):
        js["default"] = field.load_default
    if "description" in field.metadata:
        js["description"] = field.metadata["description"]
    if "example" in field.metadata:
        js["examples"] = [field.metadata["example"]]
    return js


def schema_json(schema_cls: type, refs: dict | None = None) -> dict:
    """A schema as a JSON Schema object. Extra properties stay allowed: adding
    optional fields is the compatible way to evolve an event."""
    props, required = {}, []
    for name, field in schema_cls().fields.items():
        if field.load_only:  # never on the wire
            continue
        key = field.data_key or name
        props[key] = field_schema(field, refs)
        if field.required:
            required.append(key)
    js = {"type": "object", "properties": props}
    return {**js, "required": required} if required else js


def example(js: dict, name: str = "value"):
    """An example value: the field's own example, else one derived from its schema."""
    if "examples" in js or "default" in js:
        return js["examples"][0] if "examples" in js else js["default"]
    if "anyOf" in js:
        return example(js["anyOf"][0], name)
    kind = js.get("type")
    kind = kind[0] if isinstance(kind, list) else kind
    if "const" in js or "enum" in js:
        return js.get("const", (js.get("enum") or [None])[0])
    if kind == "object":
        return {k: example(v, k) for k, v in js.get("properties", {}).items()}
    if kind == "array":
        return [example(js["items"], name)]
    if kind in ("integer", "number"):
        return js.get("minimum", 1)
    if kind == "boolean":
        return True
    return {"date": "2026-02-13", "date-time": "2026-02-13T02:15:00Z", "uuid": EXAMPLE_ID,
            "email": "someone@example.vn"}.get(js.get("format"), f"<{name}>")


def example_envelope(event) -> dict:
    envelope = example(schema_json(EnvelopeSchema))
    if not event.about_dossier:
        envelope = {k: v for k, v in envelope.items() if k not in ("procedure", "field")}
    return {**envelope, "id": EXAMPLE_ID, "correlationid": EXAMPLE_ID, "type": event.type,
            "source": event.source_for(envelope["center"]), "dataschema": DATASCHEMA.format(type=event.type),
            "data": example(schema_json(event.schema))}


def data_schema(event) -> dict:
    """The JSON Schema (2020-12) of one type's `data`, at the URI its events name as dataschema."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": DATASCHEMA.format(type=event.type),
            "title": f"{event.type} data", "description": event.summary, **schema_json(event.schema)}


def schema_path(type_: str) -> Path:
    return DOCS / "schemas" / "events" / f"{type_}.json"


# --- docs/events.md --------------------------------------------------------------

def _label(js: dict) -> str:
    if "$ref" in js:
        return js["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in js:
        return " or ".join(_label(s) for s in js["anyOf"])
    kinds = js.get("type", "any")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    out = [f"array of {_label(js['items'])}" if k == "array" else k for k in kinds]
    return " or ".join(f"{k} ({js['format']})" if k == "string" and "format" in js else k for k in out)


def _rules(js: dict) -> str:
    js = {**js, **js.get("items", {})} if js.get("type") == "array" else js
    def code(value) -> str:
        return f"`{json.dumps(value, ensure_ascii=False)}`"

    rules = [f"one of {', '.join(code(v) for v in js['enum'])}" if "enum" in js else "",
             f"always {code(js['const'])}" if "const" in js else "",
             f"matches `{js['pattern']}`" if "pattern" in js else "",
             f"default {code(js['default'])}" if "default" in js else ""]
    rules += [f"{k} {js[k]}" for k in ("minLength", "maxLength", "minItems", "maxItems", "minimum",
                                       "maximum", "exclusiveMinimum", "exclusiveMaximum") if k in js]
    return "; ".join(r for r in rules if r)


def _md(text: str) -> str:
    """Free text in a table cell: `|` would split the cell, `<x>` would vanish as an HTML tag."""
    return text.replace("|", "\\|").replace("<", "\\<")


def _table(js: dict, prefix: str = "") -> list[str]:
    """Rows for each property; nested objects are flattened as `parent.child`."""
    rows = ["| field | type | required | description |", "|---|---|---|---|"] if not prefix else []
    for name, sub in js.get("properties", {}).items():
        text = ". ".join(t for t in (_md(sub.get("description", "")), _rules(sub).replace("|", "\\|")) if t)
        cells = [f"`{prefix}{name}`", _label(sub), "yes" if name in js.get("required", []) else "no", text]
        rows.append("| " + " | ".join(cells) + " |")
        inner = sub.get("items", sub)
        if "properties" in inner:
            rows += _table(inner, f"{prefix}{name}{'[]' if inner is not sub else ''}.")
    return rows


def render_markdown() -> str:
    centers = _centers()
    pub, priv = EXCHANGES["public"].name, EXCHANGES[PRIVATE].name
    out = [
        "# OneStop events", "",
        "<!-- Generated by `python -m onestop.dev.docsgen` (`make docs`) from the marshmallow schemas "
        "in the event registry. Do not edit by hand. -->", "",
        "Every OneStop service announces what happened to a dossier as an event on RabbitMQ. "
        "The machine-readable contract is [asyncapi.yaml](asyncapi.yaml).", "",
        "## Exchanges and routing keys", "",
        "| exchange | type | carries | who may read |", "|---|---|---|---|",
        f"| `{pub}` | topic | public events | any consumer |",
        f"| `{priv}` | topic | private events (citizen contact data) | the notification service only |",
        f"| `{MATCH.name}` | headers | every public event again, for filtering on headers | any consumer |",
        f"| `{LEGACY.name}` | topic | public events in the deprecated form, while `EVENTS_LEGACY_FORM` is on "
        "([Migrating](#migrating-to-cloudevents)) | any consumer |",
        f"| `{UNROUTED.name}` | fanout | alternate exchange of `{pub}` and `{priv}`: messages no queue was bound for "
        "| operators |", "",
        "### By center and type: the routing key", "",
        "The routing key is `<type>.<center>`, e.g. `dossier.received.v1.hue-vyda`. "
        f"Centers: {', '.join(f'`{c}`' for c in centers)}. Bind a queue on `{pub}` to:", "",
        "- one center: `dossier.received.v1.hue-vyda`, or every type of it with `#.hue-vyda`;",
        "- a set of centers: one binding per center "
        "(`dossier.received.v1.hue-vyda`, `dossier.received.v1.hue-phuxuan`);",
        "- all centers: `dossier.received.v1.*` (a center id is one routing-key word).", "",
        "### By procedure and field: the headers", "",
        "Every message carries the headers "
        + ", ".join(f"`ce-{a}`" for a in FILTER_ATTRIBUTES)
        + " (the names of the RabbitMQ binding of CloudEvents; `ce-procedure` and `ce-field` only on events about "
        f"a dossier). Bind a queue on `{MATCH.name}` with `x-match: all` and the headers you want, matched "
        "exactly:", "",
        '- one procedure: `{"x-match": "all", "ce-procedure": "1.001193"}`;',
        '- one field in one center: `{"x-match": "all", "ce-field": "justice", "ce-center": "hue-vyda"}`;',
        '- one type of one procedure: add `"ce-type": "dossier.received.v1"` (one binding per type: headers '
        "have no wildcards).", "",
        "`examples/subscriber.py` does each (`--procedure`, `--field`, `--events`).", "",
        "## Envelope", "",
        "Every event is a [CloudEvents 1.0](https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md) "
        f"event in structured mode: the message body is the JSON event format and its content type is `{CONTENT_TYPE}`. "
        "The official SDKs read it (the Python one: `cloudevents.core.bindings.rabbitmq.from_structured`, or "
        "`cloudevents.core.formats.json.JSONFormat().read` on the body). `data` is the event's own fields; "
        "`dataschema` is the URI of its JSON Schema, whose file is `docs/schemas/events/<type>.json`. "
        "The extension attributes follow the spec's naming rule (lowercase letters and digits).", "",
        *_table(schema_json(EnvelopeSchema)), "",
        "## Rules", "",
        "- **Versioning.** Adding an optional field to `data` is compatible: do it freely, and consumers "
        "ignore fields they do not know. Anything else (removing, renaming or retyping a field, making one "
        "required, narrowing its values, changing its meaning) is a new type `.vN+1`, published side by side "
        "with the old one until every consumer has moved.",
        f"- **Public and private.** Public events go to `{pub}` and never carry citizen contact data "
        f"(names are masked). Contact data travels only in private events on `{priv}`, which only the "
        "notification service may read.",
        "- **Delivery is at-least-once.** An event may arrive more than once and out of order (redeliveries, "
        "retries): deduplicate on `id`.",
        f"- **Which dossier.** {DOSSIER_RULE}", "",
        "## Migrating to CloudEvents", "",
        f"This is version {CONTRACT_VERSION} of the contract (asyncapi.yaml's `info.version`). "
        "Until 2.0.0 the envelope was CloudEvents-like but not CloudEvents: its extension `correlation_id` "
        "broke the naming rule, `actor` was an object (no CloudEvents type), the content type was "
        "`application/json`, and there was no `dataschema`; the official SDKs refused the events. The data of "
        "every type is unchanged, and so are the type names (`.v1`) and the routing keys.", "",
        "| before | now |", "|---|---|",
        "| `correlation_id` | `correlationid` |", "| `actor.id` | `actorid` |", "| `actor.role` | `actorrole` |",
        "| (none) | `dataschema`, and `procedure`, `field` on events about a dossier |",
        f"| content type `application/json` | `{CONTENT_TYPE}` |", "",
        f"While the deprecation lasts, every public event is also published in the old form to `{LEGACY.name}` "
        "(topic, the same routing keys, header `deprecation: true`): a subscriber that is not ready moves its "
        f"bindings from `{pub}` to `{LEGACY.name}` and changes nothing else, then moves back when it reads the "
        "new form. Operators stop the copy with `EVENTS_LEGACY_FORM=off` once their subscribers have moved "
        "(the copy costs one more publish per public event). The platform's own consumers read both forms, so "
        "messages published before an upgrade (queued, delayed, dead-lettered) are still understood.", "",
        "## Event types", "",
        "| type | producer | visibility | summary |", "|---|---|---|---|",
        *(f"| `{e.type}` | {e.producer} | {e.visibility} | {_md(e.summary)} |" for e in _events()), "",
    ]
    for e in _events():
        out += [f"### `{e.type}`", "", _md(e.summary), "",
                f"- Producer: `{e.producer}`",
                f"- Exchange: `{EXCHANGES[e.visibility].name}` ({e.visibility})",
                f"- Routing key: `{e.type}.<center>`",
                f"- JSON Schema of `data`: [schemas/events/{e.type}.json](schemas/events/{e.type}.json)", "",
                "Data fields:", "", *_table(schema_json(e.schema)), "",
                "Example:", "", "```json", json.dumps(example_envelope(e), indent=2, ensure_ascii=False), "```", ""]
    return "\n".join(out)


# --- docs/asyncapi.yaml ----------------------------------------------------------

def asyncapi() -> dict:
    channels, operations, messages, schemas = {}, {}, {}, {"Envelope": schema_json(EnvelopeSchema)}
    headers = {"type": "object", "properties": {f"ce-{a}": {"type": "string"} for a in FILTER_ATTRIBUTES},
               "description": f"what a binding on {MATCH.name} matches on (x-match: all)"}
    for e in _events():
        exchange = EXCHANGES[e.visibility]
        schemas[e.type] = schema_json(e.schema)
        messages[e.type] = {
            "name": e.type, "title": e.type, "summary": e.summary, "contentType": CONTENT_TYPE,
            "correlationId": {"location": "$message.payload#/correlationid"}, "headers": headers,
            "payload": {"allOf": [{"$ref": "#/components/schemas/Envelope"}, {"type": "object", "properties": {
                "type": {"const": e.type}, "data": {"$ref": f"#/components/schemas/{e.type}"}}}]},
            "examples": [{"name": "example", "payload": example_envelope(e)}],
        }
        channels[e.type] = {
            "address": f"{e.type}.{{center}}",
            "description": f"{e.summary} Visibility: {e.visibility}; exchange `{exchange.name}`.",
            "parameters": {"center": {"$ref": "#/components/parameters/center"}},
            "messages": {e.type: {"$ref": f"#/components/messages/{e.type}"}},
            "bindings": {"amqp": {"is": "routingKey", "bindingVersion": "0.3.0", "exchange": {
                "name": exchange.name, "type": exchange.type, "durable": exchange.durable,
                "autoDelete": False, "vhost": "/"}}},
        }
        operations[f"publish.{e.type}"] = {
            "action": "send", "summary": f"{e.producer} publishes {e.type}.",
            "channel": {"$ref": f"#/channels/{e.type}"},
            "messages": [{"$ref": f"#/channels/{e.type}/messages/{e.type}"}],
            "bindings": {"amqp": {"deliveryMode": 2, "bindingVersion": "0.3.0"}},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "OneStop events", "version": CONTRACT_VERSION, "description": (
            "Events of the OneStop platform for ward Public Administrative Service Centers, each a CloudEvents "
            "1.0 event in structured mode. Routing key `<type>.<center>`; headers `ce-type`, `ce-center`, "
            "`ce-procedure`, `ce-field` for bindings on the headers exchange `onestop.events.match`. Public events on `onestop.events`, private ones (citizen contact data, "
            "notification service only) on `onestop.private`. Delivery is at-least-once: deduplicate on `id`. "
            "Generated from the marshmallow schemas by `python -m onestop.dev.docsgen`; see docs/events.md.")},
        "defaultContentType": CONTENT_TYPE,
        "servers": {"local": {"host": "127.0.0.1:5672", "protocol": "amqp", "protocolVersion": "0.9.1",
                              "description": "RabbitMQ started by `make run`"}},
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages, "parameters": {"center": {
            "description": "center id from the catalog",
            "enum": _centers()}}},
    }


def render_asyncapi() -> str:
    # The JSON round trip gives plain, alias-free data so PyYAML emits no anchors.
    doc = json.loads(json.dumps(asyncapi()))
    return "# Generated by `python -m onestop.dev.docsgen` (`make docs`). Do not edit by hand.\n" + yaml.safe_dump(
        doc, sort_keys=False, allow_unicode=True, width=100)


OUTPUTS = {DOCS / "events.md": render_markdown, DOCS / "asyncapi.yaml": render_asyncapi}
OUTPUTS[DOCS / "access.md"] = accessdoc.render_markdown  # who may call what (onestop.web.access)
OUTPUTS.update({schema_path(t): (lambda e=REGISTRY[t]: json.dumps(data_schema(e), indent=2, ensure_ascii=False) + "\n")
                for t in sorted(REGISTRY)})
OUTPUTS.update(apidocs.outputs(DOCS))  # each service's OpenAPI document (onestop.web.openapi)
OUTPUTS[DOCS / "security.md"] = brokerdoc.render_markdown  # who may do what on the broker (onestop.messaging.users)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a committed file differs")
    check = parser.parse_args(argv).check
    stale = []
    for path, render in OUTPUTS.items():
        text = render()
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(DOCS.parent)}")
    for path in stale:
        print(f"{path.relative_to(DOCS.parent)} is stale: run make docs", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
