"""Observations gathered in memory, written to the `metrics` table in batches.

Router lines arrive through `router_feed.report` (every router worker's batch, and
HAProxy's), dyno samples from the sampler thread, runtime events (R14, R15,
restarts, crashes) from the app's own `heroku[...]` log lines, eco seconds from the
runtime bridge. Each goes into the slot of its app, process type and minute, and
into the 10-minute slot it belongs to; `flush` merges the slots into their rows
(sketches merged, counts added, memory's highest kept) and prunes rows past their
retention. Totals since the start are kept for Prometheus' counters.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ddsketch import DDSketch
from sqlalchemy import delete, select

from slipway.platform.metrics import routerline, sketch
from slipway.store.models import AppRow, MetricRow

if TYPE_CHECKING:
    from slipway.platform.tx import Platform, Tx

log = logging.getLogger("slipway.metrics")

RESOLUTIONS = (60, 600)
RETENTION = {60: dt.timedelta(hours=24), 600: dt.timedelta(days=7)}
FLUSH_SECONDS = 2.0
PRUNE_SECONDS = 60.0

# The runtime's lines (heroku[web.1]) that count as events.
_EVENTS = (
    (re.compile(r"Error R14 "), "R14"),
    (re.compile(r"Error R15 "), "R15"),
    (re.compile(r"^Restarting$|^Cycling$"), "restarts"),
    (re.compile(r"State changed from \w+ to crashed"), "crashes"),
)


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status < 600 else "other"


@dataclass
class Slot:
    requests: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    times: DDSketch | None = None
    rss_mb: float = 0.0
    swap_mb: float = 0.0
    quota_mb: float = 0.0
    cpu_seconds: float = 0.0
    events: Counter[str] = field(default_factory=Counter)
    eco_seconds: float = 0.0


@dataclass
class Totals:
    """Since the server started, per app and process type: Prometheus' counters."""

    counts: Counter[str] = field(default_factory=Counter)
    times: DDSketch = field(default_factory=sketch.new)
    events: Counter[str] = field(default_factory=Counter)
    cpu_seconds: float = 0.0
    rss_mb: float = 0.0
    swap_mb: float = 0.0
    quota_mb: float = 0.0


@dataclass(frozen=True)
class DynoNow:
    """A dyno's last sample: what the metrics page shows per dyno."""

    name: str
    process_type: str
    rss_mb: float
    swap_mb: float
    quota_mb: float
    cpu_percent: float
    at: float  # the collector clock's monotonic time of the sample


def _floor(when: dt.datetime, seconds: int) -> dt.datetime:
    stamp = int(when.timestamp())
    return dt.datetime.fromtimestamp(stamp - stamp % seconds, dt.UTC)


