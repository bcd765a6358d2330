"""Scheduler frequencies, cron expressions and daily backup hours: pure functions."""

from __future__ import annotations

import datetime as dt

import pytest

from slipway.addons.provider import Backup
from slipway.platform.addons.backup_schedules import backups_to_drop
from slipway.platform.errors import InvalidParams
from slipway.platform.scheduler.schedules import next_daily, next_run, parse_schedule

UTC = dt.UTC


@pytest.mark.parametrize(
    ("text", "frequency", "cron"),
    [
        ("every 10 minutes", "every 10 minutes", "*/10 * * * *"),
        ("Every 10 Minutes", "every 10 minutes", "*/10 * * * *"),
        ("every hour at :30", "every hour at :30", "30 * * * *"),
        ("every hour at 5", "every hour at :05", "5 * * * *"),
        ("every day at 02:00", "every day at 02:00", "0 2 * * *"),
        ("every day at 2:15 UTC", "every day at 02:15", "15 2 * * *"),
        ("daily", "every day at 00:00", "0 0 * * *"),
        ("*/5 * * * *", "*/5 * * * *", "*/5 * * * *"),
        ("0 9 * * 1-5", "0 9 * * 1-5", "0 9 * * 1-5"),
    ],
)
def test_frequencies_become_cron_expressions(text: str, frequency: str, cron: str) -> None:
    parsed = parse_schedule(text)
    assert (parsed.frequency, parsed.cron) == (frequency, cron)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "every 7 minutes",
        "every hour at :60",
        "every day at 24:00",
        "sometimes",
        "* * *",
        "61 * * * *",
    ],
)
def test_invalid_schedules_get_one_sentence(text: str) -> None:
    with pytest.raises(InvalidParams) as raised:
        parse_schedule(text)
    assert raised.value.message.startswith("The schedule ")
    assert "every 10 minutes" in raised.value.message
    assert raised.value.message.endswith(".")


def test_the_next_run_is_strictly_after_now_in_utc() -> None:
    now = dt.datetime(2026, 12, 1, 10, 20, 0, tzinfo=UTC)
    assert next_run("*/10 * * * *", now) == dt.datetime(2026, 12, 1, 10, 30, tzinfo=UTC)
    assert next_run("15 * * * *", now) == dt.datetime(2026, 12, 1, 11, 15, tzinfo=UTC)
    assert next_run("0 2 * * *", now) == dt.datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
    # A clock in another zone means the same instant.
    local = now.astimezone(dt.timezone(dt.timedelta(hours=5)))
    assert next_run("*/10 * * * *", local) == dt.datetime(2026, 12, 1, 10, 30, tzinfo=UTC)


def test_daily_backups_follow_their_time_zone() -> None:
    now = dt.datetime(2026, 12, 1, 1, 30, tzinfo=UTC)
    assert next_daily(2, "UTC", now) == dt.datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    assert next_daily(1, "UTC", now) == dt.datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
    # 02:00 in New York (UTC-5 in December) is 07:00 UTC.
    assert next_daily(2, "America/New_York", now) == dt.datetime(2026, 12, 1, 7, 0, tzinfo=UTC)


def _backup(name: str, day: int, scheduled: bool = True) -> Backup:
    created = dt.datetime(2026, 11, 1, 2, 0, tzinfo=UTC) + dt.timedelta(days=day)
    return Backup(name, created, 100, "Completed", scheduled)


def test_retention_keeps_the_newest_daily_then_one_a_week() -> None:
    backups = [_backup(f"b{i:03d}", i) for i in range(1, 31)]
    backups.append(_backup("b900", 0, scheduled=False))  # a manual capture is never dropped
    dropped = backups_to_drop(backups, daily=7, weekly=0)
    assert sorted(dropped) == [f"b{i:03d}" for i in range(1, 24)]
    kept_weekly = {b.name for b in backups} - set(backups_to_drop(backups, daily=7, weekly=2))
    # The 7 newest, plus the newest of each of the two weeks before them.
    assert {f"b{i:03d}" for i in range(24, 31)} < kept_weekly
    assert len(kept_weekly - {f"b{i:03d}" for i in range(24, 31)} - {"b900"}) == 2
