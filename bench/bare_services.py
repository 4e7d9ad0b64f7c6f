"""The bare four-service chain: what nameko alone gives, the yardstick of issue 18.

The same journey as the platform's (a dossier in over HTTP; received, routed,
assigned; a receipt by SMS and one by email; every event on record in audit),
with nameko's own `http`, `EventDispatcher` and `event_handler` and nothing
else: no schema, no store, no outbox, no idempotency, no retry or dead-letter
queue, no provider call, no metrics, no authentication. Events go to nameko's
durable per-service exchanges (persistent, with nameko's default publisher
confirms) and each handler has its own durable classic queue, as nameko
declares them. Audit keeps the journeys in memory and answers when one is whole.

    python -m bench.bare_services <intake|routing|notification|audit> <amqp-uri> [<http-port>]
"""
from __future__ import annotations

import eventlet

eventlet.monkey_patch()

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

from nameko.events import EventDispatcher, event_handler  # noqa: E402
from nameko.runners import ServiceRunner  # noqa: E402
from nameko.web.handlers import http  # noqa: E402

# what one dossier's journey leaves in audit (bench.pipeline.JOURNEY, in the bare chain's names)
JOURNEY = (("bare_intake", "received"), ("bare_routing", "routed"), ("bare_routing", "assigned"),
           ("bare_notification", "sent"), ("bare_notification", "sent"))


class BareIntake:
    name = "bare_intake"
    dispatch = EventDispatcher()

    @http("POST", "/api/v1/dossiers")
    def submit(self, request):
        body = json.loads(request.get_data(as_text=True))
        code = f"BARE-{uuid.uuid4().hex[:12].upper()}"
        self.dispatch("received", {"code": code, "center": body.get("center"), "procedure": body.get("procedure")})
        return 201, {"Content-Type": "application/json"}, json.dumps({"code": code})


class BareRouting:
    name = "bare_routing"
    dispatch = EventDispatcher()

    @event_handler("bare_intake", "received")
    def route(self, payload):
        self.dispatch("routed", {**payload, "department": "justice"})
        self.dispatch("assigned", {**payload, "officer": "officer-1"})


class BareNotification:
    name = "bare_notification"
    dispatch = EventDispatcher()

    @event_handler("bare_intake", "received")
    def receipt(self, payload):
        for channel in ("sms", "email"):
            self.dispatch("sent", {"code": payload["code"], "channel": channel})


JOURNEYS: dict[str, list[float]] = {}


def _record(payload) -> None:
    JOURNEYS.setdefault(payload["code"], []).append(time.time())


class BareAudit:
    name = "bare_audit"

    @event_handler("bare_intake", "received")
    def received(self, payload):
        _record(payload)

    @event_handler("bare_routing", "routed")
    def routed(self, payload):
        _record(payload)

    @event_handler("bare_routing", "assigned")
    def assigned(self, payload):
        _record(payload)

    @event_handler("bare_notification", "sent")
    def sent(self, payload):
        _record(payload)

    @http("GET", "/journeys/<string:code>")
    def journey(self, request, code):
        """{"end": <epoch seconds of its last entry>} once the journey is whole, else 404."""
        seen = JOURNEYS.get(code, [])
        if len(seen) < len(JOURNEY):
            return 404, json.dumps({"entries": len(seen)})
        return 200, {"Content-Type": "application/json"}, json.dumps({"end": max(seen)})


SERVICES = {"intake": BareIntake, "routing": BareRouting, "notification": BareNotification, "audit": BareAudit}


def main(argv: list[str]) -> None:
    name, amqp_uri = argv[0], argv[1]
    port = argv[2] if len(argv) > 2 else "0"
    runner = ServiceRunner({"AMQP_URI": amqp_uri, "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
                            "max_workers": 10})
    runner.add_service(SERVICES[name])
    runner.start()
    print(f"bare {name} started", flush=True)
    try:
        runner.wait()
    except KeyboardInterrupt:
        runner.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
