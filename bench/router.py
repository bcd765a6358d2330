"""Router benchmark: wrk against a fast backend directly, through Slipway's router, and
through nginx as a keep-alive reverse proxy, in one run on the same machine.

The backend is a small uvloop server (a separate process) that answers every GET
with "hello", keep-alive. The router serves a static table pointing at it. nginx
runs one worker with keep-alive upstream connections, and is asked to do what the
router does per request: X-Forwarded-For/Proto/Port, X-Request-Id, X-Request-Start,
Via on the response and a buffered access-log line.

Two loads: the throughput run (-t2 -c50, every process busy, so latency there is
mostly queueing) and a latency run on one connection (-t1 -c1: each request waits
for the one before, so p99 shows what a hop adds, not how long the queue is).

Targets: router throughput >= 0.8x nginx's; router p99 < direct p99 + 1 ms.

With --wake, it also runs a private `slipway server`, deploys tests/apps/flask
(gunicorn), lets it go idle and times the first request through the router
(wake, boot, answer), against a request to the same app awake. Target: < 1 s.

With --netns (as root), it also measures what a dyno's own network namespace costs
per request: the router to the backend on the host's loopback (as dynos were reached
before) against the router to the same backend in a dyno network namespace on the
platform's bridge, with its nftables rules (as dynos are reached now). Aim: within 5 %.

Usage: .venv/bin/python bench/router.py [--duration 10] [--connections 50] [--threads 2]
       [--wake] [--wake-runs 5] [--netns]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "bench.localhost"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
WRK = shutil.which("wrk") or "/usr/bin/wrk"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"


# -- the backend (runs as `bench/router.py --backend PORT`) ----------------------------


class _Hello(asyncio.Protocol):
    """Answers each request head with RESPONSE; pipelined heads are answered in order."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        buffer = self.buffer + data
        count = buffer.count(b"\r\n\r\n")
        if count:
            self.transport.write(RESPONSE * count)
            buffer = buffer[buffer.rfind(b"\r\n\r\n") + 4 :]
        self.buffer = buffer


def serve_backend(port: int, host: str = "127.0.0.1") -> None:
    import uvloop

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_Hello, host, port, backlog=1024)
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        async with server:
            await stop.wait()

    uvloop.run(main())


# -- processes ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_listening(
    port: int, proc: subprocess.Popen[bytes], timeout: float = 15.0, host: str = "127.0.0.1"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


@contextlib.contextmanager
def running(
    argv: list[str], port: int, log: Path, host: str = "127.0.0.1"
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_listening(port, proc, host=host)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def nginx_conf(tmp: Path, listen: int, backend: int) -> Path:
    """One worker, keep-alive upstream, the router's per-request work (see module doc)."""
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi", "logs"):
        (tmp / name).mkdir(exist_ok=True)
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"""
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    log_format router '$request_method "$request_uri" $host $request_id '
                      '"$proxy_add_x_forwarded_for" $upstream_connect_time '
                      '$upstream_response_time $status $bytes_sent';
    access_log {tmp}/logs/access.log router buffer=64k;
    upstream dyno {{
        server 127.0.0.1:{backend};
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{listen} backlog=2048;
        location / {{
            proxy_pass http://dyno;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Port $server_port;
            proxy_set_header X-Request-Id $request_id;
            proxy_set_header X-Request-Start $msec;
            proxy_set_header Via "1.1 vegur";
            add_header Via "1.1 vegur";
        }}
    }}
}}
"""
    )
    return conf


