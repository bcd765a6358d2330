"""ps, ps:scale, ps:restart, ps:stop, ps:type."""

from __future__ import annotations

import datetime as dt
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


def _ago(text: str) -> str:
    stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    seconds = int((dt.datetime.now(dt.UTC) - stamp).total_seconds())
    if seconds < 60:
        return f"~ {max(seconds, 0)}s ago"
    if seconds < 3600:
        return f"~ {seconds // 60}m ago"
    return f"~ {seconds // 3600}h ago"


@click.command("ps")
@click.argument("types", nargs=-1)
@app_option
@json_option
def ps(types: tuple[str, ...], app: str | None, as_json: bool) -> None:
    """List the app's dynos: state, age, command and size."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    client = ctx.client()
    dynos = client.get(f"/apps/{seg(name)}/dynos")
    if types:
        dynos = [d for d in dynos if d["type"] in types or d["name"] in types]
    if as_json:
        output.print_json(dynos)
        return
    info = client.get(f"/apps/{seg(name)}")
    if info.get("process_tier") == "eco":
        account = client.get("/account")
        quota = client.get(f"/accounts/{seg(account['id'])}/actions/get-quota")
        total = quota["account_quota"]
        left = max(0, total - quota["quota_used"])
        percent = left * 100 // total if total else 0
        output.line(
            f"Eco dyno hours quota remaining this month: {left // 3600}h {left % 3600 // 60}m "
            f"({percent}%)"
        )
        output.line()
    if not dynos:
        output.line(f"No dynos on {output.HEXAGON} {name}")
        return
    one_offs = [d for d in dynos if d["type"] == "run"]
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for dyno in dynos:
        if dyno["type"] != "run":
            groups.setdefault((dyno["type"], dyno["size"], dyno["command"]), []).append(dyno)
    first = True
    for (ptype, size, command), members in sorted(groups.items()):
        if not first:
            output.line()
        first = False
        output.header(f"{ptype} ({size}): {command} ({len(members)})")
        for dyno in members:
            output.line(
                f"{dyno['name']}: {dyno['state']} {output.when(dyno['updated_at'])} "
                f"({_ago(dyno['updated_at'])})"
            )
    if one_offs:
        if not first:
            output.line()
        output.header(f"run: one-off processes ({len(one_offs)})")
        for dyno in one_offs:
            output.line(
                f"{dyno['name']} ({dyno['size']}): {dyno['state']} "
                f"{output.when(dyno['updated_at'])} ({_ago(dyno['updated_at'])}): "
                f"{dyno['command']}"
            )


def _target(target: str | None, process: str | None) -> tuple[str | None, str | None]:
    """A dyno name (`web.1`) or a process type (`web`), from the argument or -p/-d."""
    if process:
        return None, process
    if target and "." in target:
        return target, None
    return None, target


@click.command("ps:restart")
@click.argument("target", required=False)
@click.option("--process-type", "-p", "process", default=None, help="Restart one process type.")
@click.option("--dyno-name", "-d", "dyno", default=None, help="Restart one dyno, e.g. web.1.")
@app_option
def ps_restart(target: str | None, process: str | None, dyno: str | None, app: str | None) -> None:
    """Restart all dynos, a process type (web) or one dyno (web.1)."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    one, ptype = _target(dyno or target, process)
    what = one or ptype or "all dynos"
    output.action(f"Restarting {what} on {output.HEXAGON} {name}")
    if one:
        ctx.client().delete(f"/apps/{seg(name)}/dynos/{seg(one)}")
    elif ptype:
        ctx.client().delete(f"/apps/{seg(name)}/formations/{seg(ptype)}")
    else:
        ctx.client().delete(f"/apps/{seg(name)}/dynos")
    output.done()


def _stop(target: str | None, process: str | None, dyno: str | None, app: str | None) -> None:
    ctx = cli_context()
    name = ctx.resolve_app(app)
    one, ptype = _target(dyno or target, process)
    if not one and not ptype:
        raise CliError("Say what to stop: a dyno (web.1, run.1234) or a process type (-p worker).")
    output.action(f"Stopping {one or ptype} on {output.HEXAGON} {name}")
    if one:
        ctx.client().post(f"/apps/{seg(name)}/dynos/{seg(one)}/actions/stop")
    else:
        assert ptype is not None
        ctx.client().post(f"/apps/{seg(name)}/formations/{seg(ptype)}/actions/stop")
    output.done()


@click.command("ps:stop")
@click.argument("target", required=False)
@click.option("--process-type", "-p", "process", default=None)
@click.option("--dyno-name", "-d", "dyno", default=None)
@app_option
def ps_stop(target: str | None, process: str | None, dyno: str | None, app: str | None) -> None:
    """Stop a dyno or process type (formation dynos are started again, as on Heroku)."""
    _stop(target, process, dyno, app)


@click.command("ps:kill")
@click.argument("target", required=False)
@click.option("--process-type", "-p", "process", default=None)
@click.option("--dyno-name", "-d", "dyno", default=None)
@app_option
def ps_kill(target: str | None, process: str | None, dyno: str | None, app: str | None) -> None:
    """Same as ps:stop."""
    _stop(target, process, dyno, app)


@click.command("ps:type")
@click.argument("changes", nargs=-1)
@app_option
@json_option
def ps_type(changes: tuple[str, ...], app: str | None, as_json: bool) -> None:
    """Set dyno sizes: `web=standard-2X worker=basic`, or one size for every type."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    client = ctx.client()
    formation = client.get(f"/apps/{seg(name)}/formation")
    if changes:
        updates = []
        for change in changes:
            ptype, sep, size = change.partition("=")
            if sep:
                updates.append({"type": ptype, "size": size})
            else:
                updates += [{"type": f["type"], "size": change} for f in formation]
        formation = client.patch(f"/apps/{seg(name)}/formation", {"updates": updates})
    if as_json:
        output.print_json(formation)
        return
    output.table(
        ["Type", "Size", "Qty"],
        [[f["type"], f["size"], str(f["quantity"])] for f in formation],
    )
