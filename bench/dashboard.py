"""Dashboard and metrics benchmark, each against its baseline in the same run.

1. Server time of the dashboard's apps page and of an app's activity page, with 100
   apps and 10,000 releases in the store (SQLite, in process: the dashboard's ASGI app
   through Starlette's test client, signed in with a real session). Aim: under 100 ms.
   Baseline: the same pages' fragment with nothing in the store but the person.
2. What collecting metrics costs the router: two real `slipway server`s, one with
   `--metrics` and one with `--no-metrics`, the same sample app deployed on each
   (tests/apps/dynos, web=1), wrk through each one's router in alternating rounds.
   Aim: throughput within 3 %. It also checks that the metrics count exactly the
   requests wrk sent (wrk's total plus its warm-up), as the dashboard shows them.
3. The control plane's cost per router line: `router_feed.report` with batches of
   router lines, metrics on and off, in process.

Usage: .venv/bin/python bench/dashboard.py [--duration 10] [--rounds 2] [--skip-router]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WRK = shutil.which("wrk") or "/usr/bin/wrk"
PASSWORD = "bench password 1"


def _timed(fn: Callable[[], Any], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


def _summary(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    return f"median {statistics.median(ordered):6.1f} ms   p95 {p95:6.1f} ms"


# -- 1. page server time -------------------------------------------------------------------


def bench_pages(runs: int) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Starlette's note about httpx2
        from starlette.testclient import TestClient

    from slipway.dashboard import create_dashboard
    from slipway.platform import accounts, apps, views
    from slipway.platform.settings import PlatformSettings
    from slipway.platform.tx import Platform
    from slipway.store import Store
    from slipway.store.engine import sqlite_url
    from slipway.store.models import ReleaseRow

    tmp = Path(tempfile.mkdtemp(prefix="slipway-bench-dashboard-"))
    try:
        store = Store(sqlite_url(tmp / "store.db"))
        store.migrate()
        settings = dataclasses.replace(
            PlatformSettings(), password_hash_time=1, password_hash_memory=64
        )
        platform = Platform(store, settings)
        with platform.tx() as tx:
            admin = accounts.bootstrap_admin(tx, "admin@example.com")
            assert admin is not None
            account, _ = accounts.create_account(
                tx, views.Actor(admin[0]), "dev@example.com", password=PASSWORD
            )
        actor = views.Actor(account)
        client = TestClient(
            create_dashboard(platform, b"bench-secret" * 4), base_url="http://dashboard.localhost"
        )
        form = client.get("/signin").text
        csrf = re.search(r'name="csrf" value="([^"]*)"', form)
        assert csrf
        signed = client.post(
            "/signin",
            data={"csrf": csrf.group(1), "email": "dev@example.com", "password": PASSWORD},
            follow_redirects=False,
        )
        assert signed.status_code == 303, signed.text

        def page(path: str) -> Callable[[], None]:
            def get() -> None:
                response = client.get(path)
                assert response.status_code == 200, response.text

            return get

        empty = _timed(page("/"), runs)
        print("building 100 apps and 10,000 releases...", flush=True)
        with platform.tx() as tx:
            made = [apps.create_app(tx, actor, f"bench-app-{i:03d}") for i in range(100)]
        now = dt.datetime.now(dt.UTC)
        big = made[0]
        with platform.tx() as tx:
            rows = [
                ReleaseRow(
                    id=str(uuid.uuid4()),
                    app_id=big.id,
                    version=v,
                    description=f"Set KEY_{v} config vars",
                    reason="config",
                    status="succeeded",
                    slug_id=None,
                    config={f"KEY_{v}": "x"},
                    addon_keys=[],
                    user_id=account.id,
                    user_email=account.email,
                    created_at=now,
                    updated_at=now,
                )
                for v in range(2, 10_001 - 99)
            ]
            tx.session.add_all(rows)
        with platform.tx() as tx:
            total = tx.session.query(ReleaseRow).count()
        print(f"{len(made)} apps, {total} releases ({big.name} has {total - 99})")
        apps_page = _timed(page("/"), runs)
        activity = _timed(page(f"/apps/{big.name}/activity"), runs)
        older = _timed(page(f"/apps/{big.name}/activity?before=5000"), runs)
        print(f"\ndashboard server time, {runs} requests each (aim < 100 ms):")
        print(f"  apps page, empty store (baseline)   {_summary(empty)}")
        print(f"  apps page, 100 apps                 {_summary(apps_page)}")
        print(f"  activity page, newest 50 of 9,901   {_summary(activity)}")
        print(f"  activity page, older (before v5000) {_summary(older)}")
        store.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# -- 3. the control plane's cost per line ------------------------------------------------


def bench_report(batches: int) -> None:
    from slipway.platform import accounts, apps, router_feed, views
    from slipway.platform.settings import PlatformSettings
    from slipway.platform.tx import Platform
    from slipway.store import Store
    from slipway.store.engine import sqlite_url

    class Feed:
        def activity(self, _: dict[str, float]) -> None:
            pass

    line = (
        'at=info method=GET path="/" host=a.localhost request_id=r fwd="127.0.0.1" '
        "dyno=web.1 connect=0ms service={}ms status=200 bytes=5 protocol=http"
    )
    results = {}
    for enabled in (False, True):
        tmp = Path(tempfile.mkdtemp(prefix="slipway-bench-report-"))
        store = Store(sqlite_url(tmp / "store.db"))
        store.migrate()
        platform = Platform(store, dataclasses.replace(PlatformSettings(), metrics=enabled))
        platform.ports.router_feed = Feed()  # type: ignore[assignment]
        with platform.tx() as tx:
            admin = accounts.bootstrap_admin(tx, "admin@example.com")
            assert admin is not None
            app_id = apps.create_app(tx, views.Actor(admin[0]), "reported").id
        batch = [(app_id, line.format(i % 50)) for i in range(500)]

        def report(p: Platform = platform, b: list[tuple[str, str]] = batch) -> None:
            router_feed.report(p, b, {})

        times = _timed(report, batches)
        platform.metrics.flush()
        results[enabled] = statistics.median(times) / len(batch) * 1000
        store.dispose()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nrouter_feed.report, batches of 500 lines, {batches} batches:")
    print(f"  metrics off: {results[False]:6.1f} us per line (baseline)")
    print(
        f"  metrics on:  {results[True]:6.1f} us per line ({results[True] / results[False]:.2f}x)"
    )


# -- 2. the router's throughput, metrics on and off --------------------------------------


def _wrk(port: int, host: str, seconds: float) -> tuple[float, int]:
    output = subprocess.run(
        [WRK, "-t2", "-c20", f"-d{seconds:g}s", "-H", f"Host: {host}", f"http://127.0.0.1:{port}/"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    total = re.search(r"^\s*(\d+) requests in", output, re.MULTILINE)
    if rps is None or total is None or "Non-2xx" in output or "Socket errors" in output:
        raise RuntimeError(f"wrk failed:\n{output}")
    return float(rps.group(1)), int(total.group(1))


# The dyno: one write per answer, keep-alive, so the dyno is not what limits the router.
HELLO = """\
import asyncio, os

