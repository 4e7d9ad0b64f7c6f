"""Host one nameko service container in its own process, under remote control.

    python -m tests.support.host services.routing.service:RoutingService 127.0.0.1:9101

The fault suite runs each service this way, so the services use both cores,
and can still crash a container the way the suite needs: `POST /kill` is
nameko's `container.kill()` (in-flight work abandoned, nothing acked), while
the process, and with it the embedded store, lives on as a database server
would. With a real MongoDB (MONGO_URI) the suite SIGKILLs the process instead.

Control API (JSON): POST /kill, POST /start, POST /stop, GET /status,
POST /query {"collection", "op": count|find|distinct, "filter", "projection", "field"}.
The container's config is the environment (AMQP_URI, MONGO_DB_PREFIX, ...).
"""
import eventlet

eventlet.monkey_patch()  # noqa: E402

import importlib  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

import orjson  # noqa: E402
from eventlet import wsgi  # noqa: E402
from nameko.containers import ServiceContainer  # noqa: E402

from onestop.config import Settings  # noqa: E402
from onestop.storage.mongo import database  # noqa: E402

KEYS = ("AMQP_URI", "MONGO_URI", "MONGO_DB_PREFIX", "CENTERS", "SMTP_HOST", "SMTP_PORT", "SMS_URL",
        "SMS_TIMEOUT", "SMTP_TIMEOUT", "RETRY_DELAYS", "DELIVERY_LIMIT", "PUBLIC_STATUS_URL", "CHAOS",
        "WEB_SERVER_ADDRESS", "HEARTBEAT", "PREFETCH", "CIRCUIT_FAILURES", "CIRCUIT_RESET")


class Host:
    def __init__(self, target: str):
        module, _, name = target.partition(":")
        self.cls = getattr(importlib.import_module(module), name)
        self.config = {k: os.environ[k] for k in KEYS if k in os.environ}
        self.config["max_workers"] = int(os.environ.get("MAX_WORKERS", "40"))
        if "HEARTBEAT" in self.config:  # nameko hands it to kombu as a number
            self.config["HEARTBEAT"] = float(self.config["HEARTBEAT"])
        self.container = None

    def start(self):
        if self.container is None:
            self.container = ServiceContainer(self.cls, self.config)
            self.container.start()

    def kill(self):
        if self.container is not None:
            self.container.kill()
            self.container = None

    def stop(self):
        if self.container is not None:
            self.container.stop()
            self.container = None

    def query(self, spec: dict):
        coll = database(Settings.load(self.config), self.cls.name)[spec["collection"]]
        op, flt = spec.get("op", "count"), spec.get("filter", {})
        if op == "count":
            return coll.count_documents(flt)
        if op == "distinct":
            return coll.distinct(spec["field"], flt)
        return list(coll.find(flt, spec.get("projection")))

    def __call__(self, environ, start_response):
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        try:
            body = orjson.loads(environ["wsgi.input"].read() or b"{}") if method == "POST" else {}
            if path == "/query":
                result = self.query(body)
            elif path in ("/kill", "/start", "/stop"):
                getattr(self, path[1:])()
                result = {"running": self.container is not None}
            else:
                result = {"running": self.container is not None, "service": self.cls.name}
            status, payload = "200 OK", orjson.dumps(result, default=str)
        except Exception as exc:  # report to the test, keep the host up
            status, payload = "500 Internal Server Error", orjson.dumps({"error": repr(exc)})
        start_response(status, [("Content-Type", "application/json")])
        return [payload]


def main():
    host = Host(sys.argv[1])
    address, _, port = sys.argv[2].rpartition(":")
    host.start()
    print(f"host {host.cls.name} ready on {sys.argv[2]}", flush=True)
    wsgi.server(eventlet.listen((address, int(port))), host, log_output=False)


if __name__ == "__main__":
    main()
