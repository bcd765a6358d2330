"""The HTTP-01 responder: a small HTTP server on loopback answering the CA's challenges.

The router forwards every plain-HTTP `/.well-known/acme-challenge/TOKEN` request here
(the table's `acme_responder`), whatever its host; the issuer puts each token's key
authorisation in before it tells the CA to validate, and takes it out afterwards.
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger("slipway.certs.responder")

PREFIX = "/.well-known/acme-challenge/"


class ChallengeResponder:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()
        responder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                token = self.path.split("?", 1)[0].removeprefix(PREFIX)
                answer = responder.answer(token) if self.path.startswith(PREFIX) else None
                body = (answer or "Unknown challenge.").encode()
                self.send_response(200 if answer else 404)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                log.debug("challenge request %s", self.path)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="acme-responder", daemon=True
        )

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def put(self, token: str, validation: str) -> None:
        with self._lock:
            self._tokens[token] = validation

    def remove(self, token: str) -> None:
        with self._lock:
            self._tokens.pop(token, None)

    def answer(self, token: str) -> str | None:
        with self._lock:
            return self._tokens.get(token)
