"""access, access:add/remove/update, apps:transfer, transfers: who may use an app."""

from __future__ import annotations

from typing import Any

import click

from slipway.cli import output
from slipway.cli.base import app_option, cli_context, json_option
from slipway.cli.client import seg
from slipway.cli.errors import CliError


def _permissions(value: str | None) -> list[str] | None:
    return [p.strip() for p in value.split(",") if p.strip()] if value else None


@click.command("access")
@app_option
@json_option
def access_list(app: str | None, as_json: bool) -> None:
    """List who has access to an app, and their permissions."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    found = ctx.client().get(f"/apps/{seg(name)}/collaborators")
    if as_json:
        output.print_json(found)
        return
    rows = [
        [c["user"]["email"], c["role"], ", ".join(p["name"] for p in c["permissions"])]
        for c in sorted(found, key=lambda c: c["user"]["email"])
    ]
    output.table(["Email", "Role", "Permissions"], rows)


@click.command("access:add")
@click.argument("email")
@click.option("--permissions", "-p", default=None, help="On team apps: e.g. deploy,operate.")
@app_option
def access_add(email: str, permissions: str | None, app: str | None) -> None:
    """Give someone access to an app."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    client = ctx.client()
    info = client.get(f"/apps/{seg(name)}")
    output.action(f"Adding {email} access to the app {name}")
    if info.get("team"):
        chosen = _permissions(permissions)
        if not chosen:
            raise CliError("Say which permissions to give with --permissions deploy,operate.")
        client.post(
            f"/teams/apps/{seg(name)}/collaborators", {"user": email, "permissions": chosen}
        )
    else:
        client.post(f"/apps/{seg(name)}/collaborators", {"user": email})
    output.done()


@click.command("access:update")
@click.argument("email")
@click.option("--permissions", "-p", required=True, help="e.g. deploy,operate,manage.")
@app_option
def access_update(email: str, permissions: str, app: str | None) -> None:
    """Change someone's permissions on a team app."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    output.action(f"Updating {email} in application {name}")
    ctx.client().patch(
        f"/teams/apps/{seg(name)}/collaborators/{seg(email)}",
        {"permissions": _permissions(permissions)},
    )
    output.done()


@click.command("access:remove")
@click.argument("email")
@app_option
def access_remove(email: str, app: str | None) -> None:
    """Remove someone's access to an app (or your own, to leave it)."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    output.action(f"Removing {email} access from the app {name}")
    ctx.client().delete(f"/apps/{seg(name)}/collaborators/{seg(email)}")
    output.done()


@click.command("apps:transfer")
@click.argument("recipient")
@app_option
def apps_transfer(recipient: str, app: str | None) -> None:
    """Give an app to another person (they accept it) or move it into or out of a team."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    client = ctx.client()
    info = client.get(f"/apps/{seg(name)}")
    if info.get("team") or "@" not in recipient:
        output.action(f"Transferring {name} to {recipient}")
        client.patch(f"/teams/apps/{seg(name)}", {"owner": recipient})
        output.done()
        return
    output.action(f"Asking {recipient} to take {name}")
    made = client.post("/account/app-transfers", {"app": name, "recipient": recipient})
    output.done()
    output.line(f"{recipient} accepts with `slipway transfers:accept {made['id']}`.")


def _transfer_rows(found: list[dict[str, Any]]) -> list[list[str]]:
    return [
        [t["id"], t["app"]["name"], t["owner"]["email"], t["recipient"]["email"], t["state"]]
        for t in found
    ]


@click.command("transfers")
@json_option
def transfers_list(as_json: bool) -> None:
    """App transfers waiting for you, or for the people you asked."""
    found = cli_context().client().get("/account/app-transfers")
    if as_json:
        output.print_json(found)
    elif not found:
        output.line("No app transfers are waiting.")
    else:
        output.table(["ID", "App", "From", "To", "State"], _transfer_rows(found))


def _answer(ident: str, state: str) -> dict[str, Any]:
    result: dict[str, Any] = (
        cli_context().client().patch(f"/account/app-transfers/{seg(ident)}", {"state": state})
    )
    return result


@click.command("transfers:accept")
@click.argument("ident")
def transfers_accept(ident: str) -> None:
    """Accept an app someone transfers to you (its id, or the app's name)."""
    made = _answer(ident, "accepted")
    output.line(f"{made['app']['name']} is yours now.")


@click.command("transfers:decline")
@click.argument("ident")
def transfers_decline(ident: str) -> None:
    """Decline an app transfer."""
    made = _answer(ident, "declined")
    output.line(f"Declined {made['app']['name']}.")


@click.command("transfers:cancel")
@click.argument("ident")
def transfers_cancel(ident: str) -> None:
    """Take back a transfer you asked for."""
    made = cli_context().client().delete(f"/account/app-transfers/{seg(ident)}")
    output.line(f"Cancelled the transfer of {made['app']['name']}.")


COMMANDS = (
    access_list,
    access_add,
    access_update,
    access_remove,
    apps_transfer,
    transfers_list,
    transfers_accept,
    transfers_decline,
    transfers_cancel,
)
