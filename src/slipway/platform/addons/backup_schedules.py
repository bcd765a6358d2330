"""pg:backups:schedule, pg:backups:schedules, pg:backups:unschedule, and the daily captures.

One schedule per add-on (scheduling again moves it): a backup every day at
`hour`:00 in `timezone`. Scheduled backups are kept as the add-on's plan says
(`Plan.backup_retention`: the newest N daily, then the newest of each of M
weeks before them); manual captures are never removed by a schedule. Like
Heroku's, a backup missed while the platform was down is not made up for: the
next one is at the next hour named.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from slipway.addons.errors import AddonError
from slipway.addons.provider import Backup, Provider, SupportsBackups
from slipway.platform import views
from slipway.platform.addons.providers import provider_for
from slipway.platform.addons.records import provisioned
from slipway.platform.errors import InvalidParams, NotFound
from slipway.platform.scheduler.schedules import next_daily
from slipway.platform.tx import Platform, Tx
from slipway.store.models import AddonAttachmentRow, AddonRow, BackupScheduleRow

log = logging.getLogger("slipway.backups")


def backups_to_drop(backups: Sequence[Backup], daily: int, weekly: int) -> list[str]:
    """The scheduled backups past the retention (names), newest kept first. Pure."""
    scheduled = sorted((b for b in backups if b.scheduled), key=lambda b: b.created_at)[::-1]
    keep = {b.name for b in scheduled[:daily]}
    weeks: set[tuple[int, int]] = set()
    for backup in scheduled[daily:]:
        week = backup.created_at.isocalendar()[:2]
        if week not in weeks and len(weeks) < weekly:
            weeks.add(week)
            keep.add(backup.name)
    return [b.name for b in scheduled if b.name not in keep]


def _retention(provider: Provider, plan_name: str) -> tuple[int, int]:
    plan = provider.service.plan(plan_name)
    return plan.backup_retention if plan is not None else (7, 0)


def describe_retention(daily: int, weekly: int) -> str:
    text = f"{daily} daily backups"
    return text + (f" and {weekly} weekly" if weekly else "")


def _view(tx: Tx, row: BackupScheduleRow) -> views.BackupSchedule:
    addon = tx.session.get(AddonRow, row.addon_id)
    assert addon is not None
    provider = tx.ports.addons.get(addon.service)
    daily, weekly = _retention(provider, addon.plan) if provider is not None else (7, 0)
    return views.BackupSchedule(
        id=row.id,
        addon_id=addon.id,
        addon_name=addon.name,
        name=row.name,
        hour=row.hour,
        timezone=row.timezone,
        retention=describe_retention(daily, weekly),
        next_run_at=row.next_run_at,
        last_run_at=row.last_run_at,
    )


def _addon_with_backups(
    tx: Tx, actor: views.Actor, addon_ident: str, app_ident: str | None
) -> AddonRow:
    row, _ = provisioned(tx, actor, addon_ident, app_ident)
    provider = provider_for(tx.ports, row.service)
    if not isinstance(provider, SupportsBackups):
        raise InvalidParams(
            f"{row.service} add-ons have no backups to schedule; schedule those of a "
            "heroku-postgresql add-on."
        )
    return row


def schedule(
    tx: Tx,
    actor: views.Actor,
    addon_ident: str,
    app_ident: str | None,
    *,
    hour: str | int,
    timezone: str,
    name: str,
) -> views.BackupSchedule:
    """pg:backups:schedule DATABASE_URL --at '02:00 UTC' (the CLI sends hour "02")."""
    addon = _addon_with_backups(tx, actor, addon_ident, app_ident)
    try:
        hour_number = int(str(hour).strip())
    except ValueError:
        hour_number = -1
    if not 0 <= hour_number <= 23:
        raise InvalidParams(
            f"The hour {hour!r} is not valid; schedule with --at 'HH:00 TIMEZONE', e.g. "
            "--at '02:00 UTC'."
        )
    zone = (timezone or "UTC").strip()
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidParams(
            f"The time zone {zone!r} is not known; use a name such as UTC or America/New_York."
        ) from None
    now = tx.clock.now()
    row = tx.session.scalar(select(BackupScheduleRow).where(BackupScheduleRow.addon_id == addon.id))
    if row is None:
        row = BackupScheduleRow(
            id=str(uuid.uuid4()), addon_id=addon.id, created_at=now, last_run_at=None
        )
        tx.session.add(row)
    row.name = name or addon.name
    row.hour = hour_number
    row.timezone = zone
    row.next_run_at = next_daily(hour_number, zone, now)
    row.updated_at = now
    tx.session.flush()
    tx.log(addon.app_id, f"Scheduled daily backups of {addon.name} at {hour_number:02d}:00 {zone}")
    return _view(tx, row)


def list_schedules(
    tx: Tx, actor: views.Actor, addon_ident: str, app_ident: str | None
) -> list[views.BackupSchedule]:
    addon = _addon_with_backups(tx, actor, addon_ident, app_ident)
    rows = tx.session.scalars(
        select(BackupScheduleRow).where(BackupScheduleRow.addon_id == addon.id)
    ).all()
    return [_view(tx, r) for r in rows]


def unschedule(
    tx: Tx, actor: views.Actor, addon_ident: str, app_ident: str | None, schedule_id: str
) -> views.BackupSchedule:
    addon = _addon_with_backups(tx, actor, addon_ident, app_ident)
    row = tx.session.get(BackupScheduleRow, schedule_id)
    if row is None or row.addon_id != addon.id:
        raise NotFound(
            f"Couldn't find that backup schedule ({schedule_id}); pg:backups:schedules lists them.",
            resource="transfer_schedule",
        )
    view = _view(tx, row)
    tx.session.delete(row)
    tx.log(addon.app_id, f"Stopped the scheduled backups of {addon.name}")
    return view


def reschedule_all(platform: Platform, now: dt.datetime) -> None:
    """At start: the next backup of each schedule from now on (a missed one is not made)."""
    with platform.tx() as tx:
        for row in tx.session.scalars(select(BackupScheduleRow)).all():
            row.next_run_at = next_daily(row.hour, row.timezone, now)


def run_due(platform: Platform, now: dt.datetime) -> list[str]:
    """Capture every backup whose hour has come, and drop what the retention no longer keeps."""
    made: list[str] = []
    with platform.tx() as tx:
        due = [
            (r.id, r.addon_id)
            for r in tx.session.scalars(
                select(BackupScheduleRow).where(BackupScheduleRow.next_run_at <= now)
            )
        ]
    for schedule_id, addon_id in due:
        with platform.tx() as tx:
            row = tx.session.get(BackupScheduleRow, schedule_id)
            addon = tx.session.get(AddonRow, addon_id)
            if row is None or addon is None or addon.resource_id is None:
                continue
            row.next_run_at = next_daily(row.hour, row.timezone, now)
            row.last_run_at = now
            service, resource_id, plan, app_id = (
                addon.service,
                addon.resource_id,
                addon.plan,
                addon.app_id,
            )
            label = row.name
        provider = platform.ports.addons.get(service)
        if provider is None or not isinstance(provider, SupportsBackups):
            continue
        try:
            backup = provider.backups.capture_backup(resource_id, scheduled=True)
            daily, weekly = _retention(provider, plan)
            dropped = backups_to_drop(provider.backups.list_backups(resource_id), daily, weekly)
            for name in dropped:
                provider.backups.delete_backup(resource_id, name)
            message = f"Scheduled backup {backup.name} of {label} completed"
            if dropped:
                message += (
                    f"; {', '.join(dropped)} dropped ({describe_retention(daily, weekly)} kept)"
                )
            made.append(backup.name)
        except AddonError as exc:
            message = f"Scheduled backup of {label} failed: {exc.message}"
            log.warning("%s", message)
        with platform.tx() as tx:
            tx.log(app_id, message, process="heroku-postgres")
    return made


def attached_apps(tx: Tx, addon_id: str) -> list[str]:
    return list(
        tx.session.scalars(
            select(AddonAttachmentRow.app_id).where(AddonAttachmentRow.addon_id == addon_id)
        )
    )
