"""Ports for the servers the providers run: free now, and the first free one in a range."""

from __future__ import annotations

import socket

from slipway.addons.errors import ProviderUnavailable


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on host:port now (SO_REUSEADDR, like the servers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def pick_port(ports: tuple[int, int], exclude: set[int], what: str) -> int:
    """The first port in the inclusive range that is free now and not in `exclude`."""
    low, high = ports
    for port in range(low, high + 1):
        if port not in exclude and port_is_free(port):
            return port
    raise ProviderUnavailable(
        f"No free port is left for {what} between {low} and {high}; "
        "free one or widen the range in the server settings."
    )
