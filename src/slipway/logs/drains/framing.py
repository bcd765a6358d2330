"""How a log line is framed for a drain: RFC 5424 syslog messages, RFC 6587 octet counted.

Syslog drains put the drain token in the HOSTNAME field and an empty structured
data element; HTTP(S) drains send `host` there and no structured data, as
Logplex does.
"""

from __future__ import annotations

import functools
import re

from slipway.logs.line import LogLine, format_timestamp

# Syslog PRI = facility * 8 + severity. Heroku documents that it uses "local0, local3,
# and local7" for its facilities; what its drains actually send is <190> (local7.info)
# for app lines, <158> (local3.info) for `heroku router` and <134> (local0.info) for
# other platform lines (dyno state changes, api). Logplex's own L10 notice is
# local5.warning, <172> (`logplex_syslog_utils:overflow_msg/2`).
PRI_APP = 190
PRI_ROUTER = 158
PRI_HEROKU = 134
PRI_LOGPLEX = 172


def _pri(line: LogLine) -> int:
    if line.source == "app":
        return PRI_APP
    if line.process == "router":
        return PRI_ROUTER
    if line.process == "logplex":
        return PRI_LOGPLEX
    return PRI_HEROKU


_NOT_PRINTUSASCII = re.compile(r"[^\x21-\x7e]")


@functools.lru_cache(maxsize=4096)
def _field(value: str, limit: int) -> str:
    """An RFC 5424 header field: printable US-ASCII without spaces, at most `limit`, or -."""
    value = _NOT_PRINTUSASCII.sub("_", value)[:limit]
    return value or "-"


def syslog_frame(line: LogLine, token: str) -> bytes:
    """`<len> <PRI>1 <ts> <token> <source> <process> - - <message>` (syslog drains)."""
    msg = (
        f"<{_pri(line)}>1 {format_timestamp(line.timestamp)} {_field(token, 255)} "
        f"{_field(line.source, 48)} {_field(line.process, 128)} - - {line.message}"
    ).encode()
    return b"%d %s" % (len(msg), msg)


def http_frame(line: LogLine) -> bytes:
    """`<len> <PRI>1 <ts> host <source> <process> - <message>` (HTTP(S) drains, no SD)."""
    msg = (
        f"<{_pri(line)}>1 {format_timestamp(line.timestamp)} host "
        f"{_field(line.source, 48)} {_field(line.process, 128)} - {line.message}"
    ).encode()
    return b"%d %s" % (len(msg), msg)
