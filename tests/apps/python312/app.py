"""Reports which Python serves it, and what the dyno sees of the host's Python."""

import http.server
import os
import sys


def host_view() -> str:
    exe = os.path.getsize("/usr/bin/python3") if os.path.exists("/usr/bin/python3") else "missing"
    stdlib = os.listdir("/usr/lib/python3.11") if os.path.isdir("/usr/lib/python3.11") else []
    return f"host python3 size {exe}, host stdlib entries {len(stdlib)}"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"python {sys.version.split()[0]} at {sys.executable}; {host_view()}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


http.server.ThreadingHTTPServer(("", int(os.environ["PORT"])), Handler).serve_forever()
