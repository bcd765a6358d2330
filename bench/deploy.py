"""Deploy benchmark: wall time of `git push` for a Flask + gunicorn app, by phase.

Runs a private `slipway server`, then pushes tests/apps/flask three ways:
first push (cold cache), an empty commit (warm cache), and code changes
(warm cache, new code). Phases come from when each `remote:` line reaches the
pusher: receive (push start -> "Building source"), compile (-> "Compressing"),
pack (-> "Launching"), release (-> "Released vN").

Baselines measured in the same run:
  * git-only: the same push to a bare repository over file:// (no build at all);
  * no-op deploy: the full pipeline with a buildpack that does nothing.

The languages (with --languages): each sample of tests/apps (Sinatra, Rails, Maven, a JDK
17 Maven app, Node.js 18, Python 3.12) pushed cold (a new app: empty build cache, and for
Node.js the first fetch of its release) and warm (an empty commit), against the same build
done by hand in the same run on the same machine: `bundle install --local`, `mvn package`
(offline, Debian's repository, through Debian's launcher), `npm install`, and for Python a
venv with the requirements.

With --build-disk-cost, only what a build's capped disk (`--build-disk`, 2048 MB: an image
made, mounted, the cache copied on and back) costs: the Flask app's warm code-change push on
a server with the cap against the same push on a server without it (`--build-disk 0`),
interleaved in the same run.

Usage: .venv/bin/python bench/deploy.py [--runs 5] [--languages] [--only-languages]
       .venv/bin/python bench/deploy.py --build-disk-cost [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import ServerProcess, slipway_bin, slipway_login  # noqa: E402

APPS = ROOT / "tests" / "apps"
MARKERS = {
    "receive": "remote: Building source:",
    "compile": "remote: -----> Compressing...",
    "pack": "remote: -----> Launching...",
    "release": "Released v",
}


@dataclass
class Push:
    total: float
    phases: dict[str, float] = field(default_factory=dict)


def env_for(home: Path, server: ServerProcess) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "SLIPWAY_API_URL": server.url,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "Bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "Bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> None:
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{result.stderr}")


def timed_push(repo: Path, env: dict[str, str], target: str = "slipway") -> Push:
    start = time.perf_counter()
    proc = subprocess.Popen(
        ["git", "push", target, "main"], cwd=repo, env=env, stderr=subprocess.PIPE, text=True
    )
    seen: dict[str, float] = {}
    lines = []
    assert proc.stderr is not None
    for line in proc.stderr:
        lines.append(line)
        for phase, marker in MARKERS.items():
            if phase not in seen and marker in line:
                seen[phase] = time.perf_counter() - start
    if proc.wait() != 0:
        raise SystemExit("push failed:\n" + "".join(lines))
    total = time.perf_counter() - start
    phases: dict[str, float] = {}
    previous = 0.0
    for phase in MARKERS:
        if phase in seen:
            phases[phase] = seen[phase] - previous
            previous = seen[phase]
    return Push(seen.get("release", total), phases)


def make_repo(sample: str, dest: Path, env: dict[str, str]) -> Path:
    shutil.copytree(APPS / sample, dest)
    for argv in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "add", "-A"],
        ["git", "commit", "-qm", "init"],
    ):
        run(argv, dest, env)
    return dest


def commit(repo: Path, env: dict[str, str], *, empty: bool, n: int) -> None:
    if empty:
        run(["git", "commit", "-q", "--allow-empty", "-m", f"empty {n}"], repo, env)
    else:
        (repo / "app.py").write_text((repo / "app.py").read_text() + f"\n# change {n}\n")
        run(["git", "commit", "-qam", f"change {n}"], repo, env)


def fmt(pushes: list[Push]) -> str:
    totals = [p.total for p in pushes]
    phases = {k: statistics.median([p.phases.get(k, 0.0) for p in pushes]) for k in MARKERS}
    parts = " ".join(f"{k}={v:5.2f}s" for k, v in phases.items())
    return f"p50={statistics.median(totals):6.2f}s max={max(totals):6.2f}s  [{parts}]"


MAVEN_BY_HAND = [
    "java",
    "-cp",
    "/usr/share/maven/boot/plexus-classworlds-2.x.jar",
    "-Dclassworlds.conf=/etc/maven/m2-debian.conf",
    "-Dmaven.home=/usr/share/maven",
]
# What a developer runs in the app's directory to build it by hand (cold: from a clean tree).
BY_HAND: dict[str, tuple[list[str], list[str]]] = {
    "sinatra": (["rm", "-rf", ".bundle", "vendor"], ["bundle", "install", "--local"]),
    "rails": (["rm", "-rf", ".bundle", "vendor"], ["bundle", "install", "--local"]),
    "maven": (["rm", "-rf", "target"], ["MAVEN"]),
    "java-jdk17": (["rm", "-rf", "target"], ["MAVEN"]),
    "node18": (["rm", "-rf", "node_modules"], ["npm", "install", "--no-audit", "--no-fund"]),
    "python312": (
        ["rm", "-rf", ".venv"],
        ["sh", "-c", "python3 -m venv .venv && .venv/bin/pip install -q -r requirements.txt"],
    ),
}


def by_hand(sample: str, work: Path, env: dict[str, str], cold: bool) -> float:
    repo = work / f"hand-{sample}"
    if not repo.exists():
        shutil.copytree(APPS / sample, repo)
    clean, build = BY_HAND[sample]
    if build == ["MAVEN"]:
        build = [*MAVEN_BY_HAND, f"-Dmaven.multiModuleProjectDirectory={repo}"]
        build += ["org.codehaus.plexus.classworlds.launcher.Launcher", "-B", "-q", "-o"]
        build += ["-s", "settings.xml", "-DskipTests", "package"]
    if cold:
        run(clean, repo, env)
    start = time.perf_counter()
    run(build, repo, {**os.environ, **env, "BUNDLE_APP_CONFIG": str(repo / ".bundle")})
    return time.perf_counter() - start


def languages(work: Path, env: dict[str, str], runs: int) -> None:
    print(f"Languages ({runs} runs each; push: time to 'Released vN'; by hand: the build alone)")
    for sample in BY_HAND:
        colds, warms = [], []
        for n in range(runs):
            repo = make_repo(sample, work / f"{sample}-{n}", env)
            run([slipway_bin(), "apps:create", f"bench-{sample}-{n}"], repo, env)
            colds.append(timed_push(repo, env))
            commit(repo, env, empty=True, n=n)
            warms.append(timed_push(repo, env))
        hand_cold = [by_hand(sample, work, env, cold=True) for _ in range(runs)]
        hand_warm = [by_hand(sample, work, env, cold=False) for _ in range(runs)]
        # The build itself is the compile phase ("-----> Compressing" minus "Building
        # source"); the push adds receiving, packing and booting the release's dynos.
        cold_build = statistics.median(p.phases.get("compile", 0.0) for p in colds)
        warm_build = statistics.median(p.phases.get("compile", 0.0) for p in warms)
        hand_cold_p50, hand_warm_p50 = statistics.median(hand_cold), statistics.median(hand_warm)
        print(f"  {sample:11} push cold  {fmt(colds)}")
        print(f"  {sample:11} push warm  {fmt(warms)}")
        print(
            f"  {sample:11} by hand    cold p50={hand_cold_p50:6.2f}s "
            f"warm p50={hand_warm_p50:6.2f}s  ratios (compile phase / by hand): "
            f"cold {cold_build / max(hand_cold_p50, 0.01):.1f}x, "
            f"warm {warm_build / max(hand_warm_p50, 0.01):.1f}x"
        )


def build_disk_cost(runs: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="slipway-bench-"))
    work.chmod(0o755)
    servers = {
        "capped (--build-disk 2048)": ServerProcess(work / "capped"),
        "uncapped (--build-disk 0)": ServerProcess(
            work / "uncapped", extra_args=("--build-disk", "0")
        ),
    }
    try:
        repos: dict[str, tuple[Path, dict[str, str]]] = {}
        for i, (label, server) in enumerate(servers.items()):
            server.start()
            home = work / f"home{i}"
            home.mkdir()
            env = env_for(home, server)
            slipway_login(env, server.api_key)
            repo = make_repo("flask", work / f"flask{i}", env)
            run([slipway_bin(), "apps:create", f"bench-disk-{i}"], repo, env)
            timed_push(repo, env)  # cold: fills the cache
            repos[label] = (repo, env)
        pushes: dict[str, list[Push]] = {label: [] for label in servers}
        for n in range(runs):
            for label, (repo, env) in repos.items():
                commit(repo, env, empty=False, n=n)
                pushes[label].append(timed_push(repo, env))
        print(f"Build disk cost ({runs} runs each; flask code change, warm cache)")
        for label, done in pushes.items():
            print(f"  {label:28} {fmt(done)}")
        capped, uncapped = (statistics.median(p.total for p in v) for v in pushes.values())
        print(f"  ratio: capped / uncapped = {capped / uncapped:.2f}x (p50 of the whole push)")
        # The build's own part (compile and pack: where the disk is made, used and dropped),
        # without the release phase's dyno boot, which the disk does not touch.
        capped, uncapped = (
            statistics.median(p.phases["compile"] + p.phases["pack"] for p in v)
            for v in pushes.values()
        )
        print(
            f"  ratio: capped / uncapped = {capped / uncapped:.2f}x (p50 of compile + pack: "
            f"{capped:.2f}s / {uncapped:.2f}s)"
        )
    finally:
        for server in servers.values():
            if server.proc is not None:
                server.stop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--languages", action="store_true", help="Also the language samples.")
    parser.add_argument("--only-languages", action="store_true", help="Only those.")
    parser.add_argument(
        "--build-disk-cost", action="store_true", help="Only the capped build disk's cost."
    )
    args = parser.parse_args()
    if args.build_disk_cost:
        build_disk_cost(args.runs)
        return
    work = Path(tempfile.mkdtemp(prefix="slipway-bench-"))
    work.chmod(0o755)
    server = ServerProcess(work / "data").start()
    try:
        home = work / "home"
        home.mkdir()
        env = env_for(home, server)
        slipway_login(env, server.api_key)
        if args.languages or args.only_languages:
            languages(work, env, args.runs)
            if args.only_languages:
                return

        flask = make_repo("flask", work / "flask", env)
        run([slipway_bin(), "apps:create", "bench-flask"], flask, env)
        first = timed_push(flask, env)
        empties, changes = [], []
        for n in range(args.runs):
            commit(flask, env, empty=True, n=n)
            empties.append(timed_push(flask, env))
            commit(flask, env, empty=False, n=n)
            changes.append(timed_push(flask, env))

        # Baseline 1: git alone, same repository, to a bare repo over file://.
        bare = work / "bare.git"
        run(["git", "init", "-q", "--bare", str(bare)], work, env)
        git_only = []
        for n in range(args.runs):
            commit(flask, env, empty=False, n=100 + n)
            run(["git", "remote", "remove", "bare"], flask, env) if n else None
            run(["git", "remote", "add", "bare", f"file://{bare}"], flask, env)
            start = time.perf_counter()
            run(["git", "push", "-q", "bare", "main"], flask, env)
            git_only.append(Push(time.perf_counter() - start))

        # Baseline 2: the whole pipeline with a buildpack that does nothing.
        noop_bp = work / "noop-buildpack"
        (noop_bp / "bin").mkdir(parents=True)
        (noop_bp / "bin" / "detect").write_text("#!/bin/sh\necho Noop\n")
        (noop_bp / "bin" / "compile").write_text("#!/bin/sh\nexit 0\n")
        for script in (noop_bp / "bin").iterdir():
            script.chmod(0o755)
        for d in (work, noop_bp, noop_bp / "bin"):
            d.chmod(0o755)
        static = make_repo("static", work / "static", env)
        run([slipway_bin(), "apps:create", "bench-noop"], static, env)
        run([slipway_bin(), "buildpacks:set", str(noop_bp), "-a", "bench-noop"], static, env)
        noop = []
        for n in range(args.runs):
            commit(static, env, empty=True, n=n)
            noop.append(timed_push(static, env))

        print(f"Deploy benchmark ({args.runs} runs each; time to 'Released vN' at the pusher)")
        print(f"  flask first push (cold cache)   {fmt([first])}")
        print(f"  flask empty commit (warm cache) {fmt(empties)}")
        print(f"  flask code change (warm cache)  {fmt(changes)}")
        print(f"  baseline: git push, no build    {fmt(git_only)}")
        print(f"  baseline: no-op buildpack       {fmt(noop)}")
        change_p50 = statistics.median(p.total for p in changes)
        noop_p50 = statistics.median(p.total for p in noop)
        git_p50 = statistics.median(p.total for p in git_only)
        print(
            f"  ratios: code change / no-op deploy = {change_p50 / noop_p50:.1f}x, "
            f"code change / git only = {change_p50 / git_p50:.1f}x"
        )
        verdict = "meets" if change_p50 < 5 else "MISSES"
        print(f"  target: code-change redeploy < 5 s -> {change_p50:.2f}s ({verdict} the target)")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
