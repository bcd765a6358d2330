"""The add-on marketplace: addons:services, addons:plans, addons:upgrade/downgrade, addons:open,
mail:inbox, mail:show, and pg:backups:schedule / schedules / unschedule."""

from __future__ import annotations

import webbrowser
from typing import Any

import click

from slipway.cli import output
from slipway.cli.base import app_option, cli_context, json_option
from slipway.cli.client import seg
from slipway.cli.commands.addons import _resolve
from slipway.cli.errors import CliError


def _price(plan: dict[str, Any]) -> str:
    cents = int(plan.get("price", {}).get("cents", 0))
    return "free" if cents == 0 else f"${cents / 100:.2f}/month"


@click.command("addons:services")
@json_option
def addons_services(as_json: bool) -> None:
    """The add-on services this Slipway offers."""
    items = cli_context().client().get("/addon-services")
    if as_json:
        output.print_json(items)
        return
    output.table(["Slug", "Name"], [[s["name"], s["human_name"]] for s in items])


@click.command("addons:plans")
@click.argument("service")
@json_option
def addons_plans(service: str, as_json: bool) -> None:
    """A service's plans, their limits and display prices."""
    items = cli_context().client().get(f"/addon-services/{seg(service)}/plans")
    if as_json:
        output.print_json(items)
        return
    output.table(
        ["", "Slug", "Name", "Price", "Limits"],
        [
            [
                "default" if p["default"] else "",
                p["name"],
                p["human_name"],
                _price(p),
                p["description"],
            ]
            for p in items
        ],
    )


def _change_plan(addon: str, plan: str, app: str | None, verb: str) -> None:
    ctx = cli_context()
    client = ctx.client()
    found = _resolve(client, app or _app_or_none(ctx), addon)
    service = found["addon_service"]["name"]
    full = plan if ":" in plan else f"{service}:{plan}"
    output.action(f"Changing {found['name']} on {output.HEXAGON} {found['app']['name']} to {full}")
    changed = client.patch(
        f"/apps/{seg(found['app']['name'])}/addons/{seg(found['name'])}",
        {"plan": {"name": full}},
    )
    output.done(f" ({_price(changed['plan'])})")
    if changed.get("provision_message"):
        output.line(changed["provision_message"])


def _app_or_none(ctx: Any) -> str | None:
    try:
        return str(ctx.resolve_app(None))
    except CliError:
        return None


@click.command("addons:upgrade")
@click.argument("addon")
@click.argument("plan")
@app_option
def addons_upgrade(addon: str, plan: str, app: str | None) -> None:
    """Move an add-on to a bigger plan; its new limits apply at once where the server allows."""
    _change_plan(addon, plan, app, "Upgrade")


@click.command("addons:downgrade")
@click.argument("addon")
@click.argument("plan")
@app_option
def addons_downgrade(addon: str, plan: str, app: str | None) -> None:
    """Move an add-on to a smaller plan."""
    _change_plan(addon, plan, app, "Downgrade")


@click.command("addons:open")
@click.argument("addon")
@click.option("--show-url", is_flag=True, help="Print the URL instead of opening it.")
@app_option
def addons_open(addon: str, show_url: bool, app: str | None) -> None:
    """Open the add-on's page (RabbitMQ's management UI) in a browser."""
    ctx = cli_context()
    found = _resolve(ctx.client(), app or _app_or_none(ctx), addon)
    url = found.get("web_url")
    if not url:
        raise CliError(f"{found['name']} has no page to open.")
    if show_url or not webbrowser.open(url):
        output.line(url)


# -- mail ---------------------------------------------------------------------------------


def _mail_addon(ctx: Any, app: str | None, addon: str | None) -> tuple[str, dict[str, Any]]:
    app_name = ctx.resolve_app(app)
    return app_name, _resolve(ctx.client(), app_name, addon or "SMTP")


