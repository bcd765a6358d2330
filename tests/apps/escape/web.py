"""A web dyno that tries to escape when asked: GET /attempt/NAME?arg=...&arg=... (stdlib only)."""

import json
import os
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import attempts


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        if url.path == "/":
            body = {"app": os.environ.get("HEROKU_APP_NAME"), "dyno": os.environ.get("DYNO")}
        elif url.path == "/scan":
            body = attempts.scan(query["host"], [int(p) for p in query["port"]])
        elif url.path.startswith("/attempt/"):
            name = url.path.split("/", 2)[2]
            body = attempts.ATTEMPTS[name](*query.get("arg", []))
        else:
            body = {"error": "not found"}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        """/slow-upload: reads the body at about 1 MB/s (a slow dyno for bench/abuse.py)."""
        length = int(self.headers.get("Content-Length", "0"))
        received = 0
        while received < length:
            chunk = self.rfile.read(min(16384, length - received))
            if not chunk:
                break
            received += len(chunk)
            time.sleep(0.016)
        data = json.dumps({"received": received}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()  # noqa: S104
