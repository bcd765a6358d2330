"""Heroku Scheduler's jobs: what `slipway scheduler`, `scheduler:add`, `scheduler:remove` and
`scheduler:run` do, and how the platform's ticker runs them.

A job belongs to an app's `scheduler` add-on (destroying the add-on removes its
jobs). Each run is a one-off dyno `scheduler.N` on the app's current release,
detached, its output in the app's log stream like any dyno's. A job whose last
run is still going is not started again; the next run is always computed from
now, so runs missed while the platform was down are not replayed.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from sqlalchemy import select

from slipway.platform import views
from slipway.platform.apps import current_release_row, find_app_row
from slipway.platform.errors import InvalidParams, NotFound, Unavailable
from slipway.platform.formation_rules import parse_size
from slipway.platform.scheduler.schedules import next_run, parse_schedule
from slipway.platform.tx import Platform, Tx
from slipway.runtime.errors import DynoError
from slipway.runtime.manager import OneOffRequest
from slipway.store.models import AddonRow, AppRow, SchedulerJobRow

log = logging.getLogger("slipway.scheduler")

SERVICE = "scheduler"
MAX_JOBS = 50
MAX_COMMAND = 4096
RUNNER = "scheduler@addons.heroku.com"  # who Heroku says started a scheduled run


def _addon(tx: Tx, app: AppRow) -> AddonRow:
    row = tx.session.scalar(
        select(AddonRow).where(AddonRow.app_id == app.id, AddonRow.service == SERVICE)
    )
    if row is None or row.state != "provisioned":
        raise InvalidParams(
            f"{app.name} has no scheduler; add one with `addons:create scheduler` first."
        )
    return row


def _view(tx: Tx, row: SchedulerJobRow) -> views.SchedulerJob:
    app = tx.session.get(AppRow, row.app_id)
    addon = tx.session.get(AddonRow, row.addon_id)
    assert app is not None
    assert addon is not None
    return views.SchedulerJob(
        id=row.id,
        app_id=app.id,
        app_name=app.name,
        addon_name=addon.name,
        frequency=row.frequency,
        schedule=row.schedule,
        command=row.command,
        size=row.size,
        next_run_at=row.next_run_at,
        last_run_at=row.last_run_at,
        last_dyno=row.last_dyno,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _job(tx: Tx, app: AppRow, ident: str) -> SchedulerJobRow:
    row = tx.session.get(SchedulerJobRow, ident)
    if row is None or row.app_id != app.id:
        raise NotFound(
            f"Couldn't find that scheduler job ({ident}); `scheduler` lists the jobs.",
            resource="scheduler_job",
        )
    return row


def list_jobs(tx: Tx, actor: views.Actor, app_ident: str) -> list[views.SchedulerJob]:
    app = find_app_row(tx, actor, app_ident)
    rows = tx.session.scalars(
        select(SchedulerJobRow)
        .where(SchedulerJobRow.app_id == app.id)
        .order_by(SchedulerJobRow.created_at)
    ).all()
    return [_view(tx, r) for r in rows]


def add_job(
    tx: Tx,
    actor: views.Actor,
    app_ident: str,
    *,
    frequency: str,
    command: str,
    size: str | None,
) -> views.SchedulerJob:
    """scheduler:add "every day at 02:00" "python manage.py clearsessions" --size basic."""
    app = find_app_row(tx, actor, app_ident, lock=True)
    addon = _addon(tx, app)
    command = command.strip()
    if not command:
        raise InvalidParams("Give the job a command to run, e.g. `python manage.py clearsessions`.")
    if len(command) > MAX_COMMAND or "\n" in command:
        raise InvalidParams(f"A job's command is one line of at most {MAX_COMMAND} characters.")
    schedule = parse_schedule(frequency)
    chosen = parse_size(size or tx.settings.default_dyno_size)
    count = len(
        tx.session.scalars(
            select(SchedulerJobRow.id).where(SchedulerJobRow.addon_id == addon.id)
        ).all()
    )
    if count >= MAX_JOBS:
        raise InvalidParams(
            f"{app.name}'s scheduler already has {MAX_JOBS} jobs, its limit; remove one first."
        )
    now = tx.clock.now()
    row = SchedulerJobRow(
        id=str(uuid.uuid4()),
        addon_id=addon.id,
        app_id=app.id,
        frequency=schedule.frequency,
        schedule=schedule.cron,
        command=command,
        size=chosen.name,
        next_run_at=next_run(schedule.cron, now),
        created_at=now,
        updated_at=now,
    )
    tx.session.add(row)
    tx.session.flush()
    tx.log(app.id, f"Add scheduler job `{command}` {schedule.frequency} by user {actor.email}")
    return _view(tx, row)


def remove_job(tx: Tx, actor: views.Actor, app_ident: str, ident: str) -> views.SchedulerJob:
    app = find_app_row(tx, actor, app_ident, lock=True)
    row = _job(tx, app, ident)
    view = _view(tx, row)
    tx.session.delete(row)
    tx.log(app.id, f"Remove scheduler job `{row.command}` by user {actor.email}")
    return view


def run_job(tx: Tx, actor: views.Actor, app_ident: str, ident: str) -> views.SchedulerJob:
    """scheduler:run ID: one run now, as if its time had come (the schedule stays)."""
    app = find_app_row(tx, actor, app_ident)
    row = _job(tx, app, ident)
    if _still_running(tx, row):
        raise InvalidParams(
            f"The job's last run ({row.last_dyno}) is still running; wait until it ends."
        )
    _start(tx, row, tx.clock.now(), by=actor.email)
    return _view(tx, row)


# -- what the ticker does


def _still_running(tx: Tx, row: SchedulerJobRow) -> bool:
    runtime = tx.ports.dyno_runtime
    if runtime is None or row.last_dyno is None:
        return False
    return any(d.name == row.last_dyno for d in runtime.dynos(row.app_id))


def _start(tx: Tx, row: SchedulerJobRow, now: dt.datetime, *, by: str) -> None:
    runtime = tx.ports.dyno_runtime
    if runtime is None:
        raise Unavailable("This server runs no dyno manager, so scheduler jobs cannot run.")
    if current_release_row(tx, row.app_id) is None:
        raise InvalidParams("The app has no release yet; deploy it with git push first.")
    size = parse_size(row.size)
    try:
        info = runtime.run(
            row.app_id,
            OneOffRequest(
                command=row.command,
                attach=False,
                size=size.name,
                memory_mb=size.memory_mb,
                env={},
                tty=False,
                type="scheduler",
            ),
        )
    except DynoError as exc:
        raise InvalidParams(exc.message) from exc
    row.last_run_at = now
    row.last_dyno = info.name
    row.updated_at = now
    tx.log(row.app_id, f"Starting process with command `{row.command}` by {by}")


def reschedule_all(platform: Platform, now: dt.datetime) -> int:
    """At start: every job's next run from now on (missed runs are not replayed)."""
    with platform.tx() as tx:
        rows = tx.session.scalars(select(SchedulerJobRow)).all()
        for row in rows:
            upcoming = next_run(row.schedule, now)
            if row.next_run_at != upcoming:
                row.next_run_at = upcoming
        return len(rows)


