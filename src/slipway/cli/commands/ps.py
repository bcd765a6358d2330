"""ps:scale."""

from __future__ import annotations

import re
from typing import Any

import click

from slipway.cli import output
from slipway.cli.base import app_option, cli_context, json_option
from slipway.cli.client import seg
from slipway.cli.errors import CliError

# The official CLI's pattern: web=2, web+1, worker-1, web=2:standard-2X.
_SCALE_RE = re.compile(r"^([\w-]+)([=+-]\d+)(?::([\w-]+))?$")


def _formation_text(formation: list[dict[str, Any]]) -> str:
    return " ".join(f"{f['type']}={f['quantity']}:{f['size']}" for f in formation)


@click.command("ps:scale")
@click.argument("changes", nargs=-1)
@app_option
@json_option
def ps_scale(changes: tuple[str, ...], app: str | None, as_json: bool) -> None:
    """Scale process types: web=2 worker+1 web=1:standard-2X (no arguments: show them)."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    client = ctx.client()
    if not changes:
        formation = client.get(f"/apps/{seg(name)}/formation")
        if as_json:
            output.print_json(formation)
        elif not formation:
            raise CliError(f"No process types on {name}; deploy an app with a Procfile first.")
        else:
            output.line(_formation_text(formation))
        return
    updates = []
    for change in changes:
        match = _SCALE_RE.match(change)
        if not match:
            raise CliError(f"{change} is invalid; use TYPE=N, TYPE+N or TYPE=N:SIZE, e.g. web=2.")
        ptype, amount, size = match.groups()
        update: dict[str, Any] = {
            "type": ptype,
            "quantity": amount[1:] if amount.startswith("=") else amount,
        }
        if size:
            update["size"] = size
        updates.append(update)
    output.action("Scaling dynos")
    formation = client.patch(f"/apps/{seg(name)}/formation", {"updates": updates})
    changed = {u["type"] for u in updates}
    running = ", ".join(
        f"{f['type']} at {f['quantity']}:{f['size']}" for f in formation if f["type"] in changed
    )
    output.done(f", now running {running}")
    if as_json:
        output.print_json(formation)
