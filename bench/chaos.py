"""Chaos: a scripted workload while `kill -9` hits a random Slipway process at a random moment.

Each round sets config vars, scales, rolls back, sends traffic through the router, and
now and then pushes, adds a log drain or creates an add-on, while a thread sends SIGKILL
to one of: the server, the router, a build, an add-on server (redis-server), a dyno.
A killed server is started again on the same data dir. After each round it checks:

* every acknowledged change is in the store (config vars, formation, drains, add-ons);
* release numbers are contiguous from v1;
* the formation converges (every web dyno up and routed) within 5 s of the restart;
* nothing is left behind: no dyno network namespace, cgroup, mount or loop device
  beyond the dynos that run, and no router process but the supervised one;
* the log history kept the line of every acknowledged change and every release.

Prints rounds, faults injected, invariant violations (the target is 0) and the time to
converge (p50/p99). The CI run is tests/chaos/test_chaos.py (5 rounds).

Usage: .venv/bin/python bench/chaos.py [--rounds 50] [--seed N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.deploy.conftest import BUILDPACKS, User, set_buildpacks  # noqa: E402
from tests.support import ServerProcess, slipway_login  # noqa: E402

CONVERGE_WITHIN = 5.0
TARGETS = ("server", "router", "build", "addon", "dyno")


@dataclass
class Expected:
    """What the platform acknowledged (a 2xx answer), and what it may or may not have done."""

    config: dict[str, str] = field(default_factory=dict)
    web: int = 1
    web_unsure: set[int] = field(default_factory=set)
    drains: set[str] = field(default_factory=set)
    addons: set[str] = field(default_factory=set)
    log_lines: list[str] = field(default_factory=list)


@dataclass
class ChaosReport:
    rounds: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    convergence: list[float] = field(default_factory=list)

    def summary(self) -> str:
        conv = sorted(self.convergence) or [float("nan")]
        p50 = statistics.median(conv)
        p99 = conv[min(len(conv) - 1, round(0.99 * (len(conv) - 1)))]
        faults = ", ".join(f"{k}: {v}" for k, v in sorted(self.faults.items()))
        return (
            f"rounds={self.rounds} faults={sum(self.faults.values())} ({faults}) "
            f"violations={len(self.violations)} convergence p50={p50:.2f}s p99={p99:.2f}s"
        )


class Receiver:
    """A syslog drain's far end that keeps nothing (the drain only has to be accepted)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port: int = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._drain, args=(conn,), daemon=True).start()

    @staticmethod
    def _drain(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            while conn.recv(65536):
                pass


class Chaos:
    def __init__(self, root: Path, rng: random.Random, say: Callable[[str], None]) -> None:
        self.root = root
        self.rng = rng
        self.say = say
        self.server = ServerProcess(
            root / "data",
            extra_args=(
                "--log-history",
                "100000",
                "--restart-backoff",
                "0.5",
                "--restart-backoff-cap",
                "1",
                "--stop-timeout",
                "2",
            ),
        )
        self.report = ChaosReport()
        self.expected = Expected()
        self.receivers: list[Receiver] = []
        self.app = ""
        self.repo = root / "app"
        self.user: User | None = None
        self.seen_dynos: set[str] = set()

    # -- set-up ---------------------------------------------------------------------

    def start(self) -> None:
        self.server.start()
        home = self.root / "home"
        home.mkdir()
        self.user = User(home, self.server)
        slipway_login(self.user.env, self.server.api_key)
        self.user.repo("dynos", self.repo)
        self.app = self.user.create_app(self.repo, f"chaos-{self.rng.randrange(10**8)}")
        set_buildpacks(self.server, self.app, BUILDPACKS / "plain")
        pushed = self.user.push(self.repo)
        assert pushed.returncode == 0, pushed.stderr
        created = self.user.slipway("addons:create", "redis", cwd=self.repo)
        assert created.returncode == 0, created.stderr
        with self.api() as api:
            self.expected.config = dict(api.get(f"/apps/{self.app}/config-vars").json())
            self.expected.addons = {a["name"] for a in api.get(f"/apps/{self.app}/addons").json()}
        self.wait_converged(60)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.server.stop()

    def api(self) -> httpx.Client:
        return self.server.client()

    # -- the workload -----------------------------------------------------------------

    def _call(self, what: str, fn: Callable[[httpx.Client], httpx.Response]) -> bool | None:
        """True: acknowledged; False: refused (4xx); None: unknown (the server died)."""
        try:
            with self.api() as api:
                response = fn(api)
        except httpx.HTTPError:
            return None
        if response.status_code >= 500:
            self.report.violations.append(f"{what}: {response.status_code} {response.text[:200]}")
            return None
        return response.status_code < 300

    def workload(self, round_no: int) -> None:
        app = self.app
        for i in range(2):
            key, value = f"CHAOS_{round_no}_{i}", f"v{self.rng.randrange(10**6)}"
            change = {key: value}
            ok = self._call("config", partial(_patch, f"/apps/{app}/config-vars", change))
            if ok:
                self.expected.config[key] = value
                self.expected.log_lines.append(f"Set {key} config vars")
        quantity = self.rng.choice((1, 2))
        ok = self._call(
            "scale",
            lambda a: a.patch(
                f"/apps/{app}/formation", json={"updates": [{"type": "web", "quantity": quantity}]}
            ),
        )
        if ok:
            self.expected.web, self.expected.web_unsure = quantity, set()
        elif ok is None:
            self.expected.web_unsure.add(quantity)
        self._rollback_to_current()
        if round_no % 5 == 0:
            receiver = Receiver()
            self.receivers.append(receiver)
            url = f"syslog://127.0.0.1:{receiver.port}"
            if self._call("drain", lambda a: a.post(f"/apps/{app}/log-drains", json={"url": url})):
                self.expected.drains.add(url)
        if round_no % 10 == 7:
            ok = self._call(
                "addon", lambda a: a.post(f"/apps/{app}/addons", json={"plan": "heroku-redis"})
            )
            if ok:
                # What the add-on attached (its name, its config vars), read back once the
                # server answers again.
                with contextlib.suppress(httpx.HTTPError), self.api() as api:
                    names = {x["name"] for x in api.get(f"/apps/{app}/addons").json()}
                    self.expected.addons |= names
                    attached = api.get(f"/apps/{app}/config-vars").json()
                    self.expected.config.update(
                        {k: v for k, v in attached.items() if k.endswith("_URL")}
                    )
        if round_no % 10 == 2 and self.user is not None:
            self.user.commit(self.repo, f"round {round_no}", empty=True)
            self.user.push(self.repo)  # a kill may fail it: only a pushed release counts
        self.traffic(20)

    def _rollback_to_current(self) -> None:
        app = self.app
        try:
            with self.api() as api:
                latest = api.get(
                    f"/apps/{app}/releases", headers={"Range": "version ..; order=desc,max=1"}
                ).json()
        except httpx.HTTPError:
            return
        if latest and latest[0]["status"] == "succeeded":
            release = latest[0]["id"]
            self._call(
                "rollback", lambda a: a.post(f"/apps/{app}/releases", json={"release": release})
            )

    def traffic(self, count: int) -> None:
        url = f"http://127.0.0.1:{self.server.router_port}/"
        headers = {"Host": f"{self.app}.localhost"}
        # While the control plane is down the router holds requests for dynos that went
        # with it: a short timeout, and no more traffic this round after one fails.
        with httpx.Client(timeout=2) as client:
            for _ in range(count):
                try:
                    client.get(url, headers=headers)
                except httpx.HTTPError:
                    return

    # -- faults -----------------------------------------------------------------------

    def pids(self, target: str) -> list[int]:
        data = self.server.data_dir
        if target == "server":
            return (
                [self.server.proc.pid]
                if self.server.proc and self.server.proc.poll() is None
                else []
            )
        if target == "router":
            with contextlib.suppress(OSError, ValueError):
                return [int((data / "router.pid").read_text().split()[0])]
            return []
        if target == "addon":
            found = []
            for pidfile in (data / "addons" / "redis").glob("*/redis.pid"):
                with contextlib.suppress(OSError, ValueError):
                    found.append(int(pidfile.read_text().strip()))
            return found
        prefix = "s-" if target == "build" else "dyno-"
        found = []
        for procs in Path("/sys/fs/cgroup").glob(f"**/slipway/{prefix}*/cgroup.procs"):
            with contextlib.suppress(OSError, ValueError):
                found += [int(p) for p in procs.read_text().split()]
        return found

    def inject(self, target: str, delay: float) -> threading.Thread:
        def fire() -> None:
            time.sleep(delay)
            victims = self.pids(target)
            if not victims:
                return
            pid = self.rng.choice(victims)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                self.report.faults[target] = self.report.faults.get(target, 0) + 1

        thread = threading.Thread(target=fire, daemon=True)
        thread.start()
        return thread

    # -- checks -----------------------------------------------------------------------

    def converged(self) -> str | None:
        """None once every web dyno is up and routed; else what is still missing."""
        try:
            with self.api() as api:
                dynos = api.get(f"/apps/{self.app}/dynos").json()
            token = (self.server.data_dir / "router-token").read_text().strip()
            routes = httpx.get(
                f"{self.server.url}/internal/router/routes?once=1",
                headers={"Authorization": f"Bearer {token}"},
                timeout=5,
            ).text
        except (httpx.HTTPError, OSError, ValueError) as exc:
            return f"API: {exc!r}"
        table = json.loads(routes.strip().splitlines()[0])
        mine: dict[str, Any] = next((a for a in table["apps"] if a["name"] == self.app), {})
        web = [d for d in dynos if d["type"] == "web"]
        up = [d for d in web if d["state"] == "up"]
        wanted = {self.expected.web} | self.expected.web_unsure
        if len(up) not in wanted or len(web) != len(up):
            return f"web dynos {[d['state'] for d in web]}, want {sorted(wanted)} up"
        if len(mine.get("dynos", [])) != len(up):
            return f"routes {mine.get('dynos')} for {len(up)} up dynos"
        return None

    def wait_converged(self, timeout: float) -> float | None:
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.converged() is None:
                return time.monotonic() - start
            time.sleep(0.05)
        return None

    def check(self, round_no: int) -> None:
        v = self.report.violations
        with self.api() as api:
            config = api.get(f"/apps/{self.app}/config-vars").json()
            releases = api.get(
                f"/apps/{self.app}/releases", headers={"Range": "version ..; max=1000"}
            ).json()
            drains = {d["url"] for d in api.get(f"/apps/{self.app}/log-drains").json()}
            addons = {a["name"] for a in api.get(f"/apps/{self.app}/addons").json()}
        for key, value in self.expected.config.items():
            if config.get(key) != value:
                v.append(f"round {round_no}: acknowledged {key}={value} is {config.get(key)!r}")
        versions = [r["version"] for r in releases]
        if versions != list(range(1, len(versions) + 1)):
            v.append(f"round {round_no}: release numbers {versions}")
        if not self.expected.drains <= drains:
            v.append(f"round {round_no}: drains {self.expected.drains - drains} lost")
        if not self.expected.addons <= addons:
            v.append(f"round {round_no}: add-ons {self.expected.addons - addons} lost")
        logs = self.log_history()
        for line in self.expected.log_lines:
            if line not in logs:
                v.append(f"round {round_no}: log line {line!r} lost")
        for version in versions:
            if f"Release v{version} created" not in logs:
                v.append(f"round {round_no}: log line of release v{version} lost")
        self.check_leftovers(round_no)

    def log_history(self) -> str:
        """The app's log history as kept on disk (what a restart reads back), and as served."""
        kept = "".join(
            p.read_text(errors="replace") for p in (self.server.data_dir / "logs").glob("*.jsonl")
        )
        with self.api() as api:
            session = api.post(f"/apps/{self.app}/log-sessions", json={"lines": 1500}).json()
        return kept + httpx.get(session["logplex_url"], timeout=30).text

    def check_leftovers(self, round_no: int) -> None:
        """Namespaces, cgroups and loop devices: those of running dynos only (the reaper is
        given a moment); no mount of the data dir on the host (overlays are private)."""
        v = self.report.violations
        data = str(self.server.data_dir)
        subnet = json.loads(
            (self.server.data_dir / "runtime" / "network" / "network.json").read_text()
        )["subnet"].split(".")
        tag = f"{int(subnet[1]):02x}{int(subnet[2]):02x}"
        deadline = time.monotonic() + 5
        while True:
            with self.api() as api:
                running = {d["id"] for d in api.get(f"/apps/{self.app}/dynos").json()}
            self.seen_dynos |= running
            namespaces = list(Path("/run/netns").glob(f"slipway-{tag}-*"))
            cgroups = {
                p.name.removeprefix("dyno-")
                for base in ("/sys/fs/cgroup/memory/slipway", "/sys/fs/cgroup/slipway")
                for p in Path(base).glob("dyno-*")
            }
            mounts = [m for m in Path("/proc/self/mountinfo").read_text().splitlines() if data in m]
            loops = subprocess.run(
                ["losetup", "-l", "-n", "-O", "BACK-FILE"], capture_output=True, text=True
            ).stdout.count(data)
            problems = []
            if len(namespaces) != len(running):
                problems.append(f"{len(namespaces)} namespaces for {len(running)} dynos")
            left = (cgroups & self.seen_dynos) - running
            if left:
                problems.append(f"cgroups of stopped dynos: {sorted(left)}")
            if mounts:
                problems.append(f"mounts left on the host: {mounts[:3]}")
            if loops != len(running):
                problems.append(f"{loops} loop devices for {len(running)} dynos")
            routers = self.stray_routers()
            if routers:
                problems.append(f"router processes beside the supervised one: {routers}")
            if not problems:
                return
            if time.monotonic() > deadline:
                v.append(f"round {round_no}: " + "; ".join(problems))
                return
            time.sleep(0.1)

    def stray_routers(self) -> list[int]:
        """Routers of this server that are neither the one in router.pid nor its workers."""
        marker = f"--control-url http://127.0.0.1:{self.server.port}".encode()
        try:
            main = int((self.server.data_dir / "router.pid").read_text().split()[0])
        except (OSError, ValueError):
            main = -1
        stray = []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                text = cmdline.read_bytes().replace(b"\0", b" ")
                stat = (cmdline.parent / "stat").read_text()
            except OSError:
                continue
            if b"slipway.router" not in text or marker not in text:
                continue
            pid = int(cmdline.parent.name)
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if main not in (pid, ppid):
                stray.append(pid)
        return stray

    # -- a round ------------------------------------------------------------------------

    def round(self, round_no: int, cycle: bool = False) -> None:
        """One round; with `cycle`, the targets in turn (round 2, a push round, kills a build)."""
        began = time.monotonic()
        builds = round_no % 10 == 2
        if cycle:
            target = TARGETS[round_no % len(TARGETS)]
        else:
            target = self.rng.choice([t for t in TARGETS if t != "build" or builds])
        fault = self.inject(target, self.rng.uniform(0.0, 2.5 if not builds else 4.0))
        self.workload(round_no)
        fault.join()
        if target == "server" and self.server.proc is not None:
            # SIGKILL is delivered asynchronously: wait for the exit before looking.
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.server.proc.wait(10 if self.report.faults.get("server") else 0.1)
        restarted = self.server.proc is not None and self.server.proc.poll() is not None
        if restarted:
            self.server.start(timeout=60)
        took = self.wait_converged(30)
        if took is None:
            self.report.violations.append(
                f"round {round_no}: no convergence after killing the {target}: {self.converged()}"
            )
        else:
            self.report.convergence.append(took)
            if took > CONVERGE_WITHIN:
                self.report.violations.append(
                    f"round {round_no}: converged {took:.1f}s after killing the {target}"
                )
        try:
            self.check(round_no)
        except httpx.HTTPError as exc:
            self.report.violations.append(f"round {round_no}: the API did not answer: {exc!r}")
        self.report.rounds += 1
        self.say(
            f"round {round_no}: killed {target}{' (restarted)' if restarted else ''}, "
            f"converged in {took if took is None else round(took, 2)}s, "
            f"violations so far {len(self.report.violations)} "
            f"({time.monotonic() - began:.1f}s)"
        )


def _patch(path: str, body: dict[str, str], api: httpx.Client) -> httpx.Response:
    return api.patch(path, json=body)


@contextlib.contextmanager
def chaos_run(seed: int, say: Callable[[str], None]) -> Iterator[Chaos]:
    root = Path(tempfile.mkdtemp(prefix="slipway-chaos-"))
    root.chmod(0o711)
    chaos = Chaos(root, random.Random(seed), say)
    try:
        chaos.start()
        yield chaos
    finally:
        chaos.close()
        shutil.rmtree(root, ignore_errors=True)


def run(
    rounds: int, seed: int, say: Callable[[str], None] = print, *, cycle: bool = False
) -> ChaosReport:
    """`cycle`: each kind of process in turn rather than at random (the short CI run)."""
    with chaos_run(seed, say) as chaos:
        for round_no in range(rounds):
            chaos.round(round_no, cycle=cycle)
        return chaos.report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()
    print(f"seed {args.seed}")
    report = run(args.rounds, args.seed)
    for violation in report.violations:
        print("VIOLATION:", violation)
    print(report.summary())
    sys.exit(1 if report.violations else 0)


if __name__ == "__main__":
    main()


__all__ = ["ChaosReport", "run"]
