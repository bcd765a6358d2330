"""Which TCP ports a network namespace listens on, read from its /proc/PID/net tables.

A dyno in its own namespace is reached by the router on its namespace's address,
so a server bound to loopback there (Flask's `app.run()` default, 127.0.0.1) is
listening but unreachable: it must not count as bound to $PORT.
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Iterator

_LISTEN = "0A"  # TCP_LISTEN in the `st` column

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_address(hexed: str) -> Address:
    """A local_address column's address ("0100007F" -> 127.0.0.1): the kernel prints
    each 32-bit word in the machine's byte order."""
    raw = bytes.fromhex(hexed)
    if sys.byteorder == "little":
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(raw)


def is_loopback(address: Address) -> bool:
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def _entries(net_dir: str) -> Iterator[tuple[str, int]]:
    """(local address as the kernel prints it, port) of every TCP socket in LISTEN."""
    for table in ("tcp", "tcp6"):
        try:
            with open(f"{net_dir}/{table}") as fh:
                next(fh, None)
                lines = fh.readlines()
        except OSError:
            continue
        for line in lines:
            parts = line.split(None, 4)
            if len(parts) > 3 and parts[3] == _LISTEN:
                hexed, port = parts[1].rsplit(":", 1)
                yield hexed, int(port, 16)


def listeners(net_dir: str = "/proc/net") -> Iterator[tuple[Address, int]]:
    """(address, port) of every TCP socket in LISTEN."""
    for hexed, port in _entries(net_dir):
        yield parse_address(hexed), port


def listening_ports(net_dir: str = "/proc/net", *, reachable_only: bool = False) -> set[int]:
    """TCP ports in LISTEN; with `reachable_only`, those bound beyond loopback. Read every
    tick while a web dyno boots: addresses are parsed only when they matter."""
    if not reachable_only:
        return {port for _, port in _entries(net_dir)}
    return {port for address, port in listeners(net_dir) if not is_loopback(address)}


def loopback_only_ports(net_dir: str) -> set[int]:
    """Ports listened on, but on loopback alone (unreachable from outside the namespace)."""
    found = list(listeners(net_dir))
    outside = {port for address, port in found if not is_loopback(address)}
    return {port for address, port in found if is_loopback(address)} - outside
