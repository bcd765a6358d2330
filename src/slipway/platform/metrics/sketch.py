"""Response times in a DDSketch (the `ddsketch` package, Datadog's reference implementation).

A sketch answers any quantile within 1 % of the true value and merges exactly:
the sketches of a minute's router reports, of ten minutes, of every worker, add
up to the sketch of all their requests. Stored as JSON: the bins' counts by key.
"""

from __future__ import annotations

from typing import Any

from ddsketch import DDSketch

RELATIVE_ACCURACY = 0.01


def new() -> DDSketch:
    return DDSketch(RELATIVE_ACCURACY)


def encode(sketch: DDSketch) -> dict[str, Any]:
    store = sketch._store  # the positive bins: response times are never negative
    bins = {str(store.offset + i): c for i, c in enumerate(store.bins) if c}
    return {
        "bins": bins,
        "zero": sketch._zero_count,
        "count": sketch.count,
        "sum": sketch.sum,
        "min": sketch._min if sketch.count else None,
        "max": sketch._max if sketch.count else None,
    }


def decode(data: dict[str, Any] | None) -> DDSketch:
    sketch = new()
    if not data:
        return sketch
    for key, count in (data.get("bins") or {}).items():
        sketch._store.add(int(key), float(count))
    sketch._zero_count = float(data.get("zero") or 0.0)
    sketch._count = float(data.get("count") or 0.0)
    sketch._sum = float(data.get("sum") or 0.0)
    if data.get("min") is not None:
        sketch._min = float(data["min"])
    if data.get("max") is not None:
        sketch._max = float(data["max"])
    return sketch


def quantile(sketch: DDSketch, q: float) -> float | None:
    if not sketch.count:
        return None
    value = sketch.get_quantile_value(q)
    return None if value is None else round(float(value), 2)
