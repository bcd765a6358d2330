"""`slipway server`: the composition root that builds every part and wires them together."""

from slipway.server.command import server_command

__all__ = ["server_command"]
