"""addons, addons:create/info/destroy/attach/detach, and the pg:* and redis:* commands."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from slipway.cli import output
from slipway.cli.base import app_option, cli_context, json_option
from slipway.cli.client import ApiClient, seg
from slipway.cli.errors import CliError

STATES = {"provisioned": "created", "provisioning": "creating", "deprovisioned": "errored"}


def _resolve(client: ApiClient, app: str | None, addon: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = client.post(
        "/actions/addons/resolve", {"addon": addon, "app": app}
    )
    if not found:
        raise CliError(f"Couldn't find that add-on ({addon}).")
    return found[0]


@click.command("addons")
@click.option("--all", "show_all", is_flag=True, help="Every add-on you can see.")
@app_option
@json_option
def addons_list(show_all: bool, app: str | None, as_json: bool) -> None:
    """List the app's add-ons and where they are attached."""
    ctx = cli_context()
    client = ctx.client()
    if show_all:
        items = client.get("/addons")
    else:
        items = client.get(f"/apps/{seg(ctx.resolve_app(app))}/addons")
    if as_json:
        output.print_json(items)
        return
    if not items:
        output.line("No add-ons.")
        return
    attachments = client.get("/addon-attachments")
    rows = []
    for addon in items:
        names = [
            f"{a['app']['name']}::{a['name']}"
            for a in attachments
            if a["addon"]["id"] == addon["id"]
        ]
        rows.append(
            [
                addon["name"],
                addon["plan"]["name"],
                STATES.get(addon["state"], addon["state"]),
                ", ".join(names) or "-",
            ]
        )
    output.table(["Add-on", "Plan", "State", "Attached as"], rows)


@click.command("addons:create")
@click.argument("service_plan")
@click.option("--as", "attachment", default=None, help="Attachment name, e.g. CACHE.")
@click.option("--name", default=None, help="A name for the add-on itself.")
@app_option
@json_option
def addons_create(
    service_plan: str, attachment: str | None, name: str | None, app: str | None, as_json: bool
) -> None:
    """Provision SERVICE[:PLAN] (heroku-postgresql, heroku-redis) and attach it."""
    ctx = cli_context()
    app_name = ctx.resolve_app(app)
    body: dict[str, Any] = {"plan": {"name": service_plan}, "attachment": {}, "config": {}}
    if attachment:
        body["attachment"]["name"] = attachment
    if name:
        body["name"] = name
    output.action(f"Creating {service_plan} on {output.HEXAGON} {app_name}")
    addon = ctx.client().post(f"/apps/{seg(app_name)}/addons", body)
    output.done()
    if as_json:
        output.print_json(addon)
        return
    if addon["config_vars"]:
        output.line(f"Created {addon['name']} as {', '.join(addon['config_vars'])}")
    else:
        output.line(f"Created {addon['name']}")
    output.line(f"Use slipway addons:info {addon['name']} to view its details.")


@click.command("addons:info")
@click.argument("addon")
@app_option
@json_option
def addons_info(addon: str, app: str | None, as_json: bool) -> None:
    """One add-on: plan, state, attachments."""
    ctx = cli_context()
    client = ctx.client()
    found = _resolve(client, app or _maybe_app(ctx), addon)
    if as_json:
        output.print_json(found)
        return
    attachments = [
        f"{a['app']['name']}::{a['name']}"
        for a in client.get("/addon-attachments")
        if a["addon"]["id"] == found["id"]
    ]
    output.header(found["name"])
    output.key_values(
        [
            ("Attachments", ", ".join(attachments) or "-"),
            ("Installed at", output.when(found["created_at"])),
            ("Owning app", found["app"]["name"]),
            ("Plan", found["plan"]["name"]),
            ("State", STATES.get(found["state"], found["state"])),
        ]
    )


def _maybe_app(ctx: Any) -> str | None:
    try:
        return str(ctx.resolve_app(None))
    except CliError:
        return None


@click.command("addons:destroy")
@click.argument("addon")
@click.option("--confirm", default=None, help="The app's name, to skip the question.")
@click.option("--force", "-f", is_flag=True, help="Also when it is attached to other apps.")
@app_option
def addons_destroy(addon: str, confirm: str | None, force: bool, app: str | None) -> None:
    """Destroy an add-on and everything in it (detached from every app first)."""
    ctx = cli_context()
    client = ctx.client()
    found = _resolve(client, app or _maybe_app(ctx), addon)
    owner = found["app"]["name"]
    if confirm != owner:
        if not sys.stdin.isatty():
            raise CliError(
                f"This destroys {found['name']} and its data; pass --confirm {owner} to go on."
            )
        typed = click.prompt(f"To destroy {found['name']} and its data, type {owner}")
        if typed != owner:
            raise CliError(f"{typed} is not {owner}; nothing was destroyed.")
    output.action(f"Destroying {found['name']} on {output.HEXAGON} {owner}")
    client.request("DELETE", f"/apps/{seg(owner)}/addons/{seg(found['id'])}", json={"force": force})
    output.done()


