"""logs, drains, drains:add, drains:remove."""

from __future__ import annotations

import re
import sys
import time

import click
import httpx
from rich.text import Text

from slipway.cli import output
from slipway.cli.base import app_option, cli_context, json_option
from slipway.cli.client import seg
from slipway.cli.errors import CliError

_LINE_RE = re.compile(r"^(\S+ )(\w+)\[([\w.-]+)\]:(.*)$")
_COLOURS = ("cyan", "green", "yellow", "magenta", "blue", "bright_cyan", "bright_green")


def _colour_for(process: str) -> str:
    if process in ("router",):
        return "bright_blue"
    if process in ("api", "logplex"):
        return "bright_magenta"
    return _COLOURS[sum(map(ord, process.split(".")[0])) % len(_COLOURS)]


def _print(line: str, colour: bool) -> None:
    if not colour:
        sys.stdout.write(line + "\n")
        return
    match = _LINE_RE.match(line)
    if not match:
        output.console.print(Text(line))
        return
    stamp, source, process, message = match.groups()
    text = Text(stamp, style="dim")
    text.append(f"{source}[{process}]:", style=_colour_for(process))
    text.append(message)
    output.console.print(text)


@click.command("logs")
@app_option
@click.option("--num", "-n", type=click.IntRange(0, 1500), default=100, show_default=True)
@click.option("--tail", "-t", is_flag=True, help="Keep streaming new lines.")
@click.option("--source", "-s", type=click.Choice(["app", "heroku"]), default=None)
@click.option("--dyno", "-d", default=None, help="Only this dyno, e.g. web.1.")
@click.option("--ps", "-p", "process_type", default=None, help="Only this process type, e.g. web.")
def logs(
    app: str | None,
    num: int,
    tail: bool,
    source: str | None,
    dyno: str | None,
    process_type: str | None,
) -> None:
    """Show an app's merged log stream (coloured on a terminal, plain when piped)."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    body = {"lines": num, "tail": tail, "source": source, "dyno": dyno or process_type}
    session = ctx.client().post(f"/apps/{seg(name)}/log-sessions", body)
    colour = sys.stdout.isatty()
    last_id: str | None = None
    while True:
        headers = {"Accept": "text/event-stream"}
        if last_id:
            headers["Last-Event-ID"] = last_id
        try:
            with httpx.stream(
                "GET",
                session["logplex_url"],
                headers=headers,
                timeout=httpx.Timeout(10.0, read=60.0),
            ) as response:
                if response.status_code != 200:
                    raise CliError(
                        "The log session ended or expired; run the command again."
                        if tail
                        else f"Logs could not be read ({response.status_code})."
                    )
                for raw in response.iter_lines():
                    if raw.startswith("id:"):
                        last_id = raw[3:].strip()
                    elif raw.startswith("data:"):
                        _print(raw[5:].removeprefix(" "), colour)
                    elif not raw:
                        # End of an event: show it now, even when piped into grep.
                        sys.stdout.flush()
        except httpx.HTTPError as exc:
            if not tail:
                raise CliError(f"Lost the log stream ({exc}).") from exc
        if not tail:
            return
        time.sleep(0.5)  # the server went away: reconnect and resume after the last line


@click.command("drains")
@app_option
@json_option
def drains_list(app: str | None, as_json: bool) -> None:
    """List the app's log drains."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    drains = ctx.client().get(f"/apps/{seg(name)}/log-drains")
    if as_json:
        output.print_json(drains)
        return
    if not drains:
        output.line(f"{name} has no drains.")
        return
    output.header("Drains")
    for drain in drains:
        output.line(f"{drain['url']} ({drain['token']})")


@click.command("drains:add")
@click.argument("url")
@app_option
def drains_add(url: str, app: str | None) -> None:
    """Send the app's log stream to a syslog://, syslog+tls:// or https:// URL."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    drain = ctx.client().post(f"/apps/{seg(name)}/log-drains", {"url": url})
    output.line(f"Successfully added drain {drain['url']}")


@click.command("drains:remove")
@click.argument("url_or_token")
@app_option
def drains_remove(url_or_token: str, app: str | None) -> None:
    """Stop sending the app's log stream to a drain (by URL or token)."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    drain = ctx.client().delete(f"/apps/{seg(name)}/log-drains/{seg(url_or_token)}")
    output.line(f"Successfully removed drain {drain['url']}")
