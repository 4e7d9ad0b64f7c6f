"""Run one service the way `nameko run` does, plus a control port to read its store.

    python -m tests.support.host 127.0.0.1:9101 run --config deploy/nameko.yaml services.routing.service

After the control address come `nameko run`'s own arguments, as the launcher
builds them (onestop.dev.launcher.Platform.commands): the same YAML config
(the environment substituted into it), its logging, the same service module.
The fault suite runs each service this way because of `POST /query`: it counts
and reads a service's store every second while it waits for a scenario to
settle, and at the end reconciles thousands of dossiers; the embedded
in-memory store can only be read from inside its process, and the services'
own HTTP APIs would take a request per dossier. A crash is a SIGKILL of the
whole process (tests/fault/harness.py), never something done in here.

Control API (JSON): GET /status, POST /stop and POST /start (the container
stopped and started again in the living process: a center's workers taken
away, not a crash), POST /query {"collection", "op": count|find|distinct,
"filter", "projection", "field"}.
"""
import eventlet

eventlet.monkey_patch()  # noqa: E402

import logging.config  # noqa: E402
import sys  # noqa: E402

import orjson  # noqa: E402
import yaml  # noqa: E402
from eventlet import wsgi  # noqa: E402
from nameko.cli.main import setup_parser, setup_yaml_parser  # noqa: E402
from nameko.cli.run import import_service  # noqa: E402
from nameko.containers import ServiceContainer  # noqa: E402

from onestop.config import Settings  # noqa: E402
from onestop.storage.mongo import database  # noqa: E402


def load(nameko_args: list[str]) -> tuple[type, dict]:
    """The service class and config `nameko run <nameko_args>` would run with."""
    args = setup_parser().parse_args(nameko_args)
    if getattr(args, "main", None) is None or not args.config:
        raise SystemExit(f"expected `run --config <file> <module>`, as the launcher runs a service; got {nameko_args}")
    setup_yaml_parser()
    with open(args.config) as fh:
        config = yaml.safe_load(fh)
    classes = [cls for path in args.services for cls in import_service(path)]
    if len(classes) != 1:
        raise SystemExit(f"a host runs one service; {' '.join(args.services)} has {len(classes)}")
    return classes[0], config


class Host:
    def __init__(self, cls: type, config: dict):
        self.cls, self.config = cls, config
        self.container = None

    def start(self):
        if self.container is None:
            self.container = ServiceContainer(self.cls, self.config)
            self.container.start()

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
            elif path in ("/start", "/stop"):
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
    control, nameko_args = sys.argv[1], sys.argv[2:]
    cls, config = load(nameko_args)
    if "LOGGING" in config:  # as `nameko run` does
        logging.config.dictConfig(config["LOGGING"])
    host = Host(cls, config)
    host.start()
    address, _, port = control.rpartition(":")
    print(f"host {cls.name} ready on {control}", flush=True)
    wsgi.server(eventlet.listen((address, int(port))), host, log_output=False)


if __name__ == "__main__":
    main()