@click.command("addons:attach")
@click.argument("addon")
@click.option("--as", "attachment", default=None)
@app_option
def addons_attach(addon: str, attachment: str | None, app: str | None) -> None:
    """Attach an existing add-on to this app too (it gets NAME_URL)."""
    ctx = cli_context()
    app_name = ctx.resolve_app(app)
    output.action(f"Attaching {addon} to {output.HEXAGON} {app_name}")
    body: dict[str, Any] = {"addon": addon, "app": app_name}
    if attachment:
        body["name"] = attachment
    created = ctx.client().post("/addon-attachments", body)
    output.done(f", as {created['name']}")


@click.command("addons:detach")
@click.argument("attachment")
@app_option
def addons_detach(attachment: str, app: str | None) -> None:
    """Detach an add-on from this app (the add-on itself stays)."""
    ctx = cli_context()
    app_name = ctx.resolve_app(app)
    client = ctx.client()
    mine = client.get(f"/apps/{seg(app_name)}/addon-attachments")
    match = next((a for a in mine if attachment in (a["name"], a["id"])), None)
    if match is None:
        raise CliError(f"{app_name} has no attachment {attachment}.")
    output.action(f"Detaching {match['name']} from {output.HEXAGON} {app_name}")
    client.delete(f"/addon-attachments/{seg(match['id'])}")
    output.done()


# -- pg:* ----------------------------------------------------------------------------


def _addon_for(ctx: Any, app: str | None, addon: str | None, var: str) -> dict[str, Any]:
    app_name = ctx.resolve_app(app)
    return _resolve(ctx.client(), app_name, addon or var)


def _info(service_var: str) -> Any:
    @click.argument("addon", required=False)
    @app_option
    def command(addon: str | None, app: str | None) -> None:
        ctx = cli_context()
        found = _addon_for(ctx, app, addon, service_var)
        rows = ctx.client().get(
            f"/addons/{seg(found['id'])}/info", params={"app": ctx.resolve_app(app)}
        )
        output.header(f"{found['name']} ({', '.join(found['config_vars']) or 'not attached'})")
        output.key_values([(r["label"], r["value"]) for r in rows])

    return command


pg_info = click.command("pg:info", help="The app's Postgres: plan, size, connections.")(
    _info("DATABASE")
)
redis_info = click.command("redis:info", help="The app's Redis: version, memory, clients.")(
    _info("REDIS")
)


def _url(ctx: Any, app: str | None, var: str) -> str:
    config = ctx.client().get(f"/apps/{seg(ctx.resolve_app(app))}/config-vars")
    value = config.get(var if var.endswith("_URL") else f"{var}_URL")
    if not value:
        raise CliError(f"The app has no {var} add-on attached; create one with addons:create.")
    return str(value)


@click.command("pg:psql")
@click.argument("database", required=False, default="DATABASE")
@click.option("--command", "-c", default=None, help="Run one SQL command and exit.")
@app_option
def pg_psql(database: str, command: str | None, app: str | None) -> None:
    """psql connected to the app's database (the credentials never touch argv)."""
    ctx = cli_context()
    url = urlsplit(_url(ctx, app, database))
    if shutil.which("psql") is None:
        raise CliError("psql is not installed here; install the postgresql-client package.")
    env = {
        **os.environ,
        "PGHOST": url.hostname or "127.0.0.1",
        "PGPORT": str(url.port or 5432),
        "PGUSER": url.username or "",
        "PGPASSWORD": url.password or "",
        "PGDATABASE": url.path.lstrip("/"),
    }
    argv = ["psql", "-X"] + (["-c", command] if command else [])
    sys.exit(subprocess.call(argv, env=env))


@click.command("redis:cli")
@click.argument("database", required=False, default="REDIS")
@click.option("--command", "-c", "command", default=None, help="Run one command and exit.")
@app_option
def redis_cli(database: str, command: str | None, app: str | None) -> None:
    """redis-cli connected to the app's Redis."""
    ctx = cli_context()
    url = urlsplit(_url(ctx, app, database))
    if shutil.which("redis-cli") is None:
        raise CliError("redis-cli is not installed here; install the redis-tools package.")
    env = {**os.environ, "REDISCLI_AUTH": url.password or ""}
    argv = ["redis-cli", "-h", url.hostname or "127.0.0.1", "-p", str(url.port or 6379)]
    if command:
        argv += command.split()
    sys.exit(subprocess.call(argv, env=env))