class MetricsCollector:
    def __init__(self, platform: Platform, *, enabled: bool = True) -> None:
        self._platform = platform
        self.enabled = enabled
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._slots: dict[tuple[str, str, int, dt.datetime], Slot] = {}
        self.totals: dict[tuple[str, str], Totals] = {}
        self._last_flush = 0.0
        self._last_prune = 0.0
        # CPU seconds each dyno had at its last sample, to charge the difference.
        self._cpu_seen: dict[tuple[str, str], tuple[float, float]] = {}
        self.dynos: dict[tuple[str, str], DynoNow] = {}

    # -- observing ---------------------------------------------------------------------

    def _slots_for(self, app_id: str, ptype: str) -> list[Slot]:
        now = self._platform.clock.now()
        found = []
        for resolution in RESOLUTIONS:
            key = (app_id, ptype, resolution, _floor(now, resolution))
            slot = self._slots.get(key)
            if slot is None:
                slot = self._slots[key] = Slot()
            found.append(slot)
        return found

    def _totals(self, app_id: str, ptype: str) -> Totals:
        totals = self.totals.get((app_id, ptype))
        if totals is None:
            totals = self.totals[(app_id, ptype)] = Totals()
        return totals

    def observe_lines(self, lines: list[tuple[str, str]]) -> None:
        """The router's lines of one report: summed per app and process type first, then
        merged into the minute's and the ten minutes' slots and the totals."""
        if not self.enabled:
            return
        batch: dict[tuple[str, str], Slot] = {}
        for app_id, line in lines:
            request = routerline.parse(line)
            if request is None:
                continue
            key = (app_id, request.process_type)
            part = batch.get(key)
            if part is None:
                part = batch[key] = Slot(times=sketch.new())
            part.requests += 1
            part.counts[status_class(request.status)] += 1
            if request.code:
                part.counts[request.code] += 1
            if request.service_ms is not None:
                assert part.times is not None
                part.times.add(request.service_ms)
        with self._lock:
            for (app_id, ptype), part in batch.items():
                assert part.times is not None
                totals = self._totals(app_id, ptype)
                totals.counts.update(part.counts)
                if part.times.count:
                    totals.times.merge(part.times)
                for slot in self._slots_for(app_id, ptype):
                    slot.requests += part.requests
                    slot.counts.update(part.counts)
                    if part.times.count:
                        if slot.times is None:
                            slot.times = sketch.new()
                        slot.times.merge(part.times)
        self.maybe_flush()

    def observe_runtime_line(self, app_id: str, process: str, message: str) -> None:
        """A `heroku[web.1]` line: R14, R15, a restart or a crash is counted."""
        if not self.enabled or "." not in process:
            return
        for pattern, kind in _EVENTS:
            if pattern.search(message):
                ptype = process.split(".", 1)[0]
                with self._lock:
                    self._totals(app_id, ptype).events[kind] += 1
                    for slot in self._slots_for(app_id, ptype):
                        slot.events[kind] += 1
                return

    def observe_sample(
        self,
        app_id: str,
        dyno: str,
        ptype: str,
        *,
        rss_mb: float,
        swap_mb: float,
        quota_mb: float,
        cpu_seconds: float,
    ) -> None:
        if not self.enabled:
            return
        now = self._platform.clock.monotonic()
        with self._lock:
            seen = self._cpu_seen.get((app_id, dyno))
            self._cpu_seen[(app_id, dyno)] = (cpu_seconds, now)
            used = max(0.0, cpu_seconds - seen[0]) if seen is not None else 0.0
            elapsed = now - seen[1] if seen is not None else 0.0
            percent = round(100 * used / elapsed, 1) if elapsed > 0 else 0.0
            self.dynos[(app_id, dyno)] = DynoNow(
                dyno, ptype, rss_mb, swap_mb, quota_mb, percent, now
            )
            totals = self._totals(app_id, ptype)
            totals.cpu_seconds += used
            totals.rss_mb, totals.swap_mb, totals.quota_mb = rss_mb, swap_mb, quota_mb
            for slot in self._slots_for(app_id, ptype):
                slot.rss_mb = max(slot.rss_mb, rss_mb)
                slot.swap_mb = max(slot.swap_mb, swap_mb)
                slot.quota_mb = max(slot.quota_mb, quota_mb)
                slot.cpu_seconds += used

    def observe_eco(self, app_id: str, seconds: float) -> None:
        if not self.enabled:
            return
        with self._lock:
            for slot in self._slots_for(app_id, "web"):
                slot.eco_seconds += seconds

    # -- writing -----------------------------------------------------------------------

    def maybe_flush(self) -> None:
        """Flush when the last one is FLUSH_SECONDS old. Never raises: it runs inside the
        router's report, whose failure would make the router send its lines again (twice
        in the logs); what could not be written waits for the next flush."""
        if self._platform.clock.monotonic() - self._last_flush < FLUSH_SECONDS:
            return
        self.flush_quietly()

    def flush_quietly(self) -> None:
        """`flush`, logging a failure instead of raising it (readers show what is stored)."""
        try:
            self.flush()
        except Exception:
            log.warning("writing metrics failed; they wait for the next flush", exc_info=True)

    def flush(self) -> None:
        """Merge what was observed into the store's rows (and prune old rows, each minute)."""
        with self._flush_lock:
            with self._lock:
                slots, self._slots = self._slots, {}
            self._last_flush = self._platform.clock.monotonic()
            if not slots and self._last_flush - self._last_prune < PRUNE_SECONDS:
                return
            try:
                with self._platform.tx() as tx:
                    self._write(tx, slots)
                    if self._last_flush - self._last_prune >= PRUNE_SECONDS:
                        self._last_prune = self._last_flush
                        prune(tx)
            except Exception:
                self._put_back(slots)
                raise

    def _put_back(self, slots: dict[tuple[str, str, int, dt.datetime], Slot]) -> None:
        """A write that failed: its observations wait for the next flush, merged."""
        with self._lock:
            for key, old in slots.items():
                slot = self._slots.setdefault(key, Slot())
                slot.requests += old.requests
                slot.counts.update(old.counts)
                if old.times is not None:
                    if slot.times is None:
                        slot.times = sketch.new()
                    slot.times.merge(old.times)
                slot.rss_mb = max(slot.rss_mb, old.rss_mb)
                slot.swap_mb = max(slot.swap_mb, old.swap_mb)
                slot.quota_mb = max(slot.quota_mb, old.quota_mb)
                slot.cpu_seconds += old.cpu_seconds
                slot.events.update(old.events)
                slot.eco_seconds += old.eco_seconds

    def _write(self, tx: Tx, slots: dict[tuple[str, str, int, dt.datetime], Slot]) -> None:
        if not slots:
            return
        app_ids = {key[0] for key in slots}
        alive = set(tx.session.scalars(select(AppRow.id).where(AppRow.id.in_(app_ids))))
        for (app_id, ptype, resolution, start), slot in slots.items():
            if app_id not in alive:
                continue
            row = tx.session.scalar(
                select(MetricRow).where(
                    MetricRow.app_id == app_id,
                    MetricRow.process_type == ptype,
                    MetricRow.resolution == resolution,
                    MetricRow.start == start,
                )
            )
            if row is None:
                row = MetricRow(
                    id=str(uuid.uuid4()),
                    app_id=app_id,
                    process_type=ptype,
                    resolution=resolution,
                    start=start,
                    requests=0,
                    counts={},
                    sketch={},
                    memory_rss_mb=0.0,
                    memory_swap_mb=0.0,
                    memory_quota_mb=0.0,
                    cpu_seconds=0.0,
                    events={},
                    eco_seconds=0.0,
                )
                tx.session.add(row)
            row.requests += slot.requests
            row.counts = dict(Counter(row.counts) + slot.counts)
            if slot.times is not None:
                merged = sketch.decode(row.sketch)
                merged.merge(slot.times)
                row.sketch = sketch.encode(merged)
            row.memory_rss_mb = max(row.memory_rss_mb, slot.rss_mb)
            row.memory_swap_mb = max(row.memory_swap_mb, slot.swap_mb)
            row.memory_quota_mb = max(row.memory_quota_mb, slot.quota_mb)
            row.cpu_seconds += slot.cpu_seconds
            row.events = dict(Counter(row.events) + slot.events)
            row.eco_seconds += slot.eco_seconds
        tx.session.flush()

    def dynos_of(self, app_id: str, within: float) -> list[DynoNow]:
        """The app's dynos sampled in the last `within` seconds, by name."""
        now = self._platform.clock.monotonic()
        with self._lock:
            found = [d for (a, _), d in self.dynos.items() if a == app_id and now - d.at <= within]
        return sorted(found, key=lambda d: d.name)

    def lock(self) -> threading.Lock:
        """Held while observing: a reader of `totals` takes it for a consistent copy."""
        return self._lock

    def forget_app(self, app_id: str) -> None:
        with self._lock:
            self.totals = {k: v for k, v in self.totals.items() if k[0] != app_id}
            self.dynos = {k: v for k, v in self.dynos.items() if k[0] != app_id}
            self._slots = {k: v for k, v in self._slots.items() if k[0] != app_id}


def prune(tx: Tx) -> int:
    """Remove rows past their retention: 60 s rows after 24 hours, 600 s rows after 7 days."""
    now = tx.clock.now()
    removed = 0
    for resolution, keep in RETENTION.items():
        result = tx.session.execute(
            delete(MetricRow).where(
                MetricRow.resolution == resolution, MetricRow.start < now - keep
            )
        )
        removed += int(getattr(result, "rowcount", 0) or 0)
    return removed
