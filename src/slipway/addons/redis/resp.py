"""A minimal RESP2 client (stdlib only): what the provider needs to manage its redis-servers.

Apps use their own client; the provider only authenticates, pings, reads INFO,
changes ACL passwords and shuts servers down.
"""

from __future__ import annotations

import socket
from types import TracebackType
from typing import Union

RespValue = Union[bytes, str, int, None, list["RespValue"]]  # noqa: UP007 (recursive alias)


class RespError(Exception):
    """An error reply (-ERR ..., -WRONGPASS ...) from the server."""


class RespConnectionClosed(ConnectionError):
    """The server closed the connection (e.g. after SHUTDOWN)."""


class RespClient:
    def __init__(self, host: str, port: int, *, timeout: float = 5.0) -> None:
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._reader = self._sock.makefile("rb")

    @classmethod
    def over(cls, sock: socket.socket) -> RespClient:
        """A client on a socket that is already connected (e.g. wrapped in TLS)."""
        client = cls.__new__(cls)
        client._sock = sock
        client._reader = sock.makefile("rb")
        return client

    def __enter__(self) -> RespClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._reader.close()
        self._sock.close()

    def auth(self, password: str, username: str | None = None) -> None:
        if username is None:
            self.call("AUTH", password)
        else:
            self.call("AUTH", username, password)

    def call(self, *args: str | bytes | int) -> RespValue:
        parts = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        out = [b"*%d\r\n" % len(parts)]
        for part in parts:
            out.append(b"$%d\r\n%s\r\n" % (len(part), part))
        self._sock.sendall(b"".join(out))
        return self._read()

    def _line(self) -> bytes:
        line = self._reader.readline()
        if not line.endswith(b"\r\n"):
            raise RespConnectionClosed("the server closed the connection")
        return line[:-2]

    def _read(self) -> RespValue:
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RespError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            length = int(rest)
            if length < 0:
                return None
            data = self._reader.read(length + 2)
            if len(data) != length + 2:
                raise RespConnectionClosed("the server closed the connection")
            return data[:-2]
        if kind == b"*":
            count = int(rest)
            if count < 0:
                return None
            return [self._read() for _ in range(count)]
        raise RespError(f"unexpected reply {line[:40]!r}")


def parse_info(raw: RespValue) -> dict[str, str]:
    """INFO's `key:value` lines as a dict."""
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    info: dict[str, str] = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            key, _, value = line.partition(":")
            info[key] = value
    return info