@click.command("mail:inbox")
@click.option("--addon", default=None, help="The mail add-on (default: the app's SMTP).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@app_option
@json_option
def mail_inbox(addon: str | None, limit: int, app: str | None, as_json: bool) -> None:
    """The messages the app's mail add-on accepted, newest first."""
    ctx = cli_context()
    app_name, found = _mail_addon(ctx, app, addon)
    items = ctx.client().get(
        f"/addons/{seg(found['id'])}/messages", params={"app": app_name, "limit": str(limit)}
    )
    if as_json:
        output.print_json(items)
        return
    if not items:
        output.line("No messages yet.")
        return
    output.table(
        ["ID", "Received", "From", "To", "Subject", "Status"],
        [
            [
                m["id"],
                output.when(m["received_at"]),
                m["from"],
                ", ".join(m["to"]),
                m["subject"],
                m["status"],
            ]
            for m in items
        ],
    )


@click.command("mail:show")
@click.argument("message_id")
@click.option("--addon", default=None, help="The mail add-on (default: the app's SMTP).")
@app_option
@json_option
def mail_show(message_id: str, addon: str | None, app: str | None, as_json: bool) -> None:
    """One message as it was sent (headers, DKIM signature and body)."""
    ctx = cli_context()
    app_name, found = _mail_addon(ctx, app, addon)
    message = ctx.client().get(
        f"/addons/{seg(found['id'])}/messages/{seg(message_id)}", params={"app": app_name}
    )
    if as_json:
        output.print_json(message)
        return
    output.header(f"{message['subject']} ({message['status']})")
    output.line(message["raw"])


# -- pg:backups:schedule ------------------------------------------------------------------


def _schedules_path(ctx: Any, app: str | None, database: str) -> tuple[str, str]:
    app_name = ctx.resolve_app(app)
    found = _resolve(ctx.client(), app_name, database.removesuffix("_URL"))
    return app_name, f"/client/v11/databases/{seg(found['id'])}/transfer-schedules"


@click.command("pg:backups:schedule")
@click.argument("database", required=False, default="DATABASE_URL")
@click.option("--at", "at", required=True, help="When, as 'HH:00 TIMEZONE', e.g. '02:00 UTC'.")
@app_option
def pg_backups_schedule(database: str, at: str, app: str | None) -> None:
    """Back the database up every day at an hour; the plan decides how many are kept."""
    hour, _, zone = at.strip().partition(" ")
    hour = hour.split(":")[0]
    ctx = cli_context()
    app_name, path = _schedules_path(ctx, app, database)
    output.action(f"Scheduling daily backups of {database} at {at}")
    made = ctx.client().post(
        f"{path}?app={seg(app_name)}",
        {"hour": hour, "timezone": zone.strip() or "UTC", "schedule_name": database},
    )
    output.done()
    output.line(f"Kept: {made['retention']}.")


@click.command("pg:backups:schedules")
@click.argument("database", required=False, default="DATABASE_URL")
@app_option
def pg_backups_schedules(database: str, app: str | None) -> None:
    """The database's backup schedule."""
    ctx = cli_context()
    app_name, path = _schedules_path(ctx, app, database)
    items = ctx.client().get(path, params={"app": app_name})
    if not items:
        output.line("No backup schedules. Add one with pg:backups:schedule --at '02:00 UTC'.")
        return
    for s in items:
        output.line(f"{s['name']}: daily at {s['hour']}:00 {s['timezone']} ({s['retention']})")


@click.command("pg:backups:unschedule")
@click.argument("database", required=False, default="DATABASE_URL")
@app_option
def pg_backups_unschedule(database: str, app: str | None) -> None:
    """Stop the database's scheduled backups (the backups made stay)."""
    ctx = cli_context()
    app_name, path = _schedules_path(ctx, app, database)
    client = ctx.client()
    items = client.get(path, params={"app": app_name})
    if not items:
        raise CliError(f"{database} has no backup schedule.")
    output.action(f"Unscheduling {database} daily backups")
    client.delete(f"{path}/{seg(items[0]['uuid'])}?app={seg(app_name)}")
    output.done()


COMMANDS = [
    addons_services,
    addons_plans,
    addons_upgrade,
    addons_downgrade,
    addons_open,
    mail_inbox,
    mail_show,
    pg_backups_schedule,
    pg_backups_schedules,
    pg_backups_unschedule,
]
