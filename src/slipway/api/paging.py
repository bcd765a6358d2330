"""Turn a list into a (possibly partial) Range-paged JSON response."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse

from slipway.api.ranges import paginate, parse_range

T = TypeVar("T")


def paged_response(
    request: Request,
    items: Sequence[T],
    fields: Sequence[str],
    key: Callable[[T, str], Any],
    render: Callable[[T], dict[str, Any]],
) -> JSONResponse:
    spec = parse_range(request.headers.get("range"), fields)
    page = paginate(items, spec, key)
    headers = {"Accept-Ranges": ", ".join(fields)}
    if page.content_range:
        headers["Content-Range"] = page.content_range
    status = 200
    if page.next_range:
        headers["Next-Range"] = page.next_range
        status = 206
    return JSONResponse([render(it) for it in page.items], status_code=status, headers=headers)
