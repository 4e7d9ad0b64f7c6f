"""HTTP metrics and `/metrics` for a nameko service: one dependency, `Metrics`.

Declared on a service (``metrics = Metrics()``), it

- counts every HTTP request the service's web server answers, by the URL rule
  of the entrypoint that took it (``/api/v1/dossiers/<code>``, never the path a
  caller wrote) and its status; a request no entrypoint took (a 404, a 405) is
  ``route="other"``. It wraps nameko's WSGI application, so every answer is
  counted, the ones nameko gives itself included;
- injects ``answer(request) -> Response`` for the service's ``GET /metrics``
  entrypoint: onestop.metrics.render(), the Prometheus text format.
"""
from __future__ import annotations

import os
import time
from functools import partial

from nameko.extensions import DependencyProvider
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer
from werkzeug.wrappers import Response

from onestop import metrics

ROUTE = "onestop.route"  # the WSGI environ key the worker's rule is left under


class _Metered:
    """WSGI middleware: the request's time, its rule (left in the environ by the worker) and status."""

    def __init__(self, app, service: str):
        self.app, self.service = app, service

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        answered = []

        def start(status, headers, exc_info=None):
            answered.append(status)
            return start_response(status, headers, exc_info)

        try:
            return self.app(environ, start)
        finally:
            code = int(answered[0][:3]) if answered and answered[0][:3].isdigit() else 500
            metrics.http_request(self.service, environ.get(ROUTE), environ.get("REQUEST_METHOD", ""), code,
                                 time.perf_counter() - started)


def answer(request, token: str = "") -> Response:
    """The `/metrics` response for a werkzeug request (a 401 if there is a token and it is not sent)."""
    status, headers, body = metrics.render(request.headers.get("Authorization"), token)
    return Response(body, status=status, headers=headers)


class Metrics(DependencyProvider):
    """Counts the service's HTTP requests and injects `answer` for its `/metrics` entrypoint.

    METRICS_TOKEN (config, then environment), when set, is the bearer token `/metrics` asks for."""

    def setup(self):
        token = self.container.config.get("METRICS_TOKEN")
        self.token = str(token if token is not None else os.environ.get("METRICS_TOKEN", ""))
        self.rules = {ep: metrics.route(ep.url) for ep in self.container.entrypoints
                      if isinstance(ep, HttpRequestHandler)}
        service = self.container.service_name
        for server in [ext for ext in self.container.subextensions if isinstance(ext, WebServer)]:
            wsgi_app = server.get_wsgi_app  # nameko's documented hook for WSGI middleware, called at start
            server.get_wsgi_app = lambda wsgi_app=wsgi_app: _Metered(wsgi_app(), service)

    def worker_setup(self, worker_ctx):
        rule = self.rules.get(worker_ctx.entrypoint)
        if rule is not None and worker_ctx.args:
            worker_ctx.args[0].environ[ROUTE] = rule

    def get_dependency(self, worker_ctx):
        return partial(answer, token=self.token)
