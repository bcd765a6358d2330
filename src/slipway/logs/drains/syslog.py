"""The syslog drain sender: `syslog://` (plain TCP) and `syslog+tls://` (logplex's tcpsyslog_drain).

RFC 5424 messages with RFC 6587 octet counting over one persistent connection,
reconnected with back-off. Lines go out as soon as they arrive.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable

from slipway.logs.drains.backoff import CONNECT_TIMEOUT, next_delay
from slipway.logs.drains.buffer import Batch, Drain
from slipway.logs.drains.framing import syslog_frame

logger = logging.getLogger(__name__)

SYSLOG_MAX_BATCH_MESSAGES = 1024
WRITE_TIMEOUT = 30.0  # a syslog peer that stops reading this long is reconnected


async def run_syslog(drain: Drain, tls_context: Callable[[], ssl.SSLContext]) -> None:
    """One persistent connection; lines go out as soon as they arrive. Lines are taken
    from the buffer only once connected, so while the drain is down they stay there,
    subject to the cap (and the L10 notice)."""
    target = drain.target
    writer: asyncio.StreamWriter | None = None
    reader: asyncio.StreamReader | None = None
    delay = 0.0

    def failed(exc: BaseException, batch: Batch | None) -> float:
        if batch is not None:
            drain.requeue(batch.lines, batch.overflow, batch.overflow_since)
        # Warn once per outage; the retries of a drain that stays down are debug.
        logger.log(
            logging.WARNING if delay == 0 else logging.DEBUG,
            "syslog drain %s (%s:%s) failed: %s; retrying",
            drain.spec.id,
            target.host,
            target.port,
            str(exc) or type(exc).__name__,
        )
        return next_delay(delay)

    try:
        while not drain.stopped:
            await drain.wait(1)
            if drain.stopped:
                break
            if writer is not None and (writer.is_closing() or (reader and reader.at_eof())):
                writer.close()
                writer = None
            if writer is None:
                try:
                    reader, connected = await asyncio.wait_for(
                        asyncio.open_connection(
                            target.host,
                            target.port,
                            ssl=tls_context() if target.tls else None,
                            server_hostname=target.host if target.tls else None,
                        ),
                        CONNECT_TIMEOUT,
                    )
                except (OSError, TimeoutError) as exc:
                    delay = failed(exc, None)
                    await asyncio.sleep(delay)
                    continue
                writer = connected
            batch = drain.take(SYSLOG_MAX_BATCH_MESSAGES)
            if batch is None:
                continue
            try:
                writer.write(
                    b"".join(syslog_frame(line, drain.spec.token) for line in batch.all_lines)
                )
                await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT)
            except (OSError, TimeoutError) as exc:
                writer.close()
                writer = None
                delay = failed(exc, batch)
                await asyncio.sleep(delay)
                continue
            drain.settle(batch.lines, delivered=True)
            delay = 0.0
    finally:
        if writer is not None:
            writer.close()
