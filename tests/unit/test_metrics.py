"""Metrics in process, with a clock the test moves: router lines parsed, sketches merged,
minute and ten-minute rows written, retention, runtime events, the Prometheus text.
(Through the router and in the browser: tests/dashboard/test_browser.py.)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from slipway.platform import accounts, apps, views
from slipway.platform.metrics import prometheus, queries, routerline, sketch
from slipway.platform.metrics.collector import prune
from slipway.platform.tx import Platform
from slipway.store import Store
from slipway.store.engine import sqlite_url
from slipway.store.models import MetricRow
from tests.support import scratch_postgres_db
from tests.unit.test_people_platform import Clock

OK = (
    'at=info method=GET path="/x" host=a.localhost request_id=r1 fwd="127.0.0.1" '
    "dyno=web.2 connect=0ms service={ms}ms status={status} bytes=12 protocol=http"
)
H12 = (
    'at=error code=H12 desc="Request timeout" method=GET path="/slow" host=a.localhost '
    'request_id=r2 fwd="127.0.0.1" dyno=web.1 connect=0ms service=30000ms status=503 '
    "bytes=0 protocol=http"
)
H14 = (
    'at=error code=H14 desc="No web processes running" method=GET path="/" '
    'host=a.localhost request_id=r3 fwd="127.0.0.1" dyno= connect= service= status=503 '
    "bytes= protocol=http"
)


def test_router_lines_parse_back() -> None:
    ok = routerline.parse(OK.format(ms=7, status=201))
    assert ok == routerline.RouterRequest(201, None, "web", 7.0)
    timeout = routerline.parse(H12)
    assert timeout == routerline.RouterRequest(503, "H12", "web", 30000.0)
    none = routerline.parse(H14)
    assert none == routerline.RouterRequest(503, "H14", "router", None)
    assert routerline.parse("State changed from up to down") is None
    # A client's X-Forwarded-For cannot pass for the fields after it.
    forged = OK.format(ms=3, status=200).replace(
        'fwd="127.0.0.1"', 'fwd="1.2.3.4 dyno=worker.1 service=9ms status=500"'
    )
    assert routerline.parse(forged) == routerline.RouterRequest(200, None, "web", 3.0)
    sock = "sock=client " + H12.replace("code=H12", "code=H27", 1)
    assert routerline.parse(sock) == routerline.RouterRequest(503, "H27", "web", 30000.0)


def test_sketches_merge_and_survive_the_store() -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(3, 1) for _ in range(5000)]
    halves = [sketch.new(), sketch.new()]
    for i, v in enumerate(values):
        halves[i % 2].add(v)
    merged = sketch.decode(sketch.encode(halves[0]))
    merged.merge(sketch.decode(sketch.encode(halves[1])))
    assert merged.count == len(values)
    ordered = sorted(values)
    for q in (0.5, 0.95, 0.99):
        exact = ordered[int(q * (len(ordered) - 1))]
        got = sketch.quantile(merged, q)
        assert got is not None
        assert abs(got - exact) / exact < 0.03, (q, got, exact)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def platform(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock) -> Iterator[Platform]:
    """The collector's rows on both stores (JSON columns, the slot's unique key, pruning)."""
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = sqlite_url(tmp_path / "metrics.db")
        else:
            url = stack.enter_context(scratch_postgres_db())
        store = Store(url)
        store.migrate()
        yield Platform(store, clock=clock)
        store.dispose()


@pytest.fixture
def owner(platform: Platform) -> tuple[views.Actor, str]:
    with platform.tx() as tx:
        made = accounts.bootstrap_admin(tx, "admin@example.com")
        assert made is not None
        actor = views.Actor(made[0])
        app = apps.create_app(tx, actor, "metered")
    return actor, app.id


def test_requests_are_counted_per_minute_and_ten_minutes(
    platform: Platform, owner: tuple[views.Actor, str], clock: Clock
) -> None:
    actor, app_id = owner
    collector = platform.metrics
    collector.observe_lines([(app_id, OK.format(ms=10, status=200))] * 30)
    collector.observe_lines([(app_id, OK.format(ms=100, status=404)), (app_id, H12)])
    clock.advance(60)
    collector.observe_lines([(app_id, OK.format(ms=20, status=200))] * 10)
    got = queries.app_metrics(platform, actor, "metered", minutes=10)
    web = got["process_types"]["web"]
    assert [p["requests"] for p in web["series"]] == [32, 10]
    assert web["totals"]["requests"] == 42
    assert web["totals"]["counts"] == {"2xx": 40, "4xx": 1, "5xx": 1, "H12": 1}
    assert web["series"][0]["p50_ms"] == pytest.approx(10, rel=0.02)
    # 42 requests: the 99th percentile is the second slowest (the 404), not the H12.
    assert web["totals"]["p99_ms"] == pytest.approx(100, rel=0.02)
    # The ten-minute rollup holds the same requests in one row.
    tens = queries.app_metrics(platform, actor, "metered", minutes=60, resolution="10m")
    assert [p["requests"] for p in tens["process_types"]["web"]["series"]] == [42]


def test_memory_cpu_and_runtime_events(
    platform: Platform, owner: tuple[views.Actor, str], clock: Clock
) -> None:
    actor, app_id = owner
    c = platform.metrics
    c.observe_sample(app_id, "web.1", "web", rss_mb=100, swap_mb=0, quota_mb=512, cpu_seconds=1.0)
    clock.advance(10)
    c.observe_sample(app_id, "web.1", "web", rss_mb=600, swap_mb=20, quota_mb=512, cpu_seconds=4.0)
    c.observe_runtime_line(app_id, "web.1", "Error R14 (Memory quota exceeded)")
    c.observe_runtime_line(app_id, "web.1", "State changed from up to crashed")
    c.observe_runtime_line(app_id, "web.1", "Starting process with command `x`")
    c.observe_eco(app_id, 60)
    got = queries.app_metrics(platform, actor, "metered")
    # Per dyno, as last sampled: 3 CPU seconds in 10 s.
    assert got["dynos"] == [
        {
            "name": "web.1",
            "type": "web",
            "memory_rss_mb": 600,
            "memory_swap_mb": 20,
            "memory_quota_mb": 512,
            "cpu_percent": 30.0,
        }
    ]
    point = got["process_types"]["web"]["series"][0]
    assert point["memory_rss_mb"] == 600
    assert point["memory_swap_mb"] == 20
    assert point["memory_quota_mb"] == 512
    assert point["cpu_seconds"] == 3.0  # the difference between two samples
    assert point["events"] == {"R14": 1, "crashes": 1}
    assert point["eco_seconds"] == 60


def test_rows_past_their_retention_are_pruned(
    platform: Platform, owner: tuple[views.Actor, str], clock: Clock
) -> None:
    _, app_id = owner
    platform.metrics.observe_lines([(app_id, OK.format(ms=5, status=200))])
    platform.metrics.flush()
    clock.advance(25 * 3600)  # minute rows go after a day, ten-minute rows stay a week
    with platform.tx() as tx:
        assert prune(tx) == 1
        kept = {r.resolution for r in tx.session.query(MetricRow)}
    assert kept == {600}
    clock.advance(7 * 24 * 3600)
    with platform.tx() as tx:
        assert prune(tx) == 1


def test_prometheus_text_has_labels_per_app_and_process_type(
    platform: Platform, owner: tuple[views.Actor, str]
) -> None:
    actor, app_id = owner
    platform.metrics.observe_lines([(app_id, OK.format(ms=5, status=200))] * 3 + [(app_id, H12)])
    text = prometheus.exposition(platform, actor).decode()
    # prometheus-client writes the labels in alphabetical order.
    assert (
        'slipway_router_requests_total{app="metered",process_type="web",status="2xx"} 3.0' in text
    )
    assert 'slipway_router_errors_total{app="metered",code="H12",process_type="web"} 1.0' in text
    assert 'slipway_router_service_ms{app="metered",process_type="web",quantile="0.99"}' in text


def test_a_minute_is_floored_in_utc() -> None:
    from slipway.platform.metrics.collector import _floor

    at = dt.datetime(2026, 12, 1, 12, 7, 31, tzinfo=dt.UTC)
    assert _floor(at, 60) == dt.datetime(2026, 12, 1, 12, 7, tzinfo=dt.UTC)
    assert _floor(at, 600) == dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def test_a_failed_write_keeps_its_observations_for_the_next_flush(
    platform: Platform,
    owner: tuple[views.Actor, str],
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    actor, app_id = owner
    collector = platform.metrics
    real = collector._write

    def broken(*_: object) -> None:
        raise RuntimeError("the store is away")

    monkeypatch.setattr(collector, "_write", broken)
    clock.advance(5)
    # Inside the router's report: no exception escapes (the router would resend its lines).
    collector.observe_lines([(app_id, OK.format(ms=5, status=200))] * 4)
    monkeypatch.setattr(collector, "_write", real)
    collector.observe_lines([(app_id, OK.format(ms=5, status=200))])
    got = queries.app_metrics(platform, actor, "metered")
    assert got["process_types"]["web"]["totals"]["requests"] == 5
