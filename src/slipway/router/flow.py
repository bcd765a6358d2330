"""Flow control for a client connection: why reading from the client is paused.

Back-pressure runs both ways through an exchange, and each side is the other's
brake:

- the dyno reads the request body slower than the client sends it: the dyno
  socket's write buffer fills (BackendConnection.pause_writing), and the client is
  paused for BACKPRESSURE until it drains;
- the client reads the response slower than the dyno sends it: the client
  socket's write buffer fills (`write_paused`), and the exchange stops reading
  from the dyno until it drains.

Reading from the client can be paused for several reasons at once (a queue of
pipelined requests, back-pressure, a full buffer while no dyno is there yet, an
Upgrade awaiting the dyno's answer), so `paused` is a bitmask and reading resumes
only when the last reason is gone.

ClientConnection inherits this rather than holding one: the checks that run on
every request (`paused`, `write_paused`) stay one attribute away.
"""

from __future__ import annotations

import asyncio


class ClientFlow(asyncio.Protocol):
    # Why reading from the client is paused (several reasons can hold at once).
    PIPELINE = 1  # requests are queued behind the active one
    BACKPRESSURE = 2  # the dyno is not reading the body as fast as it arrives
    BUFFER = 4  # no dyno yet, and the held part of the body is full
    UPGRADE = 8  # waiting for the dyno's answer to an Upgrade request

    __slots__ = ("closed", "paused", "transport", "write_paused")

    transport: asyncio.Transport | None
    closed: bool

    def __init__(self) -> None:
        self.transport = None
        self.closed = False
        self.paused = 0  # a bitmask of the reasons above
        self.write_paused = False  # the client is not reading the response fast enough

    def pause(self, reason: int) -> None:
        if not self.paused and not self.closed:
            assert self.transport is not None
            self.transport.pause_reading()
        self.paused |= reason

    def resume(self, reason: int) -> None:
        if self.paused & reason:
            self.paused &= ~reason
            if not self.paused and not self.closed:
                assert self.transport is not None
                self.transport.resume_reading()
