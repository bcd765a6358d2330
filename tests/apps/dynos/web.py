"""A tiny web dyno for the dyno manager's tests (stdlib only)."""

import base64
import hashlib
import json
import os
import struct
import subprocess
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

if os.environ.get("NO_BIND") == "1":
    print("pretending to boot, never binding $PORT", flush=True)
    time.sleep(100000)
time.sleep(float(os.environ.get("SLOW_BOOT", "0")))
if os.environ.get("CRASH_AFTER"):
    # Up first, then a crash: the release succeeds and the dyno crash-loops afterwards.
    import threading

    threading.Timer(float(os.environ["CRASH_AFTER"]), lambda: os._exit(1)).start()
if os.environ.get("CRASH_ON_BOOT") == "1":
    print("crashing on boot", flush=True)
    sys.exit(4)


def _ws_echo(handler: BaseHTTPRequestHandler) -> None:
    """A minimal RFC 6455 echo: text and binary frames back, close on close."""
    key = handler.headers["Sec-WebSocket-Key"]
    accept = base64.b64encode(
        hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()  # noqa: S324 - RFC 6455
    ).decode()
    handler.send_response(101, "Switching Protocols")
    handler.send_header("Upgrade", "websocket")
    handler.send_header("Connection", "Upgrade")
    handler.send_header("Sec-WebSocket-Accept", accept)
    handler.end_headers()
    handler.wfile.flush()
    rfile, wfile = handler.rfile, handler.wfile
    while True:
        head = rfile.read(2)
        if len(head) < 2:
            return
        opcode, length = head[0] & 0x0F, head[1] & 0x7F
        if length == 126:
            length = struct.unpack("!H", rfile.read(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", rfile.read(8))[0]
        mask = rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
        data = bytes(b ^ mask[i % 4] for i, b in enumerate(rfile.read(length)))
        if opcode == 8:
            wfile.write(b"\x88\x00")
            wfile.flush()
            return
        reply = data if opcode != 1 else b"echo: " + data
        frame = bytes([0x80 | opcode])
        if len(reply) < 126:
            frame += bytes([len(reply)])
        else:
            frame += bytes([126]) + struct.pack("!H", len(reply))
        wfile.write(frame + reply)
        wfile.flush()


def _run(argv: list[str], env: dict[str, str] | None = None) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=20, env=env, check=False)
    return (done.stdout + done.stderr).strip()


def _db(query: dict[str, str]) -> dict[str, object]:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return {"error": "no DATABASE_URL"}
    sql = "CREATE TABLE IF NOT EXISTS notes (body text);"
    if "put" in query:
        sql += f"INSERT INTO notes VALUES ('{query['put']}');"
    sql += "SELECT string_agg(body, ',' ORDER BY body) FROM notes;"
    return {
        "notes": _run(
            [
                "psql",
                url,
                "-XAtq",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                "SET client_min_messages = warning;" + sql,
            ]
        )
    }


def _cache(query: dict[str, str]) -> dict[str, object]:
    url = os.environ.get("REDIS_URL")
    if not url:
        return {"error": "no REDIS_URL"}
    if "put" in query:
        _run(["redis-cli", "-u", url, "--no-auth-warning", "SET", "greeting", query["put"]])
    return {"greeting": _run(["redis-cli", "-u", url, "--no-auth-warning", "GET", "greeting"])}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _json(self, body: object, status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        # /upload: count the body as it streams in (chunked or sized), answer its size.
        total = 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                total += len(self.rfile.read(size))
                self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length", "0"))
            while left:
                chunk = self.rfile.read(min(left, 1 << 20))
                total += len(chunk)
                left -= len(chunk)
        self._json({"received": total})

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/ws":
            _ws_echo(self)
            self.close_connection = True
            return
        if url.path == "/close":
            # Accept, read the request, answer nothing (H13).
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if url.path == "/die-midway":
            # Half a response, then the connection drops (H18).
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"x" * 100)
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if url.path in ("/db", "/cache"):
            # Through the add-ons' URLs only, with the clients the system has (psql, redis-cli).
            self._json(_db(query) if url.path == "/db" else _cache(query))
            return
        if url.path == "/headers":
            self._json({k.lower(): v for k, v in self.headers.items()})
            return
        if url.path == "/slow":
            time.sleep(float(query.get("s", "1")))
            self._json({"slept": query.get("s", "1"), "dyno": os.environ["DYNO"]})
            return
        if url.path == "/stream":
            # Chunks a second apart: the router must pass each on, not wait for the end.
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(int(query.get("n", "3"))):
                piece = f"chunk {i}\n".encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.flush()
                time.sleep(float(query.get("gap", "1")))
            self.wfile.write(b"0\r\n\r\n")
            return
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
        self._json(body)

    def log_message(self, format: str, *args: object) -> None:
        print(f"{self.command} {self.path}", flush=True)


print(f"listening on {os.environ['PORT']}", flush=True)
# BIND_HOST=127.0.0.1: the classic first-deploy mistake (Flask's app.run() default).
bind_host = os.environ.get("BIND_HOST", "0.0.0.0")  # noqa: S104
ThreadingHTTPServer((bind_host, int(os.environ["PORT"])), Handler).serve_forever()
