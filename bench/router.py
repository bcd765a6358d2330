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
       [--repeat 3] [--python] [--wake] [--wake-runs 5] [--netns]
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

    response = RESPONSE

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
            self.transport.write(self.response * count)
            buffer = buffer[buffer.rfind(b"\r\n\r\n") + 4 :]
        self.buffer = buffer


def serve_backend(port: int, host: str = "127.0.0.1", body: str = "hello") -> None:
    import uvloop

    _Hello.response = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
        % (len(body), body.encode())
    )

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


def nginx_conf(
    tmp: Path,
    listen: int,
    backend: int,
    workers: int = 1,
    tls: tuple[int, Path, Path] | None = None,
) -> Path:
    """`workers` workers, keep-alive upstream, the router's per-request work (module doc)."""
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi", "logs"):
        (tmp / name).mkdir(exist_ok=True)
    https = ""
    if tls is not None:
        tls_port, cert, key = tls
        https = (
            f"\n        listen 127.0.0.1:{tls_port} ssl backlog=2048;"
            f"\n        ssl_certificate {cert};\n        ssl_certificate_key {key};"
        )
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"""
worker_processes {workers};
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
        listen 127.0.0.1:{listen} backlog=2048;{https}
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


def bare_haproxy_conf(
    tmp: Path, listen: int, backend: int, threads: int, tls: tuple[int, Path] | None = None
) -> Path:
    """HAProxy with nothing but forwarding: the ceiling for Slipway's data plane."""
    https = ""
    if tls is not None:
        https = f"\n  bind 127.0.0.1:{tls[0]} ssl crt {tls[1]} alpn http/1.1"
    conf = tmp / "bare-haproxy.cfg"
    conf.write_text(
        f"""
global
  nbthread {threads}
  maxconn 8000
defaults
  mode http
  timeout connect 5s
  timeout client 55s
  timeout server 30s
  http-reuse safe
frontend bench
  bind 127.0.0.1:{listen}{https}
  default_backend dyno
backend dyno
  server web.1 127.0.0.1:{backend} maxconn 1000
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


def wrk(
    name: str,
    port: int,
    args: argparse.Namespace,
    threads: int,
    connections: int,
    scheme: str = "http",
    host: str = HOST,
) -> Result:
    base = [WRK, f"-t{threads}", f"-c{connections}", "-H", f"Host: {host}"]
    url = f"{scheme}://127.0.0.1:{port}/"
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
    parser.add_argument(
        "--router-workers", type=int, default=2, help="data plane threads = nginx workers"
    )
    parser.add_argument("--python", action="store_true", help="also the Python router alone")
    parser.add_argument("--wake-runs", type=int, default=5)
    parser.add_argument("--netns", action="store_true", help="the cost of dyno namespaces")
    parser.add_argument("--repeat", type=int, default=3, help="alternating rounds (medians)")
    parser.add_argument("--backend-host", default="127.0.0.1", help=argparse.SUPPRESS)
    parser.add_argument("--body", default="hello", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.backend:
        serve_backend(args.backend, args.backend_host, args.body)
        return
    if args.wake:
        bench_wake(args.wake_runs)
    if args.netns:
        bench_netns(args)
        return
    bench_paths(args)


def _table(path: Path, backend_port: int, filler: int = 0) -> Path:
    dyno = {"name": "web.1", "host": "127.0.0.1", "port": backend_port}
    apps = [
        {"id": f"a{i}", "name": f"filler-{i}", "domains": [f"www.filler-{i}.example"],
         "maintenance": False, "state": "up", "dynos": [dyno]}
        for i in range(filler)
    ]  # fmt: skip
    bench = {"id": "bench", "name": "bench", "domains": [], "maintenance": False, "state": "up"}
    apps.insert(filler // 2, {**bench, "dynos": [dyno]})
    path.write_text(json.dumps({"version": 1, "base_domain": "localhost", "apps": apps}))
    return path


def bench_paths(args: argparse.Namespace) -> None:
    """direct, Slipway, nginx and bare HAProxy; HTTP at -c50 and -c1, HTTPS, 1,000 apps.

    Every path runs for the whole benchmark and they are measured in turn, `--repeat`
    rounds of each load: the figures are medians, so a noisy spell on the machine
    touches every path alike instead of whichever ran then."""
    sys.path.insert(0, str(ROOT / "src"))
    from slipway.tls import ensure_certificates

    workers = args.router_workers
    loads = {
        f"http -c{args.connections}": (args.threads, args.connections, "http"),
        "http -c1": (1, 1, "http"),
        f"https -c{args.connections}": (args.threads, args.connections, "https"),
    }
    runs: dict[str, dict[str, list[Result]]] = {load: {} for load in loads}
    route_change_ms: list[float] = []
    # name -> (port, TLS port or None, the one load it is measured at or None: all)
    paths: dict[str, tuple[int, int | None, str | None]] = {}

    with tempfile.TemporaryDirectory(prefix="slipway-bench-router-") as tmp_name:
        tmp = Path(tmp_name)
        tls = ensure_certificates(tmp / "tls", "localhost", [])
        pem = tmp / "bench.pem"
        pem.write_bytes(tls.cert.read_bytes() + tls.key.read_bytes())
        backend_port, other_port = free_port(), free_port()
        backend = [sys.executable, str(Path(__file__).resolve()), "--backend", str(backend_port)]
        other = [sys.executable, str(Path(__file__).resolve()), "--backend", str(other_port)]

        def slipway(port: int, tls_port: int, table: Path, plane: str) -> list[str]:
            return [
                sys.executable, "-m", "slipway.router", "--listen", f"127.0.0.1:{port}",
                "--tls-listen", f"127.0.0.1:{tls_port}", "--tls-cert", str(tls.cert),
                "--tls-key", str(tls.key), "--static-table", str(table),
                "--workers", str(workers), "--data-plane", plane,
            ]  # fmt: skip

        with contextlib.ExitStack() as stack:
            stack.enter_context(running(backend, backend_port, tmp / "backend.log"))
            stack.enter_context(running([*other, "--body", "other"], other_port, tmp / "o.log"))
            paths["direct"] = (backend_port, None, None)
            port, tls_port = free_port(), free_port()
            table = _table(tmp / "one.json", backend_port)
            proc = stack.enter_context(
                running(slipway(port, tls_port, table, "haproxy"), port, tmp / "slipway.log")
            )
            route_change_ms += route_change(proc, table, port, backend_port, other_port)
            paths["slipway"] = (port, tls_port, None)
            if args.python:
                port, tls_port = free_port(), free_port()
                command = slipway(port, tls_port, _table(tmp / "py.json", backend_port), "python")
                stack.enter_context(running(command, port, tmp / "py.log"))
                paths["python"] = (port, tls_port, None)
            port, tls_port = free_port(), free_port()
            nginx_tls = (tls_port, tls.cert, tls.key)
            nginx = [
                NGINX, "-c", str(nginx_conf(tmp, port, backend_port, workers, nginx_tls)),
                "-g", "daemon off;",
            ]  # fmt: skip
            stack.enter_context(running(nginx, port, tmp / "nginx.log"))
            paths["nginx"] = (port, tls_port, None)
            port, tls_port = free_port(), free_port()
            conf = bare_haproxy_conf(tmp, port, backend_port, workers, (tls_port, pem))
            stack.enter_context(running(["haproxy", "-db", "-f", str(conf)], port, tmp / "b.log"))
            paths["haproxy"] = (port, tls_port, None)
            port, tls_port = free_port(), free_port()
            many = _table(tmp / "many.json", backend_port, filler=999)
            stack.enter_context(
                running(slipway(port, tls_port, many, "haproxy"), port, tmp / "many.log")
            )
            paths["1000 apps"] = (port, tls_port, f"http -c{args.connections}")
            time.sleep(1.0)
            for _ in range(args.repeat):
                for load, (threads, connections, scheme) in loads.items():
                    for name, (plain, secure, only) in paths.items():
                        if only is not None and load != only:
                            continue
                        target = secure if scheme == "https" else plain
                        if target is None:
                            continue
                        result = wrk(name, target, args, threads, connections, scheme)
                        runs[load].setdefault(name, []).append(result)

    print(
        f"response 'hello' ({len(RESPONSE)} bytes), wrk --latency -d{args.duration}s, "
        f"medians of {args.repeat} alternating runs; Slipway = HAProxy data plane "
        f"({workers} threads), nginx {workers} workers, bare HAProxy {workers} threads"
    )
    for load in loads:
        rows = {name: _median(name, found) for name, found in runs[load].items()}
        print(f"\n{load}")
        print(f"{'':10} {'requests/s':>12} {'p50':>10} {'p99':>10}")
        for r in rows.values():
            print(f"{r.name:10} {r.rps:12.0f} {r.p50_ms:8.2f}ms {r.p99_ms:8.2f}ms")
        s, n, h = rows.get("slipway"), rows.get("nginx"), rows.get("haproxy")
        if s and n and h:
            print(f"slipway/nginx {s.rps / n.rps:.2f}x, slipway/bare haproxy {s.rps / h.rps:.2f}x")
        d = rows.get("direct")
        if s and d and n:
            print(
                f"added p99 over direct: slipway {s.p99_ms - d.p99_ms:+.2f}ms, "
                f"nginx {n.p99_ms - d.p99_ms:+.2f}ms (target slipway <= +0.20ms at -c1)"
            )
        m = rows.get("1000 apps")
        if s and m:
            print(f"1000 apps/1 app: {m.rps / s.rps:.2f}x (target: no loss)")
    if route_change_ms:
        print(
            f"\nroute change visible after: median {statistics.median(route_change_ms):.1f}ms, "
            f"max {max(route_change_ms):.1f}ms over {len(route_change_ms)} changes (target 50ms)"
        )


def _median(name: str, found: list[Result]) -> Result:
    return Result(
        name,
        statistics.median(r.rps for r in found),
        statistics.median(r.p50_ms for r in found),
        statistics.median(r.p99_ms for r in found),
    )


def route_change(
    proc: subprocess.Popen[bytes], table: Path, port: int, first: int, second: int, runs: int = 5
) -> list[float]:
    """Move the app between two backends (new table, SIGHUP) and time the first request
    that reaches the new one."""
    times = []
    data = json.loads(table.read_text())
    for i in range(runs):
        target = second if i % 2 == 0 else first
        body = b"other" if target == second else b"hello"
        data["version"] += 1
        data["apps"][0]["dynos"] = [{"name": "web.1", "host": "127.0.0.1", "port": target}]
        table.write_text(json.dumps(data))
        started = time.monotonic()
        proc.send_signal(signal.SIGHUP)
        while True:
            with socket.create_connection(("127.0.0.1", port), 2) as sock:
                sock.sendall(f"GET / HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
                if sock.recv(4096).endswith(body):
                    break
            if time.monotonic() - started > 5:
                raise RuntimeError("the route change was never seen")
        times.append((time.monotonic() - started) * 1000)
        time.sleep(0.2)
    return times


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
