"""run and run:detached: one-off dynos."""

from __future__ import annotations

import os
import shlex
import shutil
import sys

import click

from slipway.cli import output
from slipway.cli.attach import attach, with_exit_status
from slipway.cli.base import app_option, cli_context
from slipway.cli.client import seg
from slipway.cli.errors import CliError
from slipway.cli.git import ca_path, fetch_ca


def _env_pairs(values: tuple[str, ...]) -> dict[str, str]:
    """`-e "A=1;B=2"` as the official CLI takes it."""
    env: dict[str, str] = {}
    for value in values:
        for pair in value.split(";"):
            if not pair.strip():
                continue
            key, sep, val = pair.partition("=")
            if not sep:
                raise CliError(f"{pair} is invalid; use -e KEY=VALUE.")
            env[key.strip()] = val
    return env


@click.command("run", context_settings={"ignore_unknown_options": True})
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option("--size", "-s", default=None, help="Dyno size, e.g. standard-2X.")
@click.option("--env", "-e", "env", multiple=True, help='Extra variables: "A=1;B=2".')
@click.option("--no-tty", is_flag=True, help="Don't allocate a terminal.")
@click.option("--type", "dyno_type", default="run", show_default=True)
@app_option
def run(
    command: tuple[str, ...],
    size: str | None,
    env: tuple[str, ...],
    no_tty: bool,
    dyno_type: str,
    app: str | None,
) -> None:
    """Run a command in a one-off dyno, attached to this terminal; exits with its status."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    text = command[0] if len(command) == 1 else shlex.join(command)
    use_tty = sys.stdin.isatty() and sys.stdout.isatty() and not no_tty
    extra = {"TERM": os.environ.get("TERM", "xterm"), **_env_pairs(env)}
    if use_tty:
        cols, rows = shutil.get_terminal_size()
        extra.update({"COLUMNS": str(cols), "LINES": str(rows)})
    body = {
        "command": with_exit_status(text),
        "attach": True,
        "env": extra,
        "force_no_tty": not use_tty,
        "type": dyno_type,
    }
    if size:
        body["size"] = size
    output.action(f"Running {text} on {output.HEXAGON} {name}")
    dyno = ctx.client().post(f"/apps/{seg(name)}/dynos", body)
    output.done(f", {dyno['name']}")
    ca = fetch_ca(ctx.api_url) or (ca_path(ctx.api_url) if ca_path(ctx.api_url).exists() else None)
    status = attach(dyno["attach_url"], ca, interactive_tty=use_tty)
    sys.exit(status)


@click.command("run:detached", context_settings={"ignore_unknown_options": True})
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option("--size", "-s", default=None)
@click.option("--env", "-e", "env", multiple=True)
@click.option("--type", "dyno_type", default="run", show_default=True)
@app_option
def run_detached(
    command: tuple[str, ...],
    size: str | None,
    env: tuple[str, ...],
    dyno_type: str,
    app: str | None,
) -> None:
    """Run a command in a one-off dyno; its output goes to the app's logs."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    text = command[0] if len(command) == 1 else shlex.join(command)
    body = {"command": text, "attach": False, "env": _env_pairs(env), "type": dyno_type}
    if size:
        body["size"] = size
    output.action(f"Running {text} on {output.HEXAGON} {name}")
    dyno = ctx.client().post(f"/apps/{seg(name)}/dynos", body)
    output.done(f", {dyno['name']}")
    output.line(f"Run slipway logs --app {name} --dyno {dyno['name']} to view the output.")
