"""`heroku run` from a real terminal (a PTY) and piped, on the deployed Django app.

On a terminal the CLI sends COLUMNS and LINES as JSON numbers and types raw
keystrokes; the dyno gets a PTY of that size, and the shell's exit status is the
CLI's when ^D ends it.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.compat.conftest import DeployedApp, HerokuCli
from tests.support import read_until

pytestmark = pytest.mark.heroku_cli


def test_an_interactive_shell_on_a_terminal(cli: HerokuCli, django_app: DeployedApp) -> None:
    term = cli.terminal("run", "bash", "-a", django_app.name)
    term.expect("$ ")
    term.send("stty size; echo cols=$COLUMNS lines=$LINES term=$TERM; ls; echo end-$((6*7))\r")
    out = term.expect("end-42")
    assert "40 120" in out
    assert "cols=120 lines=40 term=xterm-256color" in out
    assert "manage.py" in out
    term.expect("$ ")
    # ^D ends the shell; its status (that of `false`, the last command) is the CLI's.
    term.send("false\r")
    term.send("\x04")
    assert term.wait() == 1
    assert "Process exited with code 1" in term.text
    assert "heroku-command-exit-status" not in term.text


def test_run_x_keeps_the_exit_status_on_a_terminal_and_piped(
    cli: HerokuCli, django_app: DeployedApp
) -> None:
    term = cli.terminal("run", "-x", "echo from $DYNO; exit 3", "-a", django_app.name)
    assert term.wait() == 3
    assert re.search(r"from run\.\d+", term.text)
    piped = cli("run", "-x", "exit 5", "-a", django_app.name)
    assert piped.returncode == 5, piped.stderr
    assert "Process exited with code 5" in piped.stderr
    # Without -x too: the server always reports how the command ended.
    plain = cli(
        "run", "python -c 'import django; print(django.get_version())'", "-a", django_app.name
    )
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.strip() == "5.2.1"
    # Standard input is the dyno's, ended with ^D.
    cat = cli("run", "cat", "-a", django_app.name, input="piped input\n")
    assert cat.stdout == "piped input\n"


def test_run_detached_tail_follows_the_dynos_output(
    cli: HerokuCli, django_app: DeployedApp
) -> None:
    proc = subprocess.Popen(
        [
            str(cli.binary),
            "run:detached",
            "--tail",
            "sleep 2; echo detached-output",
            "-a",
            django_app.name,
        ],
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        # (The command itself is in the first line, "Running ... on APP... done".)
        seen = read_until(proc.stdout, "]: detached-output", 60)
        assert re.search(r"app\[run\.\d+\]: detached-output", seen), seen
    finally:
        proc.kill()
        proc.wait()


def test_run_refuses_an_unknown_dyno_size(cli: HerokuCli, django_app: DeployedApp) -> None:
    result = cli("run", "-s", "Huge-9X", "echo", "-a", django_app.name)
    assert result.returncode == 2
    assert "Dyno size 'Huge-9X' is not known; use one of" in result.stderr
    assert "Error ID: invalid_params" in result.stderr
