"""domains and maintenance: how the router reaches an app, and switching it off for a while."""

from __future__ import annotations

import click

from slipway.cli import output
from slipway.cli.base import app_option, cli_context, json_option
from slipway.cli.client import seg


@click.command("domains")
@app_option
@json_option
def domains_list(app: str | None, as_json: bool) -> None:
    """List the hostnames the router serves the app on."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    items = ctx.client().get_all(f"/apps/{seg(name)}/domains", "id ..; max=1000")
    if as_json:
        output.print_json(items)
        return
    own = [d for d in items if d["kind"] == "heroku"]
    custom = [d for d in items if d["kind"] != "heroku"]
    output.header(f"{output.HEXAGON} {name} Heroku Domain")
    for d in own:
        output.line(d["hostname"])
    if custom:
        output.line()
        output.header(f"{output.HEXAGON} {name} Custom Domains")
        output.table(
            ["Domain Name", "DNS Target"], [[d["hostname"], d["cname"] or ""] for d in custom]
        )


@click.command("domains:add")
@click.argument("hostname")
@app_option
def domains_add(hostname: str, app: str | None) -> None:
    """Serve the app on another hostname too (point its DNS at this machine)."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    output.action(f"Adding {hostname} to {output.HEXAGON} {name}")
    created = ctx.client().post(f"/apps/{seg(name)}/domains", {"hostname": hostname})
    output.done()
    output.line(
        f"Point the DNS of {created['hostname']} at this machine (target {created['cname']})."
    )


@click.command("domains:remove")
@click.argument("hostname")
@app_option
def domains_remove(hostname: str, app: str | None) -> None:
    """Stop serving the app on a custom hostname."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    output.action(f"Removing {hostname} from {output.HEXAGON} {name}")
    ctx.client().delete(f"/apps/{seg(name)}/domains/{seg(hostname)}")
    output.done()


@click.command("maintenance")
@app_option
def maintenance(app: str | None) -> None:
    """Whether maintenance mode is on."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    output.line("on" if ctx.client().get(f"/apps/{seg(name)}")["maintenance"] else "off")


def _set_maintenance(app: str | None, on: bool) -> None:
    ctx = cli_context()
    name = ctx.resolve_app(app)
    verb = "Enabling" if on else "Disabling"
    output.action(f"{verb} maintenance mode for {output.HEXAGON} {name}")
    ctx.client().patch(f"/apps/{seg(name)}", {"maintenance": on})
    output.done()


@click.command("maintenance:on")
@app_option
def maintenance_on(app: str | None) -> None:
    """Answer every request with the maintenance page (the dynos keep running)."""
    _set_maintenance(app, True)


@click.command("maintenance:off")
@app_option
def maintenance_off(app: str | None) -> None:
    """Route requests to the dynos again."""
    _set_maintenance(app, False)
