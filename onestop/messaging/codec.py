"""orjson as kombu's JSON codec, for `application/json` and for CloudEvents'
JSON event format (`application/cloudevents+json`, serializer ``cloudevents``).

kombu's own codec is the standard library's json behind a hook for extra
types; orjson encodes and decodes our envelopes several times faster. A value
orjson cannot encode (say, a Decimal) falls back to kombu's codec, and a body
holding kombu's typed values comes back through it too, so nothing that
published or consumed before behaves differently now. Installed when `onestop.messaging` is first
imported, in every process that publishes or consumes.
"""
from __future__ import annotations

import orjson

from contracts import CONTENT_TYPE
from kombu.serialization import registry
from kombu.utils import json as kombu_json


def dumps(value) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError: a type only kombu's codec knows
        return kombu_json.dumps(value).encode("utf-8")


def loads(data):
    marker = b"__type__" if isinstance(data, (bytes, bytearray, memoryview)) else "__type__"
    if marker in data:  # kombu's typed values ({"__type__": "decimal", ...}): kombu's codec restores them
        return kombu_json.loads(data)
    return orjson.loads(data)


CLOUDEVENTS = "cloudevents"  # kombu's name for the serializer of CloudEvents' structured mode


def install() -> None:
    registry.register("json", dumps, loads, content_type="application/json", content_encoding="utf-8")
    registry.register(CLOUDEVENTS, dumps, loads, content_type=CONTENT_TYPE, content_encoding="utf-8")