def run_due(platform: Platform, now: dt.datetime) -> list[str]:
    """Start every job whose time has come; the dyno names started."""
    started: list[str] = []
    with platform.tx() as tx:
        ids = list(
            tx.session.scalars(select(SchedulerJobRow.id).where(SchedulerJobRow.next_run_at <= now))
        )
    for job_id in ids:
        try:
            with platform.tx() as tx:
                row = tx.session.get(SchedulerJobRow, job_id)
                if row is None or row.next_run_at > now:
                    continue
                row.next_run_at = next_run(row.schedule, now)
                if _still_running(tx, row):
                    tx.log(
                        row.app_id,
                        f"Skipping scheduler job `{row.command}`: its last run "
                        f"({row.last_dyno}) is still running",
                    )
                    continue
                _start(tx, row, now, by=RUNNER)
                if row.last_dyno:
                    started.append(row.last_dyno)
        except (InvalidParams, Unavailable) as exc:
            log.warning("scheduler job %s did not start: %s", job_id, exc.message)
            with platform.tx() as tx:
                row = tx.session.get(SchedulerJobRow, job_id)
                if row is not None:
                    row.next_run_at = next_run(row.schedule, now)
                    tx.log(
                        row.app_id, f"Scheduler job `{row.command}` did not start: {exc.message}"
                    )
    return started
