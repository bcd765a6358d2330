"""Router and log abuse: what hostile clients and a log-flooding dyno cost the others.

A private `slipway server` runs two apps of tests/apps/escape: a victim and an abuser.
For each abuse, for --duration seconds, a probe sends sequential requests to the victim
through the router (whatever serves on the router port: today's router, or the HAProxy
data plane once it lands), and afterwards counts the victim's router lines in its log
history. Printed per abuse, next to the quiet baseline of the same run: the victim's
p50/p99 and ratio to the baseline, its failed requests, the share of its router lines
delivered, and the resident memory of the router (all its processes) and of the server
(Logplex lives there), at the peak.

Abuses: 1,000 slowloris connections; header floods (2,000 headers; a 1 MB header);
10,000 idle connections; malformed requests from a corpus (bad request lines, an 8 KB
header line, 1,000 headers, bad chunk framing ...); requests for unknown hosts; a 1 GB
upload to a dyno that reads at ~1 MB/s; the abuser's `flood` dyno writing 100 MB/s of
logs, with a drain that reads slowly and a log tail that does not read (L10, L11 and
L12 are looked for in the abuser's logs).

Usage: .venv/bin/python bench/abuse.py [--duration 10] [--only logs]
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.deploy.conftest import BUILDPACKS, User, set_buildpacks  # noqa: E402
from tests.dynos.conftest import Dynos, wait_for  # noqa: E402
from tests.support import ServerProcess, slipway_login  # noqa: E402

MALFORMED = [
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/9.9\r\nHost: {host}\r\n\r\n",
    b"GET / HTTP/1.1\nHost: {host}\n\n",
    b"GET /\x00 HTTP/1.1\r\nHost: {host}\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: {host}\r\nContent-Length: -1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: {host}\r\nContent-Length: 99999999999999999999\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"zz\r\nhello\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: {host}\r\nHost: other.localhost\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost {host}\r\n\r\n",
    b"GET / HTTP/1.1\r\n Host: {host}\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: {host}\r\nX: \xff\xfe\r\n\r\n",
    b"GET http://evil.example/ HTTP/1.1\r\nHost: {host}\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
    b"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}\r\n\r\n",
    b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: {host}\r\n\r\n",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 64,
    b"GET / HTTP/1.1\r\nHost: {host}\r\n\r\nGET / HTTP/1.1\r\nHost: {host}\r\n",
    b"\r\n\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: {host}\r\nX-Big: " + b"b" * 8200 + b"\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: {host}\r\n" + b"X-Many: 1\r\n" * 1001 + b"\r\n",
]


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


@dataclass
class Figures:
    name: str
    p50_ms: float
    p99_ms: float
    failures: int
    delivered: float
    router_mb: float
    server_mb: float
    notes: str = ""


@dataclass
class Probe:
    """Sequential requests to the victim through the router, and memory samples."""

    url: str
    host: str
    router_pids: Callable[[], list[int]]
    server_pid: int
    samples: list[float] = field(default_factory=list)
    failures: int = 0
    marks: list[str] = field(default_factory=list)
    router_peak: float = 0.0
    server_peak: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                mark = uuid.uuid4().hex[:12]
                start = time.perf_counter()
                try:
                    response = client.get(f"{self.url}/?probe={mark}", headers={"Host": self.host})
                    if response.status_code != 200:
                        self.failures += 1
                except httpx.HTTPError:
                    self.failures += 1
                self.samples.append(time.perf_counter() - start)
                self.marks.append(mark)
                self.router_peak = max(self.router_peak, rss_mb(self.router_pids()))
                self.server_peak = max(self.server_peak, rss_mb(descendants(self.server_pid)[:1]))
                time.sleep(0.02)

    @contextlib.contextmanager
    def running(self) -> Iterator[Probe]:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(30)


class Bench:
    def __init__(self, root: Path, duration: float) -> None:
        self.root = root
        self.duration = duration
        self.server = ServerProcess(root / "data", extra_args=("--rate-limit", "1000000"))
        self.results: list[Figures] = []

    def start(self) -> None:
        self.server.start()
        user = User(self.root / "home", self.server)
        (self.root / "home").mkdir()
        slipway_login(user.env, self.server.api_key)
        self.victim = self._deploy(user, "victim")
        self.abuser = self._deploy(user, "abuser")
        self.router_url = f"http://127.0.0.1:{self.server.router_port}"

    def _deploy(self, user: User, prefix: str) -> str:
        repo = user.repo("escape", self.root / prefix)
        name = user.create_app(repo, f"{prefix}-{uuid.uuid4().hex[:8]}")
        set_buildpacks(self.server, name, BUILDPACKS / "plain")
        pushed = user.push(repo)
        assert pushed.returncode == 0, pushed.stderr
        dynos = Dynos(self.server, name)
        wait_for(lambda: dynos.urls(), what=f"{name} up")
        return name

    def router_pids(self) -> list[int]:
        with contextlib.suppress(OSError, ValueError):
            return descendants(int((self.server.data_dir / "router.pid").read_text().split()[0]))
        return []

    def measure(self, name: str, abuse: Callable[[threading.Event], str]) -> None:
        assert self.server.proc is not None
        probe = Probe(
            self.router_url, f"{self.victim}.localhost", self.router_pids, self.server.proc.pid
        )
        stop = threading.Event()
        notes: list[str] = []
        worker = threading.Thread(target=lambda: notes.append(abuse(stop)), daemon=True)
        with probe.running():
            worker.start()
            time.sleep(self.duration)
            stop.set()
            worker.join(60)
        time.sleep(2)  # router lines are reported in batches
        logs = "\n".join(Dynos(self.server, self.victim).logs())
        delivered = sum(1 for m in probe.marks if f"probe={m}" in logs) / max(1, len(probe.marks))
        quantiles = (
            statistics.quantiles(probe.samples, n=100) if len(probe.samples) > 2 else [0.0] * 99
        )
        self.results.append(
            Figures(
                name,
                statistics.median(probe.samples) * 1000 if probe.samples else float("nan"),
                quantiles[98] * 1000,
                probe.failures,
                delivered,
                probe.router_peak,
                probe.server_peak,
                notes[0] if notes else "",
            )
        )
        base = self.results[0]
        f = self.results[-1]
        print(
            f"{f.name:<22} p50 {f.p50_ms:7.1f} ms  p99 {f.p99_ms:7.1f} ms "
            f"(x{f.p99_ms / base.p99_ms:5.2f})  failed {f.failures:3d}  "
            f"delivered {100 * f.delivered:5.1f}%  router {f.router_mb:6.1f} MB  "
            f"server {f.server_mb:6.1f} MB  {f.notes}",
            flush=True,
        )

    # -- the abuses ------------------------------------------------------------------

    def _connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.server.router_port), timeout=10)

    def quiet(self, stop: threading.Event) -> str:
        stop.wait()
        return ""

    def slowloris(self, stop: threading.Event, count: int = 1000) -> str:
        socks = []
        for _ in range(count):
            with contextlib.suppress(OSError):
                s = self._connect()
                s.sendall(f"GET / HTTP/1.1\r\nHost: {self.abuser}.localhost\r\nX-a: ".encode())
                socks.append(s)
        closed = 0
        while not stop.wait(1.0):
            for s in list(socks):
                try:
                    s.sendall(b"b")
                except OSError:
                    socks.remove(s)
                    closed += 1
        for s in socks:
            s.close()
        return f"{count} opened, {closed} closed by the router"

    def header_flood(self, stop: threading.Event) -> str:
        many = "".join(f"X-Flood-{i}: {'v' * 90}\r\n" for i in range(2000))
        huge = f"X-Huge: {'h' * (1024 * 1024)}\r\n"
        statuses: dict[str, int] = {}
        while not stop.is_set():
            for extra in (many, huge):
                try:
                    with self._connect() as s:
                        head_host = f"GET / HTTP/1.1\r\nHost: {self.abuser}.localhost\r\n"
                        s.sendall(f"{head_host}{extra}\r\n".encode())
                        head = s.recv(64).split(b"\r\n", 1)[0].decode(errors="replace")
                except OSError as exc:
                    head = type(exc).__name__
                statuses[head] = statuses.get(head, 0) + 1
        return ", ".join(f"{k or 'closed'}: {v}" for k, v in statuses.items())

    def idle(self, stop: threading.Event, count: int = 10_000) -> str:
        socks = []
        refused = 0
        for _ in range(count):
            try:
                socks.append(self._connect())
            except OSError:
                refused += 1
        stop.wait()
        alive = 0
        for s in socks:
            s.setblocking(False)
            try:
                alive += (s.recv(1) == b"" and 0) or 0
            except BlockingIOError:
                alive += 1
            except OSError:
                pass
            s.close()
        return f"{len(socks)} opened, {refused} refused, {alive} still open at the end"

    def malformed(self, stop: threading.Event) -> str:
        host = f"{self.abuser}.localhost".encode()
        statuses: dict[str, int] = {}
        while not stop.is_set():
            for raw in MALFORMED:
                try:
                    with self._connect() as s:
                        s.settimeout(5)
                        s.sendall(raw.replace(b"{host}", host))
                        head = s.recv(64).split(b"\r\n", 1)[0].decode(errors="replace")
                except OSError as exc:
                    head = type(exc).__name__
                code = head.split(" ")[1] if head.startswith("HTTP/") else (head or "closed")
                statuses[code] = statuses.get(code, 0) + 1
        return ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))

    def unknown_hosts(self, stop: threading.Event) -> str:
        """Requests for hosts no app has, each a new one (a scanner's traffic)."""
        statuses: dict[str, int] = {}
        while not stop.is_set():
            try:
                with self._connect() as s:
                    s.settimeout(5)
                    s.sendall(
                        f"GET / HTTP/1.1\r\nHost: {uuid.uuid4().hex}.localhost\r\n\r\n".encode()
                    )
                    head = s.recv(64).split(b"\r\n", 1)[0].decode(errors="replace")
            except OSError as exc:
                head = type(exc).__name__
            code = head.split(" ")[1] if head.startswith("HTTP/") else (head or "closed")
            statuses[code] = statuses.get(code, 0) + 1
        return ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))

    def upload(self, stop: threading.Event) -> str:
        sent = 0
        gigabyte = 1024**3
        block = b"u" * 65536
        try:
            with self._connect() as s:
                s.sendall(
                    f"POST /slow-upload HTTP/1.1\r\nHost: {self.abuser}.localhost\r\n"
                    f"Content-Length: {gigabyte}\r\n\r\n".encode()
                )
                s.settimeout(1)
                while sent < gigabyte and not stop.is_set():
                    try:
                        sent += s.send(block)
                    except TimeoutError:
                        continue
        except OSError as exc:
            return f"{sent / 2**20:.0f} MB sent, then {type(exc).__name__}"
        return f"{sent / 2**20:.0f} MB of 1024 sent in the time (the dyno reads ~1 MB/s)"

    def log_flood(self, stop: threading.Event) -> str:
        """The abuser's `flood` dyno at 100 MB/s, a drain that reads 1 KB every 0.5 s and a
        tail that reads nothing until the end. Heroku writes L12 into the app's logs, L10
        into the drain's stream and L11 into the tail's: each is looked for there."""
        with self.server.client() as api:
            slow = socket.socket()
            # Small kernel buffers, so the slow reader is slow at once (accepted sockets
            # inherit them).
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            slow.bind(("127.0.0.1", 0))
            slow.listen(1)
            port = slow.getsockname()[1]
            api.post(f"/apps/{self.abuser}/log-drains", json={"url": f"syslog://127.0.0.1:{port}"})
            session = api.post(
                f"/apps/{self.abuser}/log-sessions", json={"tail": True, "lines": 10}
            ).json()
            tail = socket.socket()
            tail.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            tail.connect(("127.0.0.1", self.server.port))
            path = session["logplex_url"].split(str(self.server.port), 1)[1]
            tail.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            drained = bytearray()
            done = threading.Event()

            def read_slowly(conn: socket.socket) -> None:
                with conn:
                    while not stop.wait(0.5):
                        with contextlib.suppress(OSError):
                            drained.extend(conn.recv(1024))
                    conn.settimeout(0.5)
                    end = time.monotonic() + 5
                    while time.monotonic() < end:  # the rest, read at full speed
                        try:
                            chunk = conn.recv(65536)
                        except TimeoutError:
                            continue
                        except OSError:
                            break
                        if not chunk:
                            break
                        drained.extend(chunk)
                done.set()

            def accept() -> None:
                # The drain's reachability probe connects first, then the sender.
                while True:
                    try:
                        conn, _ = slow.accept()
                    except OSError:
                        return
                    threading.Thread(target=read_slowly, args=(conn,), daemon=True).start()

            threading.Thread(target=accept, daemon=True).start()
            scale = f"/apps/{self.abuser}/formation"
            api.patch(scale, json={"updates": [{"type": "flood", "quantity": 1}]})
            stop.wait()
            api.patch(scale, json={"updates": [{"type": "flood", "quantity": 0}]})
            tailed = bytearray()
            tail.settimeout(0.5)
            end = time.monotonic() + 5
            while time.monotonic() < end:
                try:
                    chunk = tail.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    break
                tailed.extend(chunk)
            tail.close()
            done.wait(10)
            slow.close()
        logs = "\n".join(Dynos(self.server, self.abuser).logs())
        seen = {
            "L12 in the app's logs": "Error L12" in logs,
            "L10 in the drain": b"Error L10" in drained,
            "L11 in the tail": b"Error L11" in tailed,
        }
        sizes = f"(drain got {len(drained) >> 10} KB, tail {len(tailed) >> 10} KB)"
        return ", ".join(f"{k}: {'yes' if v else 'no'}" for k, v in seen.items()) + " " + sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--only", default="", help="run only the abuses whose name has this")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="slipway-abuse-"))
    root.chmod(0o711)
    bench = Bench(root, args.duration)
    try:
        bench.start()
        print(
            f"victim {bench.victim}, abuser {bench.abuser}, {args.duration:.0f} s each", flush=True
        )
        for name, abuse in (
            ("baseline (quiet)", bench.quiet),
            ("1,000 slowloris", bench.slowloris),
            ("header floods", bench.header_flood),
            ("10,000 idle conns", bench.idle),
            ("malformed corpus", bench.malformed),
            ("unknown hosts", bench.unknown_hosts),
            ("1 GB slow upload", bench.upload),
            ("100 MB/s of logs", bench.log_flood),
            ("baseline (after)", bench.quiet),
        ):
            if name.startswith("baseline (q") or args.only.lower() in name.lower():
                bench.measure(name, abuse)
    finally:
        bench.server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
