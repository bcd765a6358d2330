"""config, config:get, config:set, config:unset."""

from __future__ import annotations

import shlex

import click

from slipway.cli import output
from slipway.cli.base import app_option, cli_context, json_option
from slipway.cli.client import ApiClient, seg
from slipway.cli.errors import CliError

LATEST_RELEASE = "version ..; order=desc,max=1"


def _latest_version(client: ApiClient, app: str) -> int:
    response = client.request(
        "GET", f"/apps/{seg(app)}/releases", headers={"Range": LATEST_RELEASE}
    )
    releases = response.json()
    return int(releases[0]["version"]) if releases else 0


@click.command("config")
@app_option
@click.option("--shell", "-s", is_flag=True, help="Print as KEY=value lines for a shell.")
@json_option
def config_list(app: str | None, shell: bool, as_json: bool) -> None:
    """Show an app's config vars."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    config = ctx.client().get(f"/apps/{seg(name)}/config-vars")
    if as_json:
        output.print_json(config)
    elif shell:
        for key in sorted(config):
            output.line(f"{key}={shlex.quote(config[key])}")
    else:
        output.header(f"{name} Config Vars")
        output.line()
        if config:
            output.key_values(sorted(config.items()))


@click.command("config:get")
@click.argument("key")
@app_option
def config_get(key: str, app: str | None) -> None:
    """Print one config var's value (an empty line if it is not set)."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    output.line(ctx.client().get(f"/apps/{seg(name)}/config-vars").get(key, ""))


def _parse_assignments(pairs: tuple[str, ...]) -> dict[str, str]:
    changes: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CliError(
                f"{pair} is invalid; use KEY=value, e.g. config:set RACK_ENV=production."
            )
        changes[key] = value
    return changes


@click.command("config:set")
@click.argument("assignments", nargs=-1, required=True)
@app_option
def config_set(assignments: tuple[str, ...], app: str | None) -> None:
    """Set config vars (KEY=value ...) and restart the app: one new release."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    changes = _parse_assignments(assignments)
    client = ctx.client()
    output.action(f"Setting {', '.join(changes)} and restarting {output.HEXAGON} {name}")
    config = client.patch(f"/apps/{seg(name)}/config-vars", changes)
    output.done(f", v{_latest_version(client, name)}")
    output.key_values([(k, config.get(k, "")) for k in changes])


@click.command("config:unset")
@click.argument("keys", nargs=-1, required=True)
@app_option
def config_unset(keys: tuple[str, ...], app: str | None) -> None:
    """Remove config vars and restart the app: one new release."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    client = ctx.client()
    output.action(f"Unsetting {', '.join(keys)} and restarting {output.HEXAGON} {name}")
    client.patch(f"/apps/{seg(name)}/config-vars", dict.fromkeys(keys))
    output.done(f", v{_latest_version(client, name)}")
