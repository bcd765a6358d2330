"""Talking to the router as a browser on the real domain would: TLS with SNI, verified
against Pebble's root, to 127.0.0.1 (the test DNS answers every name with it)."""

from __future__ import annotations

import hashlib
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass


def served_fingerprint(port: int, name: str, roots: str, host: str = "127.0.0.1") -> str:
    """The sha256 of the certificate the router serves for `name` (verified)."""
    ctx = ssl.create_default_context(cadata=roots)
    with (
        socket.create_connection((host, port), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname=name) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
        assert der is not None
        return hashlib.sha256(der).hexdigest()


def https_get(
    port: int,
    name: str,
    path: str,
    roots: str,
    headers: dict[str, str] | None = None,
    host: str = "127.0.0.1",
) -> tuple[int, dict[str, str], bytes]:
    ctx = ssl.create_default_context(cadata=roots)
    with (
        socket.create_connection((host, port), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname=name) as tls,
    ):
        return _exchange(tls, name, path, headers)


def http_get(
    port: int,
    name: str,
    path: str,
    headers: dict[str, str] | None = None,
    host: str = "127.0.0.1",
) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection((host, port), timeout=10) as raw:
        return _exchange(raw, name, path, headers)


def _exchange(
    sock: socket.socket, name: str, path: str, headers: dict[str, str] | None
) -> tuple[int, dict[str, str], bytes]:
    lines = [f"GET {path} HTTP/1.1", f"Host: {name}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    found = {}
    for line in header_lines:
        key, _, value = line.partition(":")
        found[key.strip().lower()] = value.strip()
    return int(status_line.split()[1]), found, body


def eventually(check: Callable[[], object], timeout: float, what: str) -> object:
    """Retry `check` until it returns something truthy without raising."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
            last = result
        except (OSError, ssl.SSLError, AssertionError) as exc:
            last = exc
        time.sleep(0.3)
    raise AssertionError(f"{what} within {timeout}s (last: {last!r})")


@dataclass(frozen=True)
class Front:
    """The router's public ports at one address, and the roots that verify its certificates."""

    address: str
    http_port: int
    https_port: int
    roots: str

    def fingerprint(self, name: str) -> str:
        return served_fingerprint(self.https_port, name, self.roots, self.address)

    def get(
        self, name: str, path: str, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        return https_get(self.https_port, name, path, self.roots, headers, self.address)

    def plain_get(self, name: str, path: str) -> tuple[int, dict[str, str], bytes]:
        return http_get(self.http_port, name, path, None, self.address)
