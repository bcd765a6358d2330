"""What the dyno and the client see: request and response heads, rewritten.

The router re-frames every message (it never forwards raw framing headers), so
hop-by-hop headers are dropped on both sides, and the request gains Heroku's
X-Forwarded-*, X-Request-Start, X-Request-Id and Via (behavior.md §2.4). Everything
here is pure: bytes in, bytes out, no I/O; `client.py`, `exchange.py` and `backend.py` call it.
"""

from __future__ import annotations

import itertools
import os
import random
import re

VIA = b"1.1 vegur"

# What on_header does with a request header, by lowercased name.
_HOST, _XFF, _DROP, _RID, _VIA, _CL, _TE, _CONN, _UPGRADE, _EXPECT = range(1, 11)
_REQUEST_SPECIAL = {
    b"host": _HOST,
    b"x-forwarded-for": _XFF,
    # The router states these itself; a client's own value would be a lie.
    b"x-forwarded-proto": _DROP,
    b"x-forwarded-port": _DROP,
    b"x-request-start": _DROP,
    # Hop-by-hop (RFC 9110 §7.6.1): they describe the client's connection, not the dyno's.
    b"keep-alive": _DROP,
    b"te": _DROP,
    b"trailer": _DROP,
    b"x-request-id": _RID,
    b"via": _VIA,
    b"content-length": _CL,
    b"transfer-encoding": _TE,
    b"connection": _CONN,
    b"upgrade": _UPGRADE,
    b"expect": _EXPECT,
}
# Response headers the router does not pass through as they are: hop-by-hop ones,
# plus those it rewrites (Via) or needs for framing (Content-Length).
_RESPONSE_SPECIAL = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"via",
        b"content-length",
    }
)
# Connection options that name no header.
_PLAIN_OPTIONS = frozenset({b"close", b"keep-alive", b"upgrade"})
_REQUEST_ID = re.compile(rb"[A-Za-z0-9+/=-]{20,200}")

# How the response body travels to the client.
FRAME_NONE = 0  # no body (HEAD, 1xx, 204, 304)
FRAME_LENGTH = 1  # Content-Length, passed on
FRAME_CHUNKED = 2  # re-chunked by the router
FRAME_CLOSE = 3  # until the router closes the connection (HTTP/1.0 clients)


# Request ids have the shape of a random UUID (version 4, RFC 4122 variant): a random
# per-process prefix and a 48-bit counter starting at a random point. str(uuid4())
# costs more than the rest of routing a request; ids must be unique, not unguessable.
def _id_prefix() -> str:
    rand = os.urandom(10).hex()
    return f"{rand[:8]}-{rand[8:12]}-4{rand[12:15]}-{'89ab'[int(rand[15], 16) & 3]}{rand[16:19]}-"


_ID_PREFIX = ""
_ID_COUNTER = itertools.count()


def _new_id_space() -> None:
    global _ID_PREFIX, _ID_COUNTER
    _ID_PREFIX = _id_prefix()
    _ID_COUNTER = itertools.count(random.getrandbits(47))


_new_id_space()
# `--workers N` forks: each worker needs a prefix of its own, or two workers hand out
# the same ids (the counter starts at the same point in each).
os.register_at_fork(after_in_child=_new_id_space)


def new_request_id() -> str:
    return "%s%012x" % (_ID_PREFIX, next(_ID_COUNTER) & 0xFFFF_FFFF_FFFF)  # noqa: UP031


def request_id_for(candidate: bytes | None) -> str:
    """Keep a client's X-Request-Id when Heroku would (20-200 of [A-Za-z0-9+/=-])."""
    if candidate is not None and _REQUEST_ID.fullmatch(candidate):
        return candidate.decode("ascii")
    return new_request_id()


def _options(value: bytes) -> set[bytes]:
    return {token.strip().lower() for token in value.split(b",") if token.strip()}