@click.command("pg:credentials:rotate")
@click.argument("database", required=False, default="DATABASE")
@click.option("--confirm", default=None)
@app_option
def pg_rotate(database: str, confirm: str | None, app: str | None) -> None:
    """New password for the database; attached apps get a release with it."""
    ctx = cli_context()
    app_name = ctx.resolve_app(app)
    if confirm != app_name:
        raise CliError(f"This cuts open connections; pass --confirm {app_name} to go on.")
    found = _resolve(ctx.client(), app_name, database)
    output.action(f"Rotating credentials of {found['name']}")
    ctx.client().post(f"/addons/{seg(found['id'])}/actions/rotate-credentials?app={seg(app_name)}")
    output.done()


def _backup_target(ctx: Any, app: str | None, database: str) -> tuple[str, str]:
    app_name = ctx.resolve_app(app)
    return app_name, _resolve(ctx.client(), app_name, database)["id"]


@click.command("pg:backups")
@app_option
def pg_backups(app: str | None) -> None:
    """List the database's backups."""
    ctx = cli_context()
    app_name, addon_id = _backup_target(ctx, app, "DATABASE")
    items = ctx.client().get(f"/addons/{seg(addon_id)}/backups", params={"app": app_name})
    if not items:
        output.line("No backups. Capture one with pg:backups:capture.")
        return
    output.table(
        ["ID", "Created at", "Status", "Size"],
        [[b["name"], output.when(b["created_at"]), b["status"], f"{b['size']} B"] for b in items],
    )


@click.command("pg:backups:capture")
@click.argument("database", required=False, default="DATABASE")
@app_option
def pg_backups_capture(database: str, app: str | None) -> None:
    """Take a backup now (pg_dump)."""
    ctx = cli_context()
    app_name, addon_id = _backup_target(ctx, app, database)
    output.action(f"Backing up {database}")
    backup = ctx.client().post(f"/addons/{seg(addon_id)}/backups?app={seg(app_name)}")
    output.done(f", {backup['name']}")


@click.command("pg:backups:restore")
@click.argument("backup", required=False)
@click.argument("database", required=False, default="DATABASE")
@click.option("--confirm", default=None)
@app_option
def pg_backups_restore(
    backup: str | None, database: str, confirm: str | None, app: str | None
) -> None:
    """Restore a backup (the latest by default) into the database, replacing its data."""
    ctx = cli_context()
    app_name, addon_id = _backup_target(ctx, app, database)
    if confirm != app_name:
        raise CliError(f"This replaces the data in {database}; pass --confirm {app_name}.")
    client = ctx.client()
    if backup is None:
        items = client.get(f"/addons/{seg(addon_id)}/backups", params={"app": app_name})
        if not items:
            raise CliError("There is no backup to restore; capture one with pg:backups:capture.")
        backup = items[-1]["name"]
    output.action(f"Restoring {backup} into {database}")
    client.post(
        f"/addons/{seg(addon_id)}/backups/{seg(backup)}/actions/restore?app={seg(app_name)}"
    )
    output.done()


@click.command("pg:backups:download")
@click.argument("backup", required=False)
@click.option("--output", "-o", "target", type=click.Path(path_type=Path), default=None)
@app_option
def pg_backups_download(backup: str | None, target: Path | None, app: str | None) -> None:
    """Download a backup (the latest by default) as a pg_restore archive."""
    ctx = cli_context()
    app_name, addon_id = _backup_target(ctx, app, "DATABASE")
    client = ctx.client()
    if backup is None:
        items = client.get(f"/addons/{seg(addon_id)}/backups", params={"app": app_name})
        if not items:
            raise CliError("There is no backup to download; capture one with pg:backups:capture.")
        backup = items[-1]["name"]
    path = target or Path(f"{backup}.dump")
    response = client.request(
        "GET", f"/addons/{seg(addon_id)}/backups/{seg(backup)}/download", params={"app": app_name}
    )
    path.write_bytes(response.content)
    output.line(f"Saved {backup} to {path} ({len(response.content)} bytes).")


COMMANDS = [
    addons_list,
    addons_create,
    addons_info,
    addons_destroy,
    addons_attach,
    addons_detach,
    pg_info,
    pg_psql,
    pg_rotate,
    pg_backups,
    pg_backups_capture,
    pg_backups_restore,
    pg_backups_download,
    redis_info,
    redis_cli,
]