# -- wrk -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _latency(output: str, percentile: str) -> float:
    match = re.search(rf"^\s*{percentile}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no {percentile}% latency in wrk output:\n{output}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(name: str, output: str) -> Result:
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    if rps is None:
        raise RuntimeError(f"no Requests/sec in wrk output:\n{output}")
    if "Non-2xx" in output or "Socket errors" in output:
        raise RuntimeError(f"{name}: wrk saw errors:\n{output}")
    return Result(name, float(rps.group(1)), _latency(output, "50"), _latency(output, "99"))


def wrk(name: str, port: int, args: argparse.Namespace, threads: int, connections: int) -> Result:
    base = [WRK, f"-t{threads}", f"-c{connections}", "-H", f"Host: {HOST}"]
    url = f"http://127.0.0.1:{port}/"
    subprocess.run([*base, "-d2s", url], check=True, capture_output=True)  # warm-up
    output = subprocess.run(
        [*base, f"-d{args.duration}s", "--latency", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return parse_wrk(name, output)


# -- the run -------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--backend", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--wake", action="store_true", help="also time wake-from-idle")
    parser.add_argument("--router-workers", type=int, default=1)
    parser.add_argument("--wake-runs", type=int, default=5)
    parser.add_argument("--netns", action="store_true", help="the cost of dyno namespaces")
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs (--netns)")
    parser.add_argument("--backend-host", default="127.0.0.1", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.backend:
        serve_backend(args.backend, args.backend_host)
        return
    if args.wake:
        bench_wake(args.wake_runs)
    if args.netns:
        bench_netns(args)
        return

    backend_port, router_port, nginx_port = free_port(), free_port(), free_port()
    loads = {"throughput": (args.threads, args.connections), "latency": (1, 1)}
    results: dict[str, list[Result]] = {load: [] for load in loads}

    def measure(name: str, port: int) -> None:
        for load, (threads, connections) in loads.items():
            results[load].append(wrk(name, port, args, threads, connections))

    with tempfile.TemporaryDirectory(prefix="slipway-bench-router-") as tmp_name:
        tmp = Path(tmp_name)
        table = tmp / "routes.json"
        table.write_text(
            json.dumps(
                {
                    "version": 1,
                    "base_domain": "localhost",
                    "apps": [
                        {
                            "id": "bench",
                            "name": "bench",
                            "domains": [],
                            "maintenance": False,
                            "state": "up",
                            "dynos": [{"name": "web.1", "host": "127.0.0.1", "port": backend_port}],
                        }
                    ],
                }
            )
        )
        backend = [sys.executable, str(Path(__file__).resolve()), "--backend", str(backend_port)]
        router = [
            sys.executable,
            "-m",
            "slipway.router",
            "--listen",
            f"127.0.0.1:{router_port}",
            "--static-table",
            str(table),
            "--workers",
            str(args.router_workers),
        ]
        nginx = [NGINX, "-c", str(nginx_conf(tmp, nginx_port, backend_port)), "-g", "daemon off;"]
        with running(backend, backend_port, tmp / "backend.log"):
            measure("direct", backend_port)
            with running(router, router_port, tmp / "router.log"):
                measure("router", router_port)
            with running(nginx, nginx_port, tmp / "nginx.log"):
                measure("nginx", nginx_port)

    print(f"response 'hello' ({len(RESPONSE)} bytes), wrk --latency -d{args.duration}s")
    for load, (threads, connections) in loads.items():
        print(f"\n{load}: wrk -t{threads} -c{connections}")
        print(f"{'':8} {'requests/s':>12} {'p50':>10} {'p99':>10}")
        for r in results[load]:
            print(f"{r.name:8} {r.rps:12.0f} {r.p50_ms:8.2f}ms {r.p99_ms:8.2f}ms")
        direct, router_result, nginx_result = results[load]
        ratio = router_result.rps / nginx_result.rps
        added = router_result.p99_ms - direct.p99_ms
        nginx_added = nginx_result.p99_ms - direct.p99_ms
        print(f"router/nginx throughput: {ratio:.2f}x (target >= 0.80)")
        print(
            f"router p99 - direct p99: {added:+.2f}ms (target < 1.00; nginx: {nginx_added:+.2f}ms)"
        )


def static_table(path: Path, host: str, port: int) -> Path:
    dyno = {"name": "web.1", "host": host, "port": port}
    app = {"id": "bench", "name": "bench", "domains": [], "maintenance": False, "state": "up"}
    path.write_text(
        json.dumps({"version": 1, "base_domain": "localhost", "apps": [{**app, "dynos": [dyno]}]})
    )
    return path


def bench_netns(args: argparse.Namespace) -> None:
    """The router to a backend on loopback vs. in a dyno network namespace (same run)."""
    sys.path.insert(0, str(ROOT / "src"))
    from slipway.runtime.network.host import DynoNetwork

    loads = {"throughput": (args.threads, args.connections), "latency": (1, 1)}
    # name -> load -> one Result per repeat; the two alternate, so a noisy neighbour on
    # the machine hits both alike, and the medians are compared.
    results: dict[str, dict[str, list[Result]]] = {
        name: {load: [] for load in loads} for name in ("loopback", "netns")
    }
    with tempfile.TemporaryDirectory(prefix="slipway-bench-netns-") as tmp_name:
        tmp = Path(tmp_name)
        network = DynoNetwork.open(tmp / "network")
        port = free_port()
        lease = network.attach(port, ())
        try:
            for _ in range(args.repeat):
                for name, host, prefix in (
                    ("loopback", "127.0.0.1", []),
                    ("netns", lease.address, ["nsenter", f"--net={lease.netns}"]),
                ):
                    router_port = free_port()
                    backend = [
                        *prefix,
                        sys.executable,
                        str(Path(__file__).resolve()),
                        "--backend",
                        str(port),
                        "--backend-host",
                        host,
                    ]
                    router = [
                        sys.executable,
                        "-m",
                        "slipway.router",
                        "--listen",
                        f"127.0.0.1:{router_port}",
                        "--static-table",
                        str(static_table(tmp / f"{name}.json", host, port)),
                        "--workers",
                        str(args.router_workers),
                    ]
                    with (
                        running(backend, port, tmp / f"{name}-backend.log", host=host),
                        running(router, router_port, tmp / f"{name}-router.log"),
                    ):
                        for load, (threads, connections) in loads.items():
                            results[name][load].append(
                                wrk(name, router_port, args, threads, connections)
                            )
        finally:
            network.detach(lease)
            network.close()
    print(
        f"router -> backend on loopback vs in a dyno namespace, wrk -d{args.duration}s, "
        f"medians of {args.repeat} alternating runs"
    )
    for load, (threads, connections) in loads.items():
        print(f"\n{load}: wrk -t{threads} -c{connections}")
        print(f"{'':9} {'requests/s':>12} {'p50':>10} {'p99':>10}")
        med = {}
        for name in ("loopback", "netns"):
            runs = results[name][load]
            med[name] = (
                statistics.median(r.rps for r in runs),
                statistics.median(r.p50_ms for r in runs),
                statistics.median(r.p99_ms for r in runs),
            )
            rps, p50, p99 = med[name]
            print(f"{name:9} {rps:12.0f} {p50:8.2f}ms {p99:8.2f}ms")
        (lr, l50, l99), (nr, n50, n99) = med["loopback"], med["netns"]
        print(
            f"netns/loopback: throughput {nr / lr:.3f}x, p50 {n50 / l50:.3f}x, "
            f"p99 {n99 / l99:.3f}x (aim: within 5 %)"
        )


def bench_wake(runs: int) -> None:
    """The first request to a sleeping gunicorn app, through the router, end to end."""
    import statistics
    import time

    import httpx

    root_dir = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root_dir))
    from tests.deploy.conftest import User
    from tests.support import ServerProcess, slipway_login

    root = Path(tempfile.mkdtemp(prefix="slipway-bench-wake-"))
    root.chmod(0o711)
    # Idle after 2 s without a request, so each run is short.
    server = ServerProcess(root / "data", extra_args=("--idle-after", "0.033")).start()
    try:
        user = User(root / "home", server)
        user.home.mkdir()
        slipway_login(user.env, server.api_key)
        repo = user.repo("flask", root / "flask")
        name = user.create_app(repo, "bench-wake")
        print("building the flask app (heroku/python) for the wake benchmark...", flush=True)
        pushed = user.push(repo)
        if pushed.returncode != 0:
            raise SystemExit(pushed.stderr)
        api = server.client()
        api.patch(f"/apps/{name}", json={"sleeps": True})
        url = f"http://127.0.0.1:{server.router_port}/"
        headers = {"Host": f"{name}.localhost"}

        def state() -> str:
            token = (server.data_dir / "router-token").read_text().strip()
            text = httpx.get(
                f"{server.url}/internal/router/routes?once=1",
                headers={"Authorization": f"Bearer {token}"},
            ).text
            apps = json.loads(text.strip().splitlines()[0])["apps"]
            return str(next(a["state"] for a in apps if a["name"] == name))

        cold, warm = [], []
        for _ in range(runs):
            deadline = time.monotonic() + 60
            while state() != "idle" or api.get(f"/apps/{name}/dynos").json():
                if time.monotonic() > deadline:
                    raise SystemExit("the app did not go idle")
                time.sleep(0.2)
            started = time.monotonic()
            response = httpx.get(url, headers=headers, timeout=90)
            cold.append(time.monotonic() - started)
            assert response.status_code == 200, response.text
            started = time.monotonic()
            httpx.get(url, headers=headers, timeout=30)
            warm.append(time.monotonic() - started)
        print(f"\nwake from idle (gunicorn, {runs} runs):")
        print(
            f"  first request after idling: median {statistics.median(cold) * 1000:.0f}ms, "
            f"max {max(cold) * 1000:.0f}ms (target < 1000ms)"
        )
        print(f"  baseline, the app awake:    median {statistics.median(warm) * 1000:.1f}ms")
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
