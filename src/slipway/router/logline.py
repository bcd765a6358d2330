"""Heroku's router log line, byte for byte (behavior.md §2.5), and the H-code table.

    at=info method=GET path="/" host=myapp.localhost request_id=... fwd="127.0.0.1"
        dyno=web.1 connect=0ms service=3ms status=200 bytes=123 protocol=http

Error lines add `code=` and `desc=` after `at=`, some put `sock=` first and H26 adds
`cause=`. When no dyno was involved the dyno fields are present but empty. Users
grep and parse these lines, so field order and quoting are part of the interface.
"""

from __future__ import annotations

from dataclasses import dataclass

# What a request leaves behind for its line, unformatted: formatting happens in
# batches off the request path (control.ReportQueue.take). In order: method, path,
# host, request id, X-Forwarded-For as received (or None), client ip, dyno (None:
# no dyno involved), connect ms, service ms, status, bytes, protocol, code, sock,
# cause.
LineFields = tuple[
    bytes,
    bytes,
    str,
    str,
    bytes | None,
    str,
    str | None,
    int,
    int,
    int,
    int,
    str,
    str | None,
    str | None,
    str | None,
]


@dataclass(frozen=True, slots=True)
class Code:
    desc: str
    status: int
    level: str  # the `at=` word


# Titles and statuses from Heroku's error-codes article (behavior.md §2.6).
CODES: dict[str, Code] = {
    "H10": Code("App crashed", 503, "error"),
    "H11": Code("Backlog too deep", 503, "error"),
    "H12": Code("Request timeout", 503, "error"),
    "H13": Code("Connection closed without response", 503, "error"),
    "H14": Code("No web processes running", 503, "error"),
    "H15": Code("Idle connection", 503, "error"),
    "H17": Code("Poorly formatted HTTP response", 503, "error"),
    "H18": Code("Server Request Interrupted", 503, "error"),
    "H19": Code("Backend connection timeout", 503, "error"),
    "H20": Code("App boot timeout", 503, "error"),
    "H21": Code("Backend connection refused", 503, "error"),
    "H25": Code("HTTP Restriction", 502, "error"),
    "H26": Code("Request Error", 400, "error"),
    "H27": Code("Client Request Interrupted", 499, "warning"),
    "H28": Code("Client Connection Idle", 499, "warning"),
    "H80": Code("Maintenance mode", 503, "info"),
    "H81": Code("Blank app", 503, "info"),
    "H82": Code("Free dyno quota exhausted", 503, "info"),
    "H99": Code("Platform error", 503, "error"),
}


def quote_value(text: str) -> str:
    """Escape a value that goes between double quotes, so a line always parses back."""
    if '"' in text or "\\" in text:
        return text.replace("\\", "\\\\").replace('"', '\\"')
    return text


def format_line(
    method: str,
    path: str,
    host: str,
    request_id: str,
    fwd: str,
    dyno: str | None,
    connect_ms: int,
    service_ms: int,
    status: int,
    nbytes: int,
    protocol: str,
    *,
    code: str | None = None,
    sock: str | None = None,
    cause: str | None = None,
) -> str:
    """One router line. `dyno=None` means no dyno was involved: empty dyno fields.

    Called once per request, so the common fields are positional (cheaper to pass).
    """
    if '"' in path or "\\" in path:
        path = quote_value(path)
    if '"' in fwd or "\\" in fwd:
        fwd = quote_value(fwd)
    if dyno is None:
        tail = f"dyno= connect= service= status={status} bytes= protocol={protocol}"
    else:
        tail = (
            f"dyno={dyno} connect={connect_ms}ms service={service_ms}ms "
            f"status={status} bytes={nbytes} protocol={protocol}"
        )
    request = (
        f'method={method} path="{path}" host={host} request_id={request_id} fwd="{fwd}" {tail}'
    )
    if code is None:
        return f"at=info {request}"
    info = CODES[code]
    head = f'at={info.level} code={code} desc="{info.desc}"'
    if cause is not None:
        head = f'{head} cause="{quote_value(cause)}"'
    if sock is not None:
        head = f"sock={sock} {head}"
    return f"{head} {request}"


def line_from(fields: LineFields) -> str:
    """Format the fields an exchange recorded (see LineFields)."""
    (method, path, host, rid, xff, ip, dyno, connect, service, status, nbytes, protocol,
     code, sock, cause) = fields  # fmt: skip
    fwd = ip if xff is None else f"{xff.decode('latin-1')}, {ip}"
    return format_line(
        method.decode("latin-1"),
        path.decode("latin-1"),
        host,
        rid,
        fwd,
        dyno,
        connect,
        service,
        status,
        nbytes,
        protocol,
        code=code,
        sock=sock,
        cause=cause,
    )
