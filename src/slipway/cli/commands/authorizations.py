"""authorizations, authorizations:create/info/update/revoke/rotate: tokens (CI and others)."""

from __future__ import annotations

from typing import Any

import click

from slipway.cli import output
from slipway.cli.base import cli_context, json_option
from slipway.cli.client import seg


def _show(auth: dict[str, Any]) -> None:
    output.key_values(
        [
            ("ID", auth["id"]),
            ("Description", auth["description"]),
            ("Scope", ", ".join(auth["scope"])),
            ("Token", auth["access_token"]["token"]),
            ("Expires at", output.when(auth.get("expires_at")) or "never"),
            ("Last used", _used(auth)),
            ("Updated at", output.when(auth["updated_at"])),
        ]
    )


def _used(auth: dict[str, Any]) -> str:
    if not auth.get("last_used_at"):
        return "never"
    where = f" from {auth['last_used_from']}" if auth.get("last_used_from") else ""
    return output.when(auth["last_used_at"]) + where


@click.command("authorizations")
@json_option
def authorizations_list(as_json: bool) -> None:
    """List your tokens, with when each was last used."""
    found = cli_context().client().get("/oauth/authorizations")
    if as_json:
        output.print_json(found)
        return
    rows = [
        [a["description"], a["id"], ", ".join(a["scope"]), _used(a)]
        for a in sorted(found, key=lambda a: a["description"])
    ]
    output.table(["Description", "ID", "Scope", "Last used"], rows)


@click.command("authorizations:create")
@click.option("--description", "-d", default=None, help="What the token is for, e.g. CI.")
@click.option("--scope", "-s", default=None, help="global, read, write, read-protected, ...")
@click.option("--expires-in", "-e", type=int, default=None, help="Seconds until it expires.")
@click.option("--short", "-S", is_flag=True, help="Print only the token.")
@json_option
def authorizations_create(
    description: str | None, scope: str | None, expires_in: int | None, short: bool, as_json: bool
) -> None:
    """Make a token, e.g. for CI: it is shown once, here."""
    body: dict[str, Any] = {}
    if description:
        body["description"] = description
    if scope:
        body["scope"] = [s.strip() for s in scope.split(",") if s.strip()]
    if expires_in is not None:
        body["expires_in"] = expires_in
    made = cli_context().client().post("/oauth/authorizations", body)
    if short:
        output.line(made["access_token"]["token"])
    elif as_json:
        output.print_json(made)
    else:
        _show(made)


@click.command("authorizations:info")
@click.argument("ident")
@json_option
def authorizations_info(ident: str, as_json: bool) -> None:
    """Show one token (its value redacted)."""
    found = cli_context().client().get(f"/oauth/authorizations/{seg(ident)}")
    output.print_json(found) if as_json else _show(found)


@click.command("authorizations:update")
@click.argument("ident")
@click.option("--description", "-d", required=True)
def authorizations_update(ident: str, description: str) -> None:
    """Change a token's description."""
    _show(
        cli_context()
        .client()
        .patch(f"/oauth/authorizations/{seg(ident)}", {"description": description})
    )


@click.command("authorizations:revoke")
@click.argument("ident")
def authorizations_revoke(ident: str) -> None:
    """Revoke a token: it is refused from now on, open log tails and git included."""
    output.action("Revoking token")
    gone = cli_context().client().delete(f"/oauth/authorizations/{seg(ident)}")
    output.done(f", revoked authorization from {gone['description']}")


@click.command("authorizations:rotate")
@click.argument("ident")
def authorizations_rotate(ident: str) -> None:
    """A new token for the same authorization; the old one stops working at once."""
    client = cli_context().client()
    _show(client.post(f"/oauth/authorizations/{seg(ident)}/actions/regenerate-tokens"))


COMMANDS = (
    authorizations_list,
    authorizations_create,
    authorizations_info,
    authorizations_update,
    authorizations_revoke,
    authorizations_rotate,
)
