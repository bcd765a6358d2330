"""Dyno manager benchmark: scale-up time, release rollover time, platform memory per dyno.

Runs a private `slipway server`, pushes tests/apps/flask (gunicorn) and measures:

  * `ps:scale web=10`: from the PATCH to ten web dynos up (bound to $PORT);
    baseline in the same run: the same gunicorn command started ten times as
    plain processes on this machine, no sandbox, until all ten accept.
  * `config:set`: from the PATCH to the new release's web dynos up and the
    release succeeded (preboot of ten dynos); baseline: the scale-up above.
  * the server process's own memory (RSS) per running dyno: RSS with ten
    dynos minus RSS with one, over nine; baseline: one dyno's own RSS.

With --footprint instead, the platform's own cost (issue 13's targets):

  * a real app's throughput (the flask app, one web dyno) through the router as a share
    of its direct throughput; reference in the same run: nginx (as many workers as the
    router's data plane has threads) in front of the same dyno;
  * memory (RSS and PSS) of the server and the router with its data plane (HAProxy)
    with 20 running web dynos, and their CPU while idle.

Usage: .venv/bin/python bench/dynos.py [--runs 3] [--footprint [--duration 5]]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.deploy.conftest import User  # noqa: E402
from tests.support import ServerProcess, slipway_login  # noqa: E402

if TYPE_CHECKING:
    from bench.router import Result

SCALE = 10


def wait(check: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.02)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def tree_rss_kb(root: int) -> int:
    """RSS of a process and all its descendants (a dyno's gunicorn master and workers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        with contextlib.suppress(OSError):
            total += rss_kb(pid)
        todo += children.get(pid, [])
    return total


def up_web(api: httpx.Client, app: str, version: int | None = None) -> int:
    dynos = api.get(f"/apps/{app}/dynos").json()
    return sum(
        1
        for d in dynos
        if d["type"] == "web"
        and d["state"] == "up"
        and (version is None or d["release"]["version"] == version)
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def baseline_plain_processes(slug_dir: Path) -> float:
    """Ten gunicorns as plain processes: the floor any dyno manager starts from."""
    venv = slug_dir / ".heroku" / "python" / "bin"
    ports = [free_port() for _ in range(SCALE)]
    env = {**os.environ, "PATH": f"{venv}:{os.environ['PATH']}"}
    started = time.monotonic()
    procs = [
        subprocess.Popen(
            [str(venv / "gunicorn"), "app:app", "--bind", f"0.0.0.0:{port}"],
            cwd=slug_dir,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    wait(lambda: all(accepts(p) for p in ports))
    elapsed = time.monotonic() - started
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait()
    return elapsed


def pss_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process, from smaps_rollup."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total


def platform_pids(server_pid: int, data_dir: Path) -> dict[str, list[int]]:
    """The server process, and the router with everything under it (HAProxy)."""
    from bench.abuse import descendants

    router = int((data_dir / "router.pid").read_text().strip())
    return {"server": [server_pid], "router + data plane": [router, *descendants(router)]}


def footprint(args: argparse.Namespace) -> None:
    import json

    sys.path.insert(0, str(ROOT / "bench"))
    from bench.router import WRK, nginx_conf, running, wrk

    root = Path(tempfile.mkdtemp(prefix="slipway-bench-footprint-"))
    server = ServerProcess(root / "data", extra_args=("--max-dynos-per-app", "20")).start()
    try:
        user = User(root / "home", server)
        user.home.mkdir()
        slipway_login(user.env, server.api_key)
        repo = user.repo("flask", root / "flask")
        app = user.create_app(repo, "bench-footprint")
        print("building the flask app (heroku/python)...", flush=True)
        pushed = user.push(repo)
        if pushed.returncode != 0:
            raise SystemExit(pushed.stderr)
        api = server.client()
        assert server.proc is not None
        wait(lambda: up_web(api, app) == 1)
        token = (server.data_dir / "router-token").read_text().strip()
        text = httpx.get(
            f"{server.url}/internal/router/routes?once=1",
            headers={"Authorization": f"Bearer {token}"},
        ).text
        table = json.loads(text.strip().splitlines()[0])
        dyno = next(a for a in table["apps"] if a["name"] == app)["dynos"][0]
        workers = int(args.workers)
        loads = {"c50": (2, 50), "c1": (1, 1)}
        results: dict[str, dict[str, Result]] = {load: {} for load in loads}
        direct_port = dyno["port"]
        wargs = argparse.Namespace(duration=args.duration)
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            nginx_port = free_port()
            conf = nginx_conf(tmp, nginx_port, direct_port, workers)
            conf.write_text(
                conf.read_text().replace(
                    "127.0.0.1:" + str(direct_port), f"{dyno['host']}:{direct_port}"
                )
            )
            for load, (threads, conns) in loads.items():
                # direct: wrk straight at the dyno's address (the host reaches the bridge)
                results[load]["direct"] = _wrk_at(
                    WRK,
                    dyno["host"],
                    direct_port,
                    f"{app}.localhost",
                    threads,
                    conns,
                    args.duration,
                )
                results[load]["slipway"] = wrk(
                    "slipway", server.router_port, wargs, threads, conns, host=f"{app}.localhost"
                )
            with running(
                ["nginx", "-c", str(conf), "-g", "daemon off;"], nginx_port, tmp / "nginx.log"
            ):
                for load, (threads, conns) in loads.items():
                    results[load]["nginx"] = wrk(
                        "nginx", nginx_port, wargs, threads, conns, host=f"{app}.localhost"
                    )
        print(f"\na real app (flask on gunicorn, one web dyno), wrk -d{args.duration}s:")
        for load, rows in results.items():
            d, s, n = rows["direct"], rows["slipway"], rows["nginx"]
            print(
                f"  {load}: direct {d.rps:.0f} req/s, slipway {s.rps:.0f} "
                f"({100 * s.rps / d.rps:.0f} %), nginx {n.rps:.0f} ({100 * n.rps / d.rps:.0f} %);"
                f" p99 direct {d.p99_ms:.2f}ms, slipway {s.p99_ms:.2f}ms, nginx {n.p99_ms:.2f}ms"
            )
        api.patch(f"/apps/{app}/formation", json={"updates": [{"type": "web", "quantity": 20}]})
        wait(lambda: up_web(api, app) == 20, timeout=300)
        time.sleep(5)
        groups = platform_pids(server.proc.pid, server.data_dir)
        print("\nwith 20 running web dynos (aim: below 100 MB in all, idle CPU below 0.2 %):")
        total_rss = total_pss = 0
        for name, pids in groups.items():
            rss = pss = 0
            for pid in pids:
                r, p = pss_kb(pid)
                rss, pss = rss + r, pss + p
            total_rss, total_pss = total_rss + rss, total_pss + pss
            print(
                f"  {name:22} RSS {rss / 1024:6.1f} MB  PSS {pss / 1024:6.1f} MB"
                f"  ({len(pids)} processes)"
            )
        print(f"  {'in all':22} RSS {total_rss / 1024:6.1f} MB  PSS {total_pss / 1024:6.1f} MB")
        hz = os.sysconf("SC_CLK_TCK")
        before = {name: cpu_ticks(pids) for name, pids in groups.items()}
        idle = 20.0
        time.sleep(idle)
        for name, pids in groups.items():
            used = (cpu_ticks(pids) - before[name]) / hz
            print(f"  idle CPU, {name:13} {100 * used / idle:.2f} % of a core (over {idle:.0f}s)")
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _wrk_at(
    wrk_bin: str, host: str, port: int, header: str, threads: int, conns: int, duration: int
) -> Result:
    from bench.router import parse_wrk

    base = [wrk_bin, f"-t{threads}", f"-c{conns}", "-H", f"Host: {header}"]
    url = f"http://{host}:{port}/"
    subprocess.run([*base, "-d2s", url], check=True, capture_output=True)
    out = subprocess.run(
        [*base, f"-d{duration}s", "--latency", url], check=True, capture_output=True, text=True
    ).stdout
    return parse_wrk("direct", out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--footprint", action="store_true", help="the platform's own cost")
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    if args.footprint:
        footprint(args)
        return
    root = Path(tempfile.mkdtemp(prefix="slipway-bench-dynos-"))
    server = ServerProcess(root / "data", extra_args=("--max-dynos-per-app", "20")).start()
    try:
        user = User(root / "home", server)
        user.home.mkdir()
        slipway_login(user.env, server.api_key)
        repo = user.repo("flask", root / "flask")
        app = user.create_app(repo, "bench-dynos")
        print("building the flask app (heroku/python)...", flush=True)
        pushed = user.push(repo)
        if pushed.returncode != 0:
            raise SystemExit(pushed.stderr)
        api = server.client()
        assert server.proc is not None
        server_pid = server.proc.pid
        wait(lambda: up_web(api, app) == 1)
        time.sleep(2)
        rss_one = rss_kb(server_pid)
        dyno_rss = 0
        scale_times, config_times = [], []
        for run in range(args.runs):
            started = time.monotonic()
            api.patch(
                f"/apps/{app}/formation", json={"updates": [{"type": "web", "quantity": SCALE}]}
            )
            wait(lambda: up_web(api, app) == SCALE)
            scale_times.append(time.monotonic() - started)
            if run == 0:
                time.sleep(2)
                rss_ten = rss_kb(server_pid)
                web1 = next(
                    p
                    for p in map(int, filter(str.isdigit, os.listdir("/proc")))
                    if _is_gunicorn_master(p)
                )
                dyno_rss = tree_rss_kb(web1)
            version = api.get(f"/apps/{app}/releases").json()[-1]["version"] + 1
            started = time.monotonic()
            api.patch(f"/apps/{app}/config-vars", json={"BENCH_RUN": str(run)})
            wait(
                lambda v=version: (
                    up_web(api, app, v) == SCALE  # type: ignore[misc]
                    and api.get(f"/apps/{app}/releases/{v}").json()["status"] == "succeeded"
                )
            )
            config_times.append(time.monotonic() - started)
            api.patch(f"/apps/{app}/formation", json={"updates": [{"type": "web", "quantity": 1}]})
            wait(lambda: len(api.get(f"/apps/{app}/dynos").json()) == 1)
        slugs = server.data_dir / "runtime" / "slugs"
        slug_dir = next(p for p in slugs.glob("*/*") if (p / "app.py").exists())
        plain = [baseline_plain_processes(slug_dir) for _ in range(args.runs)]
        platform_per_dyno = (rss_ten - rss_one) / (SCALE - 1)
        med = statistics.median
        print()
        print(
            f"ps:scale web={SCALE} -> all up   median {med(scale_times):.2f}s  "
            f"(runs: {', '.join(f'{t:.2f}' for t in scale_times)})"
        )
        print(
            f"  baseline: {SCALE} plain gunicorns  median {med(plain):.2f}s  "
            f"ratio {med(scale_times) / med(plain):.2f}x"
        )
        print(
            f"config:set -> v(N+1) x{SCALE} up   median {med(config_times):.2f}s  "
            f"(runs: {', '.join(f'{t:.2f}' for t in config_times)})"
        )
        print(f"  vs scale-up: {med(config_times) / med(scale_times):.2f}x")
        print(
            f"platform RSS per running dyno: {platform_per_dyno:.0f} KB "
            f"(server RSS {rss_one} KB with 1 dyno, {rss_ten} KB with {SCALE})"
        )
        print(
            f"  baseline: one dyno's own gunicorn tree: {dyno_rss} KB "
            f"(platform overhead {100 * platform_per_dyno / max(dyno_rss, 1):.1f}% of it)"
        )
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _is_gunicorn_master(pid: int) -> bool:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    parent = int(stat.rsplit(")", 1)[1].split()[1])
    try:
        parent_cmd = Path(f"/proc/{parent}/cmdline").read_bytes()
    except OSError:
        return False
    return any(b"gunicorn" in c for c in cmd) and b"gunicorn" not in parent_cmd


if __name__ == "__main__":
    main()
