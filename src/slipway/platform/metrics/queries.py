"""What `/apps/{app}/metrics`, the dashboard's charts and `slipway metrics` show."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from sqlalchemy import select

from slipway.platform import views
from slipway.platform.apps import find_app_row
from slipway.platform.errors import InvalidParams
from slipway.platform.metrics import sketch
from slipway.platform.metrics.collector import RESOLUTIONS
from slipway.platform.tx import Platform, Tx
from slipway.store.models import MetricRow

NAMED_RESOLUTIONS = {"1m": 60, "10m": 600, "60": 60, "600": 600}
MAX_MINUTES = 7 * 24 * 60


def app_metrics(
    platform: Platform,
    actor: views.Actor,
    app_ident: str,
    *,
    minutes: int = 60,
    resolution: str = "1m",
) -> dict[str, Any]:
    """Per process type, one point per interval over the last `minutes`, and the totals:
    what was measured up to now (the collector is flushed first, in its own transaction)."""
    platform.metrics.flush_quietly()
    with platform.tx() as tx:
        result = _app_metrics(tx, actor, app_ident, minutes=minutes, resolution=resolution)
    # Each dyno as last sampled (the store keeps process types; the page shows dynos too).
    within = 3 * platform.settings.metrics_sample_interval
    result["dynos"] = [
        {
            "name": d.name,
            "type": d.process_type,
            "memory_rss_mb": round(d.rss_mb, 2),
            "memory_swap_mb": round(d.swap_mb, 2),
            "memory_quota_mb": d.quota_mb,
            "cpu_percent": d.cpu_percent,
        }
        for d in platform.metrics.dynos_of(result["app"]["id"], within)
    ]
    return result


def _app_metrics(
    tx: Tx, actor: views.Actor, app_ident: str, *, minutes: int, resolution: str
) -> dict[str, Any]:
    seconds = NAMED_RESOLUTIONS.get(resolution)
    if seconds is None or seconds not in RESOLUTIONS:
        raise InvalidParams(f"resolution {resolution!r} is not known; use 1m or 10m.")
    if not 1 <= minutes <= MAX_MINUTES:
        raise InvalidParams(f"minutes must be between 1 and {MAX_MINUTES}; got {minutes}.")
    app = find_app_row(tx, actor, app_ident)
    since = tx.clock.now() - dt.timedelta(minutes=minutes)
    rows = tx.session.scalars(
        select(MetricRow)
        .where(
            MetricRow.app_id == app.id,
            MetricRow.resolution == seconds,
            MetricRow.start >= since - dt.timedelta(seconds=seconds),
        )
        .order_by(MetricRow.process_type, MetricRow.start)
    ).all()
    by_type: dict[str, list[MetricRow]] = {}
    for row in rows:
        by_type.setdefault(row.process_type, []).append(row)
    result: dict[str, Any] = {
        "app": {"id": app.id, "name": app.name},
        "resolution": seconds,
        "minutes": minutes,
        "process_types": {},
    }
    for ptype, points in by_type.items():
        total = sketch.new()
        counts: Counter[str] = Counter()
        events: Counter[str] = Counter()
        series = []
        for row in points:
            s = sketch.decode(row.sketch)
            if s.count:
                total.merge(s)
            counts.update(row.counts)
            events.update(row.events)
            series.append(
                {
                    "start": row.start.isoformat().replace("+00:00", "Z"),
                    "requests": row.requests,
                    "throughput_rpm": round(row.requests * 60 / seconds, 2),
                    "counts": dict(row.counts),
                    "p50_ms": sketch.quantile(s, 0.50),
                    "p95_ms": sketch.quantile(s, 0.95),
                    "p99_ms": sketch.quantile(s, 0.99),
                    "memory_rss_mb": round(row.memory_rss_mb, 2),
                    "memory_swap_mb": round(row.memory_swap_mb, 2),
                    "memory_quota_mb": row.memory_quota_mb,
                    "cpu_seconds": round(row.cpu_seconds, 3),
                    "cpu_percent": round(100 * row.cpu_seconds / seconds, 2),
                    "events": dict(row.events),
                    "eco_seconds": round(row.eco_seconds, 1),
                }
            )
        result["process_types"][ptype] = {
            "series": series,
            "totals": {
                "requests": sum(r.requests for r in points),
                "counts": dict(counts),
                "p50_ms": sketch.quantile(total, 0.50),
                "p95_ms": sketch.quantile(total, 0.95),
                "p99_ms": sketch.quantile(total, 0.99),
                "events": dict(events),
                "eco_seconds": round(sum(r.eco_seconds for r in points), 1),
            },
        }
    return result
