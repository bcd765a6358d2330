"""Heroku's router line, parsed back (the format router/logline.py writes, and HAProxy's).

at=info method=GET path="/" host=a.localhost request_id=r fwd="1.2.3.4" dyno=web.1
    connect=0ms service=3ms status=200 bytes=12 protocol=http
at=error code=H12 desc="Request timeout" method=GET ... dyno=web.1 ... status=503 ...
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FIELD = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')


@dataclass(frozen=True, slots=True)
class RouterRequest:
    status: int
    code: str | None  # the H-code, if any
    process_type: str  # "web" (the dyno's type), or "router" when no dyno was involved
    service_ms: float | None


def parse(line: str) -> RouterRequest | None:
    """The measurements of one router line; None for a line that is not one."""
    fields = {m.group(1): m.group(2) for m in _FIELD.finditer(line)}
    status = fields.get("status", "")
    if not status.isdigit():
        return None
    dyno = fields.get("dyno", "")
    ptype = dyno.split(".", 1)[0] if dyno else "router"
    service = fields.get("service", "")
    service_ms = float(service[:-2]) if service.endswith("ms") and service[:-2].isdigit() else None
    code = fields.get("code") or None
    return RouterRequest(int(status), code, ptype or "router", service_ms)
