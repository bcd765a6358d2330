"""Heroku Scheduler's timing with a scripted clock: due jobs start, a running one is not
started twice, missed runs are not replayed; daily scheduled backups and their retention.

The platform and its store are real; the dyno runtime is a stand-in recording what it
is asked to run (tests/dynos/test_marketplace_e2e.py runs real scheduler dynos).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from slipway.addons import AddonSettings, PostgresProvider
from slipway.addons.scheduler import SchedulerProvider
from slipway.platform import accounts, addons, apps, views
from slipway.platform.addons import backup_schedules
from slipway.platform.errors import InvalidParams
from slipway.platform.scheduler import jobs
from slipway.platform.ticker import Ticker
from slipway.platform.tx import Platform
from slipway.runtime.manager import DynoInfo, OneOffRequest
from slipway.store import Store
from slipway.store.engine import sqlite_url

START = dt.datetime(2026, 12, 1, 10, 0, 30, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.at = START

    def now(self) -> dt.datetime:
        return self.at

    def monotonic(self) -> float:
        return (self.at - START).total_seconds()


class Runtime:
    """Records one-off runs; a run stays 'running' until `finish` is called."""

    def __init__(self) -> None:
        self.runs: list[OneOffRequest] = []
        self.running: set[str] = set()

    def run(self, app_id: str, request: OneOffRequest) -> DynoInfo:
        self.runs.append(request)
        name = f"{request.type}.{1000 + len(self.runs)}"
        self.running.add(name)
        now = START
        return DynoInfo(
            "id", app_id, name, request.type, request.command, request.size, "up", 1, None,
            now, now, None,
        )  # fmt: skip

    def dynos(self, app_id: str) -> list[DynoInfo]:
        now = START
        return [
            DynoInfo("id", app_id, n, "scheduler", "", "basic", "up", 1, None, now, now, None)
            for n in sorted(self.running)
        ]

    def finish(self) -> None:
        self.running.clear()


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Platform, Clock, Runtime, views.Actor]]:
    store = Store(sqlite_url(tmp_path / "platform.db"))
    store.migrate()
    clock = Clock()
    platform = Platform(store, clock=clock)
    runtime = Runtime()
    platform.ports.dyno_runtime = runtime  # type: ignore[assignment]
    platform.ports.addons = {"scheduler": SchedulerProvider(tmp_path)}
    with platform.tx() as tx:
        created = accounts.bootstrap_admin(tx, "admin@example.com")
        assert created is not None
        actor = views.Actor(created[0])
        apps.create_app(tx, actor, "sched-app")
    addons.create_addon(platform, actor, "sched-app", plan="scheduler")
    yield platform, clock, runtime, actor
    store.dispose()


def test_jobs_run_when_due_and_never_twice_at_once(
    setup: tuple[Platform, Clock, Runtime, views.Actor],
) -> None:
    platform, clock, runtime, actor = setup
    with platform.tx() as tx:
        job = jobs.add_job(
            tx, actor, "sched-app", frequency="every 10 minutes", command="python job.py", size=None
        )
    assert job.next_run_at == dt.datetime(2026, 12, 1, 10, 10, tzinfo=dt.UTC)
    ticker = Ticker(platform)
    clock.at = dt.datetime(2026, 12, 1, 10, 9, 59, tzinfo=dt.UTC)
    ticker.tick_once(clock.now())
    assert runtime.runs == []
    clock.at = dt.datetime(2026, 12, 1, 10, 10, 2, tzinfo=dt.UTC)
    ticker.tick_once(clock.now())
    assert [(r.command, r.type, r.attach) for r in runtime.runs] == [
        ("python job.py", "scheduler", False)
    ]
    # Ten minutes on, the first run is still going: no second one.
    clock.at = dt.datetime(2026, 12, 1, 10, 20, 1, tzinfo=dt.UTC)
    ticker.tick_once(clock.now())
    assert len(runtime.runs) == 1
    with platform.tx() as tx:
        [listed] = jobs.list_jobs(tx, actor, "sched-app")
        with pytest.raises(InvalidParams, match="still running"):
            jobs.run_job(tx, actor, "sched-app", listed.id)
    assert listed.next_run_at == dt.datetime(2026, 12, 1, 10, 30, tzinfo=dt.UTC)
    runtime.finish()
    clock.at = dt.datetime(2026, 12, 1, 10, 30, 0, tzinfo=dt.UTC)
    ticker.tick_once(clock.now())
    assert len(runtime.runs) == 2


def test_missed_runs_are_not_replayed_after_a_restart(
    setup: tuple[Platform, Clock, Runtime, views.Actor],
) -> None:
    platform, clock, runtime, actor = setup
    with platform.tx() as tx:
        jobs.add_job(tx, actor, "sched-app", frequency="every hour at :15", command="x", size=None)
    # The platform was down from 10:00 to 13:40: three runs missed.
    clock.at = dt.datetime(2026, 12, 1, 13, 40, tzinfo=dt.UTC)
    ticker = Ticker(platform)
    ticker.start()
    try:
        ticker.tick_once(clock.now())
        assert runtime.runs == []
        with platform.tx() as tx:
            [job] = jobs.list_jobs(tx, actor, "sched-app")
        assert job.next_run_at == dt.datetime(2026, 12, 1, 14, 15, tzinfo=dt.UTC)
        clock.at = dt.datetime(2026, 12, 1, 14, 15, 3, tzinfo=dt.UTC)
        ticker.tick_once(clock.now())
        assert len(runtime.runs) == 1
    finally:
        ticker.stop()


def test_bad_jobs_are_refused_with_one_sentence(
    setup: tuple[Platform, Clock, Runtime, views.Actor],
) -> None:
    platform, _, _, actor = setup
    with platform.tx() as tx:
        with pytest.raises(InvalidParams, match=r"^Give the job a command"):
            jobs.add_job(
                tx, actor, "sched-app", frequency="every 10 minutes", command=" ", size=None
            )
        with pytest.raises(InvalidParams, match=r"^The schedule 'every fortnight' is not valid"):
            jobs.add_job(
                tx, actor, "sched-app", frequency="every fortnight", command="x", size=None
            )
        with pytest.raises(InvalidParams, match=r"^Dyno size 'huge-9x' is not known"):
            jobs.add_job(tx, actor, "sched-app", frequency="daily", command="x", size="huge-9x")
        assert jobs.list_jobs(tx, actor, "sched-app") == []
        apps.create_app(tx, actor, "no-scheduler")
        with pytest.raises(InvalidParams, match="has no scheduler"):
            jobs.add_job(tx, actor, "no-scheduler", frequency="daily", command="x", size=None)


def test_destroying_the_add_on_removes_its_jobs(
    setup: tuple[Platform, Clock, Runtime, views.Actor],
) -> None:
    platform, _, _, actor = setup
    with platform.tx() as tx:
        jobs.add_job(tx, actor, "sched-app", frequency="daily", command="x", size=None)
        [addon] = addons.list_addons(tx, actor, "sched-app")
    addons.destroy_addon(platform, actor, "sched-app", addon.id, force=False)
    with platform.tx() as tx:
        assert jobs.list_jobs(tx, actor, "sched-app") == []


@pytest.mark.postgres
def test_scheduled_backups_run_daily_and_keep_what_the_plan_says(
    setup: tuple[Platform, Clock, Runtime, views.Actor], tmp_path: Path, pg_admin_url: str
) -> None:
    """pg:backups:schedule with real pg_dump captures on the machine's PostgreSQL."""
    platform, clock, _, actor = setup
    provider = PostgresProvider(tmp_path, AddonSettings(postgres_admin_url=pg_admin_url))
    platform.ports.addons = {**platform.ports.addons, "heroku-postgresql": provider}
    addon = addons.create_addon(platform, actor, "sched-app", plan="heroku-postgresql")
    try:
        manual = addons.capture_backup(platform, actor, addon.id, "sched-app")
        with platform.tx() as tx:
            made = backup_schedules.schedule(
                tx, actor, "DATABASE", "sched-app", hour="02", timezone="UTC", name="DATABASE_URL"
            )
        assert made.next_run_at == dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.UTC)
        assert made.retention == "7 daily backups"
        ticker = Ticker(platform)
        for day in range(2, 11):  # nine days of 02:00
            clock.at = dt.datetime(2026, 12, day, 2, 0, 5, tzinfo=dt.UTC)
            ticker.tick_once(clock.now())
            ticker.tick_once(clock.now() + dt.timedelta(minutes=2))  # no second one that day
        listed = addons.list_backups(platform, actor, addon.id, "sched-app")
        scheduled = [b for b in listed if b.scheduled]
        assert len(scheduled) == 7
        assert [b.name for b in listed if not b.scheduled] == [manual.name]
        with platform.tx() as tx:
            with pytest.raises(InvalidParams, match="The time zone 'Mars/Olympus' is not known"):
                backup_schedules.schedule(
                    tx, actor, "DATABASE", "sched-app", hour="2", timezone="Mars/Olympus", name=""
                )
            with pytest.raises(InvalidParams, match="The hour '25' is not valid"):
                backup_schedules.schedule(
                    tx, actor, "DATABASE", "sched-app", hour="25", timezone="UTC", name=""
                )
    finally:
        addons.destroy_addon(platform, actor, "sched-app", addon.id, force=True)
