"""Real dynos from real slugs: boot, scale, crash back-off, R10, SIGTERM, R15, preboot."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx

from tests.deploy.conftest import User
from tests.dynos.conftest import Dynos, lines_of


def test_a_deploy_runs_its_web_dyno_with_herokus_environment(
    deployed: tuple[Dynos, Path],
) -> None:
    dynos, _ = deployed
    assert dynos.states() == ["web.1:up"]
    answer = dynos.get("web.1")
    assert answer["dyno"] == "web.1"
    assert answer["release"] == "v2"
    assert answer["hostname"] == "web.1"
    assert answer["uid"] >= 20000, "dynos run as the app's own unprivileged uid"
    assert answer["profile"] == "yes", ".profile.d scripts are sourced before the command"
    env = dynos.get("web.1", "/env")
    assert env["HOME"] == "/app"
    assert env["HEROKU_APP_NAME"] == dynos.app
    assert env["PORT"] == str(dynos.ports()["web.1"])
    logs = dynos.logs()
    web = lines_of(logs, "heroku[web.1]")
    assert web[:3] == [
        "State changed from down to starting",
        "Starting process with command `python3 web.py`",
        "State changed from starting to up",
    ]
    assert any(line.endswith(f"app[web.1]: listening on {env['PORT']}") for line in logs)
    release = lines_of(logs, "app[release." + _release_dyno(logs) + "]")
    assert release == ["release phase of v2 on release." + _release_dyno(logs)]
    assert dynos.releases()[-1]["status"] == "succeeded"


def _release_dyno(logs: list[str]) -> str:
    match = next(m for line in logs if (m := re.search(r"heroku\[release\.(\d+)\]", line)))
    return match.group(1)


def test_scale_up_and_down(deployed: tuple[Dynos, Path]) -> None:
    dynos, _ = deployed
    dynos.scale(web=3, worker=2)
    dynos.wait(
        lambda: (
            dynos.states() == ["web.1:up", "web.2:up", "web.3:up", "worker.1:up", "worker.2:up"]
        ),
        what="3 web and 2 worker dynos up",
    )
    assert {dynos.get(name)["dyno"] for name in ("web.1", "web.2", "web.3")} == {
        "web.1",
        "web.2",
        "web.3",
    }
    dynos.wait(lambda: "working in worker.2" in "\n".join(dynos.logs()), what="worker output")
    dynos.scale(web=1, worker=0)
    dynos.wait(lambda: dynos.states() == ["web.1:up"], what="scaled back to web.1")
    logs = dynos.logs()
    assert "Stopping all processes with SIGTERM" in lines_of(logs, "heroku[worker.2]")
    assert "State changed from up to down" in lines_of(logs, "heroku[web.3]")


def test_a_crash_loop_restarts_at_once_then_backs_off(deployed: tuple[Dynos, Path]) -> None:
    dynos, _ = deployed
    dynos.scale(crash=1)

    def crashes() -> int:
        return lines_of(dynos.logs(), "heroku[crash.1]").count("Process exited with status 3")

    dynos.wait(lambda: crashes() >= 3, timeout=30, what="three crashes")
    logs = dynos.logs()
    crash = lines_of(logs, "heroku[crash.1]")
    assert "State changed from up to crashed" in crash
    assert "State changed from crashed to starting" in crash
    assert "boom" in lines_of(logs, "app[crash.1]")
    # With the test server's back-off (1 s, doubling): the 1st restart is immediate, the
    # 2nd waits about 1 s, the 3rd about 2 s.
    stamps = [
        _stamp(line)
        for line in logs
        if "heroku[crash.1]" in line and line.endswith("State changed from crashed to starting")
    ]
    assert stamps[1] - stamps[0] >= 0.9
    dynos.scale(crash=0)
    dynos.wait(lambda: dynos.states("crash") == [], what="crash scaled away")


def _stamp(line: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(line.split(" ", 1)[0]).timestamp()


def test_sigterm_then_sigkill_after_the_grace_period(deployed: tuple[Dynos, Path]) -> None:
    dynos, _ = deployed
    dynos.scale(graceful=1, stubborn=1)
    dynos.wait(
        lambda: (
            "running (stubborn)" in lines_of(dynos.logs(), "app[stubborn.1]")
            and "running (graceful)" in lines_of(dynos.logs(), "app[graceful.1]")
        ),
        what="both trapping dynos running",
    )
    dynos.scale(graceful=0, stubborn=0)
    dynos.wait(lambda: not dynos.states("stubborn"), timeout=15, what="stubborn dyno gone")
    logs = dynos.logs()
    assert lines_of(logs, "app[graceful.1]")[-2:] == ["got SIGTERM (graceful)", "cleaned up"]
    graceful = lines_of(logs, "heroku[graceful.1]")
    assert graceful[-2:] == ["Process exited with status 0", "State changed from up to down"]
    stubborn = lines_of(logs, "heroku[stubborn.1]")
    assert stubborn[-5:] == [
        "Stopping all processes with SIGTERM",
        "Error R12 (Exit timeout) -> At least one process failed to exit within 2 seconds "
        "of SIGTERM",
        "Stopping remaining processes with SIGKILL",
        "Process exited with status 137",
        "State changed from up to down",
    ]


def test_a_dyno_past_twice_its_memory_is_killed_with_r15(deployed: tuple[Dynos, Path]) -> None:
    dynos, _ = deployed
    dynos.scale(hog=1)
    dynos.wait(
        lambda: (
            "Error R15 (Memory quota vastly exceeded)" in lines_of(dynos.logs(), "heroku[hog.1]")
        ),
        timeout=40,
        what="R15",
    )
    dynos.scale(hog=0)
    hog = lines_of(dynos.logs(), "heroku[hog.1]")
    assert "Error R14 (Memory quota exceeded)" in hog
    assert any(re.fullmatch(r"Process running mem=\d+MB\(\d+\.\d%\)", line) for line in hog)
    assert "Process exited with status 137" in hog
    assert "still alive?!" not in lines_of(dynos.logs(), "app[hog.1]")
    assert dynos.states("web") == ["web.1:up"], "the other dynos are not affected"


def test_the_filesystem_is_ephemeral_and_per_dyno(deployed: tuple[Dynos, Path]) -> None:
    dynos, _ = deployed
    dynos.scale(web=2)
    dynos.wait(lambda: dynos.states() == ["web.1:up", "web.2:up"], what="two web dynos")
    assert dynos.get("web.1", "/write?name=note.txt") == {"written": "note.txt"}
    assert dynos.get("web.1", "/read?name=note.txt") == {"exists": True}
    assert dynos.get("web.2", "/read?name=note.txt") == {"exists": False}
    old_port = dynos.ports()["web.1"]
    with dynos.api() as api:
        assert api.delete(f"/apps/{dynos.app}/dynos/web.1").status_code == 202
    # (PIDs can't tell dynos apart: each has its own PID namespace.)
    dynos.wait(
        lambda: dynos.routes()["dynos"][0]["port"] != old_port and len(dynos.ports()) == 2,
        what="web.1 restarted",
    )
    assert dynos.get("web.1", "/read?name=note.txt") == {"exists": False}


def test_preboot_moves_to_new_dynos_only_once_they_are_up(deployed: tuple[Dynos, Path]) -> None:
    dynos, _ = deployed
    old_port = dynos.ports()["web.1"]
    served: list[str] = []
    dynos.config(GREETING="bonjour")
    # The old dyno answers until the new one is up; then the route moves to it.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        url = dynos.urls().get("web.1")
        if url is None:
            served.append("no route")
        else:
            served.append(httpx.get(url + "/", timeout=5).json()["greeting"])
        if served[-1] == "bonjour":
            break
    assert served[-1] == "bonjour"
    assert "no route" not in served, "there was always a web dyno to route to"
    assert dynos.ports()["web.1"] != old_port
    dynos.wait(lambda: dynos.states() == ["web.1:up"], what="the old web.1 stopped")
    web = lines_of(dynos.logs(), "heroku[web.1]")
    new_up = len(web) - 1 - web[::-1].index("State changed from starting to up")
    old_stop = web.index("Stopping all processes with SIGTERM")
    assert new_up < old_stop, "the old dyno got SIGTERM only after the new one was up"
    assert dynos.releases()[-1]["status"] == "succeeded"


def test_new_dynos_that_never_bind_leave_the_old_ones_serving(
    deployed: tuple[Dynos, Path],
) -> None:
    dynos, _ = deployed
    port = dynos.ports()["web.1"]
    dynos.config(NO_BIND="1")
    release = dynos.wait(
        lambda: next((r for r in dynos.releases() if r["status"] == "failed"), None),
        timeout=20,
        what="the release to fail",
    )
    assert release["version"] == 3
    logs = dynos.logs()
    assert any(
        "Error R10 (Boot timeout) -> Web process failed to bind to $PORT within 4 seconds" in line
        for line in logs
    )
    assert any(
        "Release v3 failed: web.1 failed to bind to $PORT within 4 seconds of launch (R10); "
        "v2 keeps running" in line
        for line in logs
    )
    assert dynos.ports() == {"web.1": port}
    assert dynos.get("web.1")["release"] == "v2"
    # The new release's dyno that never bound is on its way out; v2's stays up throughout.
    dynos.wait(lambda: dynos.states() == ["web.1:up"], timeout=10, what="v3's web.1 to go")
    # A crash during boot fails the same way, and a fix afterwards deploys normally.
    dynos.config(NO_BIND=None, CRASH_ON_BOOT="1")
    dynos.wait(lambda: dynos.releases()[-1]["status"] == "failed", what="v4 to fail")
    assert any(
        "Release v4 failed: web.1 crashed during boot (exit status 4)" in line
        for line in dynos.logs()
    )
    dynos.config(CRASH_ON_BOOT=None)
    dynos.wait(lambda: dynos.releases()[-1]["status"] == "succeeded", what="v5 to succeed")
    assert dynos.get("web.1")["release"] == "v5"
    if dynos.urls()["web.1"].startswith("http://127.0.0.1:"):
        return  # dynos share the host's network here: loopback is where the router is
    # Bound to 127.0.0.1 in its own namespace the router cannot reach it: R10, and why.
    dynos.config(BIND_HOST="127.0.0.1")
    dynos.wait(lambda: dynos.releases()[-1]["status"] == "failed", what="v6 to fail")
    bound = dynos.wait(
        lambda: next(
            (
                line.rsplit("127.0.0.1:", 1)[1].split()[0]
                for line in dynos.logs()
                if "The process listens on 127.0.0.1:" in line
            ),
            None,
        ),
        what="the hint",
    )
    assert any(
        f"The process listens on 127.0.0.1:{bound} only, where the router cannot reach it; "
        "bind to 0.0.0.0 (all addresses) instead" in line
        for line in dynos.logs()
    )
    assert dynos.get("web.1")["release"] == "v5"


def test_a_failing_release_phase_changes_nothing(deployed: tuple[Dynos, Path]) -> None:
    dynos, _ = deployed
    port = dynos.ports()["web.1"]
    dynos.config(RELEASE_EXIT="3")
    dynos.wait(lambda: dynos.releases()[-1]["status"] == "failed", what="release v3 to fail")
    logs = dynos.logs()
    assert any(
        "Release v3 failed: the release command failed with exit status 3" in line for line in logs
    )
    assert dynos.ports() == {"web.1": port}
    assert dynos.get("web.1")["release"] == "v2"


def test_a_flood_of_output_is_capped_and_hurts_no_one(deployed: tuple[Dynos, Path]) -> None:
    dynos, _ = deployed
    dynos.scale(flood=1)
    dynos.wait(
        lambda: any("Error L12 (Local buffer overflow)" in line for line in dynos.logs()),
        timeout=30,
        what="the flood to be capped",
    )
    started = time.monotonic()
    assert dynos.get("web.1")["dyno"] == "web.1"
    assert time.monotonic() - started < 2
    dynos.scale(flood=0)
    dynos.wait(lambda: dynos.states("flood") == [], what="flood stopped")


def test_a_release_phase_over_its_time_limit_fails_the_release(
    deployed: tuple[Dynos, Path],
) -> None:
    dynos, _ = deployed
    dynos.config(RELEASE_SLEEP="30")
    dynos.wait(lambda: dynos.releases()[-1]["status"] == "failed", what="the release to time out")
    assert any(
        "Release v3 failed: the release command timed out after 3 seconds" in line
        for line in dynos.logs()
    )
    assert dynos.get("web.1")["release"] == "v2"


def test_a_push_whose_release_phase_fails_is_rejected(
    deployed: tuple[Dynos, Path], runtime_user: User
) -> None:
    dynos, repo = deployed
    (repo / "release.py").write_text("print('migration failed!')\nraise SystemExit(2)\n")
    runtime_user.commit(repo, "break the release phase")
    pushed = runtime_user.push(repo)
    assert pushed.returncode != 0
    assert "remote: -----> Running release command..." in pushed.stderr
    assert "remote:        migration failed!" in pushed.stderr
    assert "Release v3 failed: the release command failed with exit status 2" in pushed.stderr
    assert dynos.releases()[-1]["status"] == "failed"
    assert dynos.get("web.1")["release"] == "v2", "what was serving still serves"