RESPONSE = b"HTTP/1.1 200 OK\\r\\nContent-Length: 5\\r\\n\\r\\nhello"


class Hello(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""

    def data_received(self, data):
        self.buffer += data
        while b"\\r\\n\\r\\n" in self.buffer:
            _, self.buffer = self.buffer.split(b"\\r\\n\\r\\n", 1)
            self.transport.write(RESPONSE)


async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Hello, "0.0.0.0", int(os.environ["PORT"]))
    print("listening", flush=True)
    await server.serve_forever()


asyncio.run(main())
"""


def _hello_repo(user: Any, dest: Path) -> Path:
    dest.mkdir()
    (dest / "Procfile").write_text("web: python3 hello.py\n")
    (dest / "hello.py").write_text(HELLO)
    for args in (("init", "-q", "-b", "main"), ("add", "-A"), ("commit", "-qm", "hello")):
        assert user.git(*args, cwd=dest).returncode == 0
    return dest


def _cpu_seconds(server: Any) -> float:
    """User and system CPU of the server process itself (the control plane), not its
    children (the router, dynos)."""
    import os

    fields = Path(f"/proc/{server.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_up(server: Any, name: str) -> None:
    deadline = time.monotonic() + 60
    with server.client() as api:
        while time.monotonic() < deadline:
            dynos = api.get(f"/apps/{name}/dynos").json()
            if [d["state"] for d in dynos if d["type"] == "web"] == ["up"] and all(
                d["size"].lower() == "performance-l" for d in dynos if d["type"] == "web"
            ):
                return
            time.sleep(0.3)
    raise SystemExit(f"{name}'s web dyno did not come up at its new size")


def bench_router(duration: float, rounds: int) -> None:
    from tests.deploy.conftest import BUILDPACKS, User
    from tests.support import ServerProcess, slipway_login

    root = Path(tempfile.mkdtemp(prefix="slipway-bench-metrics-"))
    root.chmod(0o711)
    servers: dict[str, ServerProcess] = {}
    try:
        for label, flag in (("off", "--no-metrics"), ("on", "--metrics")):
            server = ServerProcess(root / f"data-{label}", extra_args=(flag,)).start()
            servers[label] = server
            user = User(root / f"home-{label}", server)
            user.home.mkdir()
            slipway_login(user.env, server.api_key)
            repo = _hello_repo(user, root / f"app-{label}")
            name = user.create_app(repo, f"bench-metrics-{label}")
            with server.client() as api:
                api.put(
                    f"/apps/{name}/buildpack-installations",
                    json={"updates": [{"buildpack": str(BUILDPACKS / "plain")}]},
                )
            pushed = user.push(repo)
            if pushed.returncode != 0:
                raise SystemExit(pushed.stderr)
            # The biggest size: its CPU quota would otherwise be what limits throughput.
            with server.client() as api:
                sized = api.patch(
                    f"/apps/{name}/formation",
                    json={"updates": [{"type": "web", "size": "performance-l"}]},
                )
                assert sized.status_code == 200, sized.text
            _wait_up(server, name)
        rps: dict[str, list[float]] = {"off": [], "on": []}
        sent: dict[str, int] = {"off": 0, "on": 0}
        for label, server in servers.items():
            _, warm = _wrk(server.router_port, f"bench-metrics-{label}.localhost", 2)
            sent[label] += warm
        cpu: dict[str, float] = {"off": 0.0, "on": 0.0}
        for i in range(rounds):
            # Alternating which goes first, so neither always runs on a warmer machine.
            order = ["off", "on"] if i % 2 == 0 else ["on", "off"]
            for label in order:
                server = servers[label]
                before = _cpu_seconds(server)
                got, total = _wrk(server.router_port, f"bench-metrics-{label}.localhost", duration)
                time.sleep(1)  # its reports reach the control plane
                cpu[label] += _cpu_seconds(server) - before
                rps[label].append(got)
                sent[label] += total
        time.sleep(5)  # the router's last reports
        with servers["on"].client() as api:
            counted = api.get("/apps/bench-metrics-on/metrics").json()
        web = counted["process_types"]["web"]["totals"]
        off, on = statistics.median(rps["off"]), statistics.median(rps["on"])
        print(f"\nrouter throughput through the sample app, wrk -t2 -c20, {rounds}x{duration:g}s:")
        print(f"  metrics off (baseline): {off:8.0f} req/s  {rps['off']}")
        print(f"  metrics on:             {on:8.0f} req/s  {rps['on']}")
        print(f"  cost: {(1 - on / off) * 100:+.1f} % (aim < 3 %)")
        per = {k: cpu[k] / max(1, sum(rps[k]) * duration) * 1e6 for k in cpu}
        print(
            f"  control plane CPU per request: off {per['off']:.1f} us, on {per['on']:.1f} us "
            f"(the router's lines reach it in batches; the machine's other processes compete)"
        )
        for label, server in servers.items():
            dropped = sum(int(n) for n in re.findall(r"(\d+) router lines dropped", server.log()))
            print(f"  router lines dropped (report buffer full), metrics {label}: {dropped}")
        cut = 20 * (rounds + 1)
        print(
            f"  wrk completed {sent['on']} requests; metrics counted {web['requests']} "
            f"{web['counts']} (wrk leaves up to {cut} in flight when its runs end, "
            f"20 connections x {rounds + 1} runs), p50 {web['p50_ms']} ms, p99 {web['p99_ms']} ms"
        )
    finally:
        for server in servers.values():
            server.stop(timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--runs", type=int, default=50, help="requests per page")
    parser.add_argument("--skip-router", action="store_true")
    args = parser.parse_args()
    bench_pages(args.runs)
    bench_report(50)
    if not args.skip_router:
        bench_router(args.duration, args.rounds)


if __name__ == "__main__":
    main()
