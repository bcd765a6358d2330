"""Heroku's `Range` paging (pure).

Requests carry `Range: <field> [[]start]..[end][; max=N][, order=desc]`; the
official CLI sends forms like `version ..; max=15, order=desc`,
`version ..; order=desc,max=1`, `id ..; max=1000;` and an empty header.
A page that leaves items out is answered 206 with `Next-Range`; a 206 is
never sent without one, or the CLI would loop forever.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

T = TypeVar("T")

DEFAULT_MAX = 200
MAX_MAX = 1000

_RANGE_RE = re.compile(r"^\s*(?P<field>[a-z_]+)\s*(?P<span>\S*)\s*$")


class RangeError(ValueError):
    """The Range header cannot be understood; the message says why."""


@dataclass(frozen=True)
class RangeSpec:
    field: str
    start: str | None = None
    start_exclusive: bool = False
    end: str | None = None
    max: int = DEFAULT_MAX
    order: Literal["asc", "desc"] = "asc"

    def header(self, start: str | None, exclusive: bool = False, end: str | None = None) -> str:
        bracket = "]" if exclusive else ""
        span = f"{bracket}{start or ''}..{end or ''}"
        order = ", order=desc" if self.order == "desc" else ""
        return f"{self.field} {span}; max={self.max}{order}"


def parse_range(header: str | None, fields: Sequence[str]) -> RangeSpec:
    """Parse a Range header. `fields[0]` is the default sort field."""
    if header is None or not header.strip():
        return RangeSpec(field=fields[0])
    head, _, options = header.partition(";")
    match = _RANGE_RE.match(head)
    if not match:
        raise RangeError(f"Range {header!r} is not of the form 'FIELD START..END; max=N'.")
    field = match["field"]
    if field not in fields:
        raise RangeError(f"Range field {field!r} is not supported here; use {', '.join(fields)}.")
    start = end = None
    exclusive = False
    span = match["span"]
    if span:
        if ".." not in span:
            raise RangeError(f"Range {header!r} has no '..' between its start and end.")
        start_text, _, end_text = span.partition("..")
        if start_text.startswith("]"):
            exclusive = True
            start_text = start_text[1:]
        start = start_text or None
        end = end_text or None
    max_n = DEFAULT_MAX
    order: Literal["asc", "desc"] = "asc"
    for option in re.split(r"[;,]", options):
        option = option.strip()
        if not option:
            continue
        key, _, value = option.partition("=")
        key, value = key.strip(), value.strip()
        if key == "max":
            if not value.isdigit() or int(value) < 1:
                raise RangeError(f"Range max {value!r} must be a whole number of at least 1.")
            max_n = min(int(value), MAX_MAX)
        elif key == "order":
            if value not in ("asc", "desc"):
                raise RangeError(f"Range order {value!r} must be asc or desc.")
            order = "desc" if value == "desc" else "asc"
        else:
            raise RangeError(f"Range option {key!r} is not supported; use max and order.")
    return RangeSpec(field, start, exclusive, end, max_n, order)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    content_range: str | None
    next_range: str | None


def paginate(items: Sequence[T], spec: RangeSpec, key: Callable[[T, str], Any]) -> Page[T]:
    """Sort by the range field, cut at start/end, and return at most `max` items."""
    ordered = sorted(items, key=lambda it: key(it, spec.field), reverse=spec.order == "desc")

    def coerce(value: str, sample: Any) -> Any:
        if isinstance(sample, int):
            try:
                return int(value)
            except ValueError as exc:
                raise RangeError(f"Range bound {value!r} must be a number.") from exc
        return value

    def after_start(it: T) -> bool:
        if spec.start is None:
            return True
        k = key(it, spec.field)
        bound = coerce(spec.start, k)
        if spec.order == "desc":
            return bool(k < bound) if spec.start_exclusive else bool(k <= bound)
        return bool(k > bound) if spec.start_exclusive else bool(k >= bound)

    def before_end(it: T) -> bool:
        if spec.end is None:
            return True
        k = key(it, spec.field)
        bound = coerce(spec.end, k)
        return bool(k >= bound) if spec.order == "desc" else bool(k <= bound)

    selected = [it for it in ordered if after_start(it) and before_end(it)]
    page = selected[: spec.max]
    if not page:
        return Page(page, None, None)
    first, last = str(key(page[0], spec.field)), str(key(page[-1], spec.field))
    content_range = spec.header(first, end=last)
    next_range = spec.header(last, exclusive=True) if len(selected) > len(page) else None
    return Page(page, content_range, next_range)
