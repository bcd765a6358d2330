"""The whole platform's metrics in Prometheus' text exposition (`prometheus-client`).

Counters are totals since the server started (what Prometheus expects: `rate()`
does the rest), labelled with the app's name and process type; response times are
a summary whose quantiles come from the merged sketch; memory and CPU are the last
sample's gauges. Only an admin's token reads it (`GET /metrics`).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import select

from slipway.platform import views
from slipway.platform.errors import Forbidden
from slipway.platform.metrics import sketch
from slipway.platform.metrics.collector import Totals
from slipway.platform.tx import Platform
from slipway.store.models import AppRow

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Snapshot(Collector):
    def __init__(self, totals: dict[tuple[str, str], Totals], names: dict[str, str]) -> None:
        self._totals = totals
        self._names = names

    def collect(self) -> Iterator[Metric]:
        labels = ["app", "process_type"]
        requests = CounterMetricFamily(
            "slipway_router_requests", "Requests by status class.", labels=[*labels, "status"]
        )
        errors = CounterMetricFamily(
            "slipway_router_errors", "Requests that ended with an H-code.", labels=[*labels, "code"]
        )
        latency = GaugeMetricFamily(
            "slipway_router_service_ms",
            "Response time (service) quantiles since the start, in milliseconds.",
            labels=[*labels, "quantile"],
        )
        events = CounterMetricFamily(
            "slipway_dyno_events", "R14, R15, restarts and crashes.", labels=[*labels, "event"]
        )
        cpu = CounterMetricFamily("slipway_dyno_cpu_seconds", "CPU time used.", labels=labels)
        rss = GaugeMetricFamily("slipway_dyno_memory_rss_mb", "Resident memory.", labels=labels)
        swap = GaugeMetricFamily("slipway_dyno_memory_swap_mb", "Swap.", labels=labels)
        quota = GaugeMetricFamily("slipway_dyno_memory_quota_mb", "Memory quota.", labels=labels)
        for (app_id, ptype), t in sorted(self._totals.items()):
            name = self._names.get(app_id)
            if name is None:
                continue
            base = [name, ptype]
            for kind, n in sorted(t.counts.items()):
                if kind.startswith("H"):
                    errors.add_metric([*base, kind], n)
                else:
                    requests.add_metric([*base, kind], n)
            for q in (0.5, 0.95, 0.99):
                value = sketch.quantile(t.times, q)
                if value is not None:
                    latency.add_metric([*base, str(q)], value)
            for kind, n in sorted(t.events.items()):
                events.add_metric([*base, kind], n)
            cpu.add_metric(base, t.cpu_seconds)
            if t.quota_mb:
                rss.add_metric(base, t.rss_mb)
                swap.add_metric(base, t.swap_mb)
                quota.add_metric(base, t.quota_mb)
        yield from (requests, errors, latency, events, cpu, rss, swap, quota)


def exposition(platform: Platform, actor: views.Actor) -> bytes:
    if not actor.is_admin:
        raise Forbidden("Only an admin of this Slipway can read the platform's metrics.")
    with platform.metrics.lock():
        totals = dict(platform.metrics.totals)
    with platform.tx() as tx:
        names = {row.id: row.name for row in tx.session.execute(select(AppRow.id, AppRow.name))}
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(totals, names))
    return generate_latest(registry)
