"""teams, teams:create, members, members:add/set/remove."""

from __future__ import annotations

import click

from slipway.cli import output
from slipway.cli.base import cli_context, json_option
from slipway.cli.client import seg

team_option = click.option("--team", "-t", "team", required=True, help="The team.")
role_option = click.option(
    "--role", "-r", type=click.Choice(["admin", "member", "viewer"]), required=True
)


@click.command("teams")
@json_option
def teams_list(as_json: bool) -> None:
    """The teams you belong to, and your role in each."""
    found = cli_context().client().get("/teams")
    if as_json:
        output.print_json(found)
    elif not found:
        output.line("You are not a member of any team.")
    else:
        output.table(["Team", "Role"], [[t["name"], t["role"] or ""] for t in found])


@click.command("teams:create")
@click.argument("name")
def teams_create(name: str) -> None:
    """Start a team; you are its first admin."""
    output.action(f"Creating the team {name}")
    cli_context().client().post("/teams", {"name": name})
    output.done()


@click.command("members")
@team_option
@click.option("--role", "-r", default=None, help="Only members with this role.")
@json_option
def members_list(team: str, role: str | None, as_json: bool) -> None:
    """A team's members and their roles."""
    found = cli_context().client().get(f"/teams/{seg(team)}/members")
    found = [m for m in found if role is None or m["role"] == role]
    if as_json:
        output.print_json(found)
    else:
        output.table(["Email", "Role"], [[m["email"], m["role"]] for m in found])


@click.command("members:add")
@click.argument("email")
@team_option
@role_option
def members_add(email: str, team: str, role: str) -> None:
    """Add someone to a team (team admins)."""
    output.action(f"Adding {email} to {team} as {role}")
    cli_context().client().request(
        "PUT", f"/teams/{seg(team)}/members", json={"email": email, "role": role}
    )
    output.done()


@click.command("members:set")
@click.argument("email")
@team_option
@role_option
def members_set(email: str, team: str, role: str) -> None:
    """Change a member's role (a team keeps at least one admin)."""
    output.action(f"Making {email} {role} of {team}")
    cli_context().client().patch(f"/teams/{seg(team)}/members", {"email": email, "role": role})
    output.done()


@click.command("members:remove")
@click.argument("email")
@team_option
def members_remove(email: str, team: str) -> None:
    """Remove someone from a team (or yourself, to leave it)."""
    output.action(f"Removing {email} from {team}")
    cli_context().client().delete(f"/teams/{seg(team)}/members/{seg(email)}")
    output.done()


COMMANDS = (teams_list, teams_create, members_list, members_add, members_set, members_remove)
