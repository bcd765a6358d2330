"""accounts, accounts:create/disable/enable/password/invite (admins), invitations, audit."""

from __future__ import annotations

import sys
from typing import Any

import click

from slipway.cli import output
from slipway.cli.base import app_option, cli_context, json_option
from slipway.cli.client import seg
from slipway.cli.errors import CliError


def _password(prompt: str) -> str:
    if sys.stdin.isatty():
        return str(click.prompt(prompt, hide_input=True, confirmation_prompt=True))
    return sys.stdin.readline().rstrip("\n")


@click.command("accounts")
@json_option
def accounts_list(as_json: bool) -> None:
    """Every account of this Slipway (admins)."""
    found = cli_context().client().get("/accounts")
    if as_json:
        output.print_json(found)
        return
    rows = [
        [
            a["email"],
            "admin" if a["admin"] else "",
            "disabled" if a["disabled"] else "active",
            output.when(a.get("last_login")) or "never",
        ]
        for a in found
    ]
    output.table(["Email", "Admin", "State", "Last sign-in"], rows)


@click.command("accounts:create")
@click.argument("email")
@click.option("--password", "with_password", is_flag=True, help="Set a password (prompted/stdin).")
@click.option("--admin", is_flag=True, help="Make the account an admin too.")
def accounts_create(email: str, with_password: bool, admin: bool) -> None:
    """Create an account (admins) and print its API key once."""
    body: dict[str, Any] = {"email": email, "admin": admin}
    if with_password:
        body["password"] = _password("Password")
    account = cli_context().client().post("/accounts", body)
    output.line(f"Created {account['email']}. API key (shown once):")
    output.line(account["api_key"])


def _set_disabled(email: str, disabled: bool) -> None:
    cli_context().client().patch(f"/accounts/{seg(email)}", {"disabled": disabled})
    output.line(f"{email} is {'disabled' if disabled else 'enabled'}.")


@click.command("accounts:disable")
@click.argument("email")
def accounts_disable(email: str) -> None:
    """Disable an account: it cannot sign in and its tokens are refused at once."""
    _set_disabled(email, True)


@click.command("accounts:enable")
@click.argument("email")
def accounts_enable(email: str) -> None:
    """Enable a disabled account again."""
    _set_disabled(email, False)


@click.command("accounts:password")
@click.argument("email", required=False)
def accounts_password(email: str | None) -> None:
    """Change your password, or (admins) reset someone else's."""
    client = cli_context().client()
    if email is None:
        current = click.prompt("Current password", hide_input=True, default="", show_default=False)
        new = _password("New password")
        client.patch("/account", {"password": current, "new_password": new})
        output.line("Your password is changed.")
        return
    client.patch(f"/accounts/{seg(email)}", {"password": _password("New password")})
    output.line(f"The password of {email} is reset.")


@click.command("accounts:invite")
@click.argument("email")
@click.option("--team", "-t", default=None, help="Invite them to this team (its admins).")
@click.option("--role", "-r", default=None, help="Their role in the team (default member).")
def accounts_invite(email: str, team: str | None, role: str | None) -> None:
    """Invite someone: they open the link, choose a password, and can sign in."""
    body: dict[str, Any] = {"email": email}
    if team:
        body["team"] = team
        body["role"] = role or "member"
    elif role:
        raise CliError("--role goes with --team.")
    made = cli_context().client().post("/invitations", body)
    output.line(f"Invited {email}; send them this link (it works once, until")
    output.line(f"{output.when(made['expires_at'])}):")
    output.line(made["invitation_url"])


@click.command("audit")
@app_option
@click.option("--sign-ins", is_flag=True, help="Every sign-in instead (admins).")
@json_option
def audit(app: str | None, sign_ins: bool, as_json: bool) -> None:
    """Who changed what on an app, or (--sign-ins) who signed in, newest first."""
    ctx = cli_context()
    client = ctx.client()
    if sign_ins:
        found = client.get("/audit-events?action=sign-in") + client.get(
            "/audit-events?action=sign-in-failed"
        )
        found.sort(key=lambda e: e["created_at"], reverse=True)
    else:
        found = client.get(f"/apps/{seg(ctx.resolve_app(app))}/audit-events")
    if as_json:
        output.print_json(found)
        return
    rows = [
        [output.when(e["created_at"]), e["actor"]["email"], e["action"], e["description"]]
        + ([e["address"] or ""] if sign_ins else [])
        for e in found
    ]
    output.table(["When", "Who", "What", "Detail"] + (["From"] if sign_ins else []), rows)


COMMANDS = (
    accounts_list,
    accounts_create,
    accounts_disable,
    accounts_enable,
    accounts_password,
    accounts_invite,
    audit,
)
