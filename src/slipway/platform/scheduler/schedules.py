"""When a scheduler job runs: Heroku Scheduler's frequencies and cron expressions, in UTC.

Pure functions. Heroku Scheduler offers `every 10 minutes`, `every hour at :MM`
and `every day at HH:MM` (UTC, on the dashboard as "Every 10 minutes", "Every
hour at...", "Every day at..."); Slipway also takes any five-field cron
expression, parsed by croniter. Each becomes a cron expression, which is what
the job record keeps and what the next run is computed from.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from croniter import croniter

from slipway.platform.errors import InvalidParams

_EVERY_10 = re.compile(r"^every\s+10\s+min(ute)?s?$")
_HOURLY = re.compile(r"^every\s+hour\s+at\s+:?(\d{1,2})$")
_DAILY = re.compile(r"^every\s+day\s+at\s+(\d{1,2}):(\d{2})(\s*utc)?$")
_ALIASES = {"hourly": "every hour at :00", "daily": "every day at 00:00"}


@dataclass(frozen=True)
class Schedule:
    frequency: str  # as shown: "every 10 minutes", "every day at 02:00", "*/5 * * * *"
    cron: str  # "*/10 * * * *"


def parse_schedule(text: str) -> Schedule:
    """`every 10 minutes`, `every hour at :30`, `every day at 02:00`, or a cron expression."""
    given = " ".join(text.strip().split())
    lowered = _ALIASES.get(given.lower(), given.lower())
    if _EVERY_10.match(lowered):
        return Schedule("every 10 minutes", "*/10 * * * *")
    if match := _HOURLY.match(lowered):
        minute = int(match.group(1))
        if minute > 59:
            raise _invalid(text)
        return Schedule(f"every hour at :{minute:02d}", f"{minute} * * * *")
    if match := _DAILY.match(lowered):
        hour, minute = int(match.group(1)), int(match.group(2))
        if hour > 23 or minute > 59:
            raise _invalid(text)
        return Schedule(f"every day at {hour:02d}:{minute:02d}", f"{minute} {hour} * * *")
    fields = given.split()
    if len(fields) == 5 and croniter.is_valid(given):
        return Schedule(given, given)
    raise _invalid(text)


def _invalid(text: str) -> InvalidParams:
    return InvalidParams(
        f"The schedule {text.strip()!r} is not valid; use 'every 10 minutes', "
        "'every hour at :MM', 'every day at HH:MM' (UTC) or a cron expression such as "
        "'*/15 * * * *'."
    )


def next_run(cron: str, after: dt.datetime) -> dt.datetime:
    """The first time strictly after `after` (UTC) that `cron` names."""
    start = after.astimezone(dt.UTC)
    found: dt.datetime = croniter(cron, start).get_next(dt.datetime)
    return found.astimezone(dt.UTC)


def next_daily(hour: int, timezone: str, after: dt.datetime) -> dt.datetime:
    """The next `hour`:00 in `timezone` strictly after `after`, in UTC (pg:backups:schedule)."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(timezone)
    local = after.astimezone(zone)
    candidate = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if candidate <= local:
        candidate = (local + dt.timedelta(days=1)).replace(
            hour=hour, minute=0, second=0, microsecond=0
        )
    return candidate.astimezone(dt.UTC)
