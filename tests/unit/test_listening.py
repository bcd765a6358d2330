"""Which ports a namespace listens on, and on which addresses: this process's own table."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Iterator

import pytest

from slipway.runtime.network.listening import (
    listening_ports,
    loopback_only_ports,
    parse_address,
)


def test_addresses_as_the_kernel_prints_them() -> None:
    assert parse_address("0100007F") == ipaddress.ip_address("127.0.0.1")
    assert parse_address("00000000") == ipaddress.ip_address("0.0.0.0")  # noqa: S104
    assert parse_address("00000000000000000000000001000000") == ipaddress.ip_address("::1")
    assert parse_address("0000000000000000FFFF00000100007F") == ipaddress.ip_address(
        "::ffff:127.0.0.1"
    )


@pytest.fixture
def sockets() -> Iterator[dict[str, int]]:
    made: list[socket.socket] = []

    def listen(family: socket.AddressFamily, host: str) -> int:
        sock = socket.socket(family)
        made.append(sock)
        sock.bind((host, 0))
        sock.listen()
        port: int = sock.getsockname()[1]
        return port

    ports = {
        "loopback": listen(socket.AF_INET, "127.0.0.1"),
        "everywhere": listen(socket.AF_INET, "0.0.0.0"),  # noqa: S104
    }
    if socket.has_ipv6:
        with contextlib.suppress(OSError):  # a machine without IPv6 loopback
            ports["loopback6"] = listen(socket.AF_INET6, "::1")
    yield ports
    for sock in made:
        sock.close()


def test_a_loopback_listener_is_not_reachable_from_outside(sockets: dict[str, int]) -> None:
    every = listening_ports("/proc/self/net")
    reachable = listening_ports("/proc/self/net", reachable_only=True)
    assert set(sockets.values()) <= every
    assert sockets["everywhere"] in reachable
    assert sockets["loopback"] not in reachable
    only_loopback = loopback_only_ports("/proc/self/net")
    assert sockets["loopback"] in only_loopback
    assert sockets["everywhere"] not in only_loopback
    if "loopback6" in sockets:
        assert sockets["loopback6"] not in reachable
        assert sockets["loopback6"] in only_loopback
