"""A small JWKS server for tests: serves the test key set's public keys over HTTP, as a provider would."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from onestop.web.auth import SigningKeys


class JWKSServer:
    """``GET /jwks.json``: the JWKS of the key file, read at each request (so a rotation shows at once);
    ``fetches`` counts the requests; ``down = True`` answers 503 (a provider that is down)."""

    def __init__(self, keys_file, host: str = "127.0.0.1"):
        self.keys_file, self.fetches, self.down = keys_file, 0, False
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                server.fetches += 1
                if self.path != "/jwks.json" or server.down:
                    self.send_error(404 if not server.down else 503)
                    return
                body = json.dumps(SigningKeys.load(server.keys_file).jwks()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.httpd.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> "JWKSServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
