"""Heroku Scheduler: scheduler, scheduler:add, scheduler:remove, scheduler:run."""

from __future__ import annotations

import click

from slipway.cli import output
from slipway.cli.base import app_option, cli_context, json_option
from slipway.cli.client import seg


@click.command("scheduler")
@app_option
@json_option
def scheduler_list(app: str | None, as_json: bool) -> None:
    """The app's scheduled jobs (times are UTC)."""
    ctx = cli_context()
    items = ctx.client().get(f"/apps/{seg(ctx.resolve_app(app))}/scheduler/jobs")
    if as_json:
        output.print_json(items)
        return
    if not items:
        output.line('No jobs. Add one with scheduler:add "every day at 02:00" "COMMAND".')
        return
    output.table(
        ["ID", "Schedule", "Command", "Size", "Next run", "Last run"],
        [
            [
                j["id"],
                j["frequency"],
                j["command"],
                j["dyno_size"],
                output.when(j["next_run_at"]),
                f"{output.when(j['last_run_at'])} ({j['last_dyno']})" if j["last_run_at"] else "-",
            ]
            for j in items
        ],
    )


@click.command("scheduler:add")
@click.argument("frequency")
@click.argument("command")
@click.option("--size", default=None, help="Dyno size of each run (default: basic).")
@app_option
def scheduler_add(frequency: str, command: str, size: str | None, app: str | None) -> None:
    """Run COMMAND on a schedule: 'every 10 minutes', 'every hour at :MM', 'every day at HH:MM'
    (UTC), or a cron expression."""
    ctx = cli_context()
    app_name = ctx.resolve_app(app)
    output.action(f"Adding a job on {output.HEXAGON} {app_name}")
    job = ctx.client().post(
        f"/apps/{seg(app_name)}/scheduler/jobs",
        {"frequency": frequency, "command": command, "size": size},
    )
    output.done(f", {job['id']}")
    output.line(f"Runs {job['frequency']} (next: {output.when(job['next_run_at'])}).")


@click.command("scheduler:remove")
@click.argument("job_id")
@app_option
def scheduler_remove(job_id: str, app: str | None) -> None:
    """Remove a job."""
    ctx = cli_context()
    app_name = ctx.resolve_app(app)
    output.action(f"Removing job {job_id}")
    ctx.client().delete(f"/apps/{seg(app_name)}/scheduler/jobs/{seg(job_id)}")
    output.done()


@click.command("scheduler:run")
@click.argument("job_id")
@app_option
def scheduler_run(job_id: str, app: str | None) -> None:
    """Run a job now, in a one-off dyno; its output goes to the app's logs."""
    ctx = cli_context()
    app_name = ctx.resolve_app(app)
    output.action(f"Running job {job_id}")
    job = ctx.client().post(f"/apps/{seg(app_name)}/scheduler/jobs/{seg(job_id)}/actions/run")
    output.done(f", {job['last_dyno']}")
    output.line(f"Run `slipway logs --dyno {job['last_dyno']}` to see its output.")


COMMANDS = [scheduler_list, scheduler_add, scheduler_remove, scheduler_run]
