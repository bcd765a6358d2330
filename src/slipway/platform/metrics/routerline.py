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
    """The measurements of one router line; None for a line that is not one.

    The line ends with fields no client controls (`dyno= connect= service= status=
    bytes= protocol=`, after the quoted `fwd`), so they are read from the last `dyno=`
    on; the code is in the head, before `method=`. Anything else takes the slow path."""
    at = line.rfind(" dyno=")
    start = line.find(" method=")
    if at < 0 or start < 0:
        return _parse_slowly(line)
    tail = dict(field.partition("=")[::2] for field in line[at + 1 :].split(" "))
    status = tail.get("status", "")
    if not status.isdigit():
        return _parse_slowly(line)
    code = None
    head = line[:start]
    found = head.find("code=")
    if found >= 0:
        code = head[found + 5 :].split(" ", 1)[0] or None
    dyno = tail.get("dyno", "")
    service = tail.get("service", "")
    digits = service[:-2]
    return RouterRequest(
        int(status),
        code,
        dyno.split(".", 1)[0] if dyno else "router",
        float(digits) if service.endswith("ms") and digits.isdigit() else None,
    )


def _parse_slowly(line: str) -> RouterRequest | None:
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
