"""One-off dynos: `slipway run` (pipes and a PTY), run:detached, and what a dyno cannot see."""

from __future__ import annotations

import os
import re
import select
import subprocess
import time
from pathlib import Path

from tests.deploy.conftest import User
from tests.dynos.conftest import Dynos, lines_of
from tests.support import slipway_bin


def test_run_propagates_the_exit_code_and_output(
    deployed: tuple[Dynos, Path], runtime_user: User
) -> None:
    dynos, repo = deployed
    result = runtime_user.slipway("run", "echo out-$DYNO; echo err >&2; exit 7", cwd=repo)
    assert result.returncode == 7, result.stderr
    assert "out-run." in result.stdout
    assert "err" in result.stdout
    assert "heroku-command-exit-status" not in result.stdout
    ok = runtime_user.slipway("run", "-a", dynos.app, "--", "python3", "-c", "print(6*7)", cwd=repo)
    assert ok.returncode == 0
    assert ok.stdout.strip() == "42"
    logs = dynos.logs()
    assert any("Starting process with command `( echo out-$DYNO" in line for line in logs)
    assert any(line.endswith("State changed from up to complete") for line in logs)
    assert dynos.states("run") == [], "a one-off dyno ends with its command"


def test_run_reads_piped_stdin(deployed: tuple[Dynos, Path], runtime_user: User) -> None:
    _, repo = deployed
    result = subprocess.run(
        [slipway_bin(), "run", "tr a-z A-Z"],
        input="shout\n",
        cwd=repo,
        env=runtime_user.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "SHOUT"


def test_a_command_that_does_not_exist(deployed: tuple[Dynos, Path], runtime_user: User) -> None:
    _, repo = deployed
    result = runtime_user.slipway("run", "no-such-command --flag", cwd=repo)
    assert result.returncode == 127
    assert "no-such-command: command not found" in result.stdout


def test_run_bash_on_a_terminal_is_a_real_shell(
    deployed: tuple[Dynos, Path], runtime_user: User
) -> None:
    _, repo = deployed
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [slipway_bin(), "run", "bash"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=repo,
        env={**runtime_user.env, "TERM": "xterm"},
        start_new_session=True,
    )
    os.close(slave)
    seen = b""

    def read_until(needle: bytes, timeout: float = 30) -> None:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while needle not in seen:
            assert time.monotonic() < deadline, f"no {needle!r} in {seen!r}"
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(master, 4096)
                except OSError:
                    break

    read_until(b"$ ")
    os.write(
        master,
        b"echo $((6*7)); test -t 0 && echo IS-A-TTY; set -o | grep monitor; echo DONE$((1+1))\r",
    )
    read_until(b"DONE2")
    os.write(master, b"exit 5\r")
    assert proc.wait(60) == 5
    text = seen.decode(errors="replace")
    assert "42" in text
    assert "\nIS-A-TTY" in text, "stdin is a terminal inside the dyno"
    assert re.search(r"monitor\s+on", text), "job control: the PTY is the controlling terminal"
    os.close(master)


def test_run_detached_sends_output_to_the_logs(
    deployed: tuple[Dynos, Path], runtime_user: User
) -> None:
    dynos, repo = deployed
    result = runtime_user.slipway("run:detached", "echo detached-$DYNO", cwd=repo)
    assert result.returncode == 0, result.stderr
    name = result.stderr.rsplit(", ", 1)[1].strip()
    assert name.startswith("run.")
    dynos.wait(
        lambda: f"detached-{name}" in lines_of(dynos.logs(), f"app[{name}]"),
        what="the detached output",
    )
    assert "Process exited with status 0" in lines_of(dynos.logs(), f"heroku[{name}]")


def test_a_dyno_sees_nothing_of_the_host_or_other_apps(
    deployed: tuple[Dynos, Path], runtime_user: User, tmp_path: Path
) -> None:
    dynos, repo = deployed
    data_dir = dynos.server.data_dir
    checks = " && ".join(
        [
            f"test ! -e {data_dir}/slipway.db",
            f"test ! -e {data_dir}/admin-api-key",
            f"test ! -e {data_dir}/router-token",
            f"test ! -e {data_dir}/slugs",
            "test ! -e /root/.netrc",
            "test ! -e /work",
            # Only the dyno's own processes: its bash and this test.
            "test $(ls /proc | grep -c '^[0-9]') -lt 8",
            "test $(id -u) -ge 20000",
            "test $(whoami) = u$(id -u)",
            "test $(hostname) = $DYNO",
            "! touch /usr/slipway-was-here 2>/dev/null",
            "touch /app/mine && touch /tmp/mine",
            "echo isolated",
        ]
    )
    result = runtime_user.slipway("run", checks, cwd=repo)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "isolated" in result.stdout
    # Another app's dyno can't read this app's files either: they are not mounted at all.
    assert dynos.get("web.1", "/read?name=mine") == {"exists": False}