class RequestHead:
    """One request head as the parser delivers it, sorted into what the router needs.

    Limits are checked by the caller (client.py), which knows the config. Fields a
    request usually lacks are class-level defaults, so a new head costs two stores.
    """

    url = b""
    count = 0
    host: bytes | None = None
    host_count = 0
    xff: bytes | None = None
    request_id: bytes | None = None
    via: bytes | None = None
    content_length: bytes | None = None
    transfer_encoding: bytes | None = None
    connection: bytes | None = None
    upgrade: bytes | None = None
    expect: bytes | None = None

    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []

    def add(self, name: bytes, value: bytes) -> None:
        self.count += 1
        lname = name.lower()
        kind = _REQUEST_SPECIAL.get(lname)
        if kind is None:
            if not lname.startswith(b"proxy-"):
                self.headers.append((name, value))
        elif kind == _HOST:
            self.host = value
            self.host_count += 1
        elif kind == _XFF:
            self.xff = value if self.xff is None else self.xff + b", " + value
        elif kind == _RID:
            self.request_id = value
        elif kind == _VIA:
            self.via = value if self.via is None else self.via + b", " + value
        elif kind == _CL:
            self.content_length = value
        elif kind == _TE:
            self.transfer_encoding = value
        elif kind == _CONN:
            self.connection = value if self.connection is None else self.connection + b"," + value
        elif kind == _UPGRADE:
            self.upgrade = value
        elif kind == _EXPECT:
            self.expect = value.strip().lower()

    def forwarded_for(self, client_ip: bytes) -> bytes:
        return client_ip if self.xff is None else self.xff + b", " + client_ip

    def to_dyno(
        self,
        method: bytes,
        client_ip: bytes,
        listener_headers: bytes,
        start_ms: int,
        request_id: str,
        *,
        chunked: bool,
        upgrade: bool,
    ) -> bytes:
        """The request head sent to the dyno, always HTTP/1.1 and keep-alive."""
        headers = self.headers
        if self.connection is not None:
            named = _options(self.connection) - _PLAIN_OPTIONS
            if named:
                headers = [(n, v) for n, v in headers if n.lower() not in named]
        parts = [method, b" ", self.url, b" HTTP/1.1\r\n"]
        if self.host is not None:
            parts += (b"Host: ", self.host, b"\r\n")
        for name, value in headers:
            parts += (name, b": ", value, b"\r\n")
        if chunked:
            # Chunked wins over Content-Length (behavior.md §2.3); the body is re-chunked.
            parts += (b"Transfer-Encoding: ", self.transfer_encoding or b"chunked", b"\r\n")
        elif self.content_length is not None:
            parts += (b"Content-Length: ", self.content_length, b"\r\n")
        if upgrade and self.upgrade is not None:
            parts += (b"Connection: Upgrade\r\nUpgrade: ", self.upgrade, b"\r\n")
        via = VIA if self.via is None else self.via + b", " + VIA
        parts += (
            b"X-Forwarded-For: ",
            self.forwarded_for(client_ip),
            b"\r\n",
            listener_headers,
            b"X-Request-Start: %d\r\nX-Request-Id: %s\r\nVia: %s\r\n\r\n"
            % (start_ms, request_id.encode(), via),
        )
        return b"".join(parts)


def listener_headers(proto: str, port: int) -> bytes:
    """The headers that only depend on the listener, computed once per listener."""
    return b"X-Forwarded-Proto: %s\r\nX-Forwarded-Port: %d\r\n" % (proto.encode(), port)


def to_client(
    status: int,
    reason: bytes,
    headers: list[tuple[bytes, bytes]],
    *,
    has_body: bool,
    http10: bool,
    keep_alive: bool,
    drop: frozenset[bytes] = frozenset(),
) -> tuple[bytes, int, bool, bool]:
    """The response head for the client: (head, body framing, close after, delimited).

    `has_body` is false for HEAD requests and bodiless statuses. A body of unknown
    length is chunked to HTTP/1.1 clients and delimited by closing the connection
    for HTTP/1.0 ones; `delimited` says the dyno ends that body by closing.
    """
    parts = [b"HTTP/1.1 %d %s\r\n" % (status, reason)]
    via: bytes | None = None
    upgrade = status == 101
    named: set[bytes] | None = None
    length_known = chunked = False
    for name, value in headers:
        lname = name.lower()
        if lname in _RESPONSE_SPECIAL:
            if lname == b"content-length":
                length_known = True
                if b"content-length" not in drop:
                    parts += (name, b": ", value, b"\r\n")
            elif lname == b"transfer-encoding":
                chunked = chunked or b"chunked" in value.lower()
            elif lname == b"connection":
                named = (named or set()) | (_options(value) - _PLAIN_OPTIONS)
            elif lname == b"via":
                via = value if via is None else via + b", " + value
            elif lname == b"upgrade" and upgrade:
                parts += (b"Upgrade: ", value, b"\r\n")
            continue
        if drop and lname in drop:
            continue
        parts += (name, b": ", value, b"\r\n")
    redo = set(named) - drop if named else set()
    if chunked and length_known and b"content-length" not in drop:
        redo.add(b"content-length")  # chunked wins; the client gets the router's framing
    if redo:
        # Rare: headers to leave out only became known further down. Build again.
        return to_client(
            status,
            reason,
            headers,
            has_body=has_body,
            http10=http10,
            keep_alive=keep_alive,
            drop=drop | redo,
        )
    delimited = has_body and not length_known and not chunked
    if upgrade:
        framing, close = FRAME_NONE, False
        parts.append(b"Connection: Upgrade\r\n")
    else:
        if not has_body:
            framing = FRAME_NONE
        elif length_known and not chunked:
            framing = FRAME_LENGTH
        elif http10:
            framing = FRAME_CLOSE
        else:
            framing = FRAME_CHUNKED
            parts.append(b"Transfer-Encoding: chunked\r\n")
        close = not keep_alive or framing == FRAME_CLOSE
        if close:
            parts.append(b"Connection: close\r\n")
        elif http10:
            parts.append(b"Connection: keep-alive\r\n")
    parts += (b"Via: ", VIA if via is None else via + b", " + VIA, b"\r\n\r\n")
    return b"".join(parts), framing, close, delimited
