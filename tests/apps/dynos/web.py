"""A tiny web dyno for the dyno manager's tests (stdlib only)."""

import json
import os
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

if os.environ.get("NO_BIND") == "1":
    print("pretending to boot, never binding $PORT", flush=True)
    time.sleep(100000)
if os.environ.get("CRASH_ON_BOOT") == "1":
    print("crashing on boot", flush=True)
    sys.exit(4)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/write":
            with open(os.path.join(os.environ["HOME"], query["name"]), "w") as fh:
                fh.write(os.environ["DYNO"])
            body = {"written": query["name"]}
        elif url.path == "/read":
            body = {"exists": os.path.exists(os.path.join(os.environ["HOME"], query["name"]))}
        elif url.path == "/env":
            body = dict(os.environ)
        else:
            body = {
                "dyno": os.environ["DYNO"],
                "release": os.environ.get("HEROKU_RELEASE_VERSION"),
                "greeting": os.environ.get("GREETING", "hello"),
                "pid": os.getpid(),
                "uid": os.getuid(),
                "hostname": os.uname().nodename,
                "profile": os.environ.get("FROM_PROFILE_D"),
            }
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        print(f"{self.command} {self.path}", flush=True)


print(f"listening on {os.environ['PORT']}", flush=True)
ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()  # noqa: S104
