"""The HTTP(S) drain sender: `https://` and `http://` (logplex's http_drain).

Batches of up to 100 KB or 1024 messages POSTed as `application/logplex-1`,
retried with back-off on 5xx, 429 and network errors, dropped on other 4xx.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable

import httpx

from slipway.logs.drains.backoff import CONNECT_TIMEOUT, next_delay
from slipway.logs.drains.buffer import Batch, Drain
from slipway.logs.drains.framing import http_frame

logger = logging.getLogger(__name__)

# Batching and retries (Logplex's HTTP drain: up to 100 KB or 1024 messages a POST).
HTTP_MAX_BATCH_BYTES = 100 * 1024
HTTP_MAX_BATCH_MESSAGES = 1024
HTTP_LINGER = 0.1  # lines are sent at most this long after they arrive at an idle drain
HTTP_RETRIES = 2  # extra attempts per batch
HTTP_TIMEOUT = 10.0
USER_AGENT = "Logplex/v72"
CONTENT_TYPE = "application/logplex-1"


async def run_http(
    drain: Drain, tls_context: Callable[[], ssl.SSLContext], closing: Callable[[], bool]
) -> None:
    """Batches POSTed as `application/logplex-1`; at most HTTP_RETRIES retries each."""
    target = drain.target
    auth = (
        httpx.BasicAuth(target.username, target.password or "")
        if target.username is not None
        else None
    )
    client = httpx.AsyncClient(
        verify=tls_context() if target.tls else False,
        timeout=httpx.Timeout(HTTP_TIMEOUT, connect=CONNECT_TIMEOUT),
        auth=auth,
        follow_redirects=False,
        trust_env=False,  # drains connect directly, as Logplex does
        headers={
            "User-Agent": USER_AGENT,
            "Content-Type": CONTENT_TYPE,
            "Logplex-Drain-Token": drain.spec.token,
        },
    )
    delay = 0.0  # the drain's back-off: grows over failures, across batches
    try:
        while not drain.stopped:
            # Lines arriving at an idle drain wait up to HTTP_LINGER for company; a
            # backlog goes out batch after batch without waiting.
            if await drain.wait(1) and not closing():
                await drain.wait(min(HTTP_MAX_BATCH_MESSAGES, drain.maxsize), HTTP_LINGER)
            if drain.stopped:
                break
            batch = drain.take(HTTP_MAX_BATCH_MESSAGES, HTTP_MAX_BATCH_BYTES)
            if batch is None:
                continue
            body = _http_body(drain, batch)
            count = len(batch.all_lines)
            outcome = "failed"
            for attempt in range(1 + HTTP_RETRIES):
                if delay:
                    await asyncio.sleep(delay)
                outcome = await _post(client, drain, batch, body, count, attempt)
                if outcome == "retry":
                    delay = next_delay(delay)
                    continue
                delay = 0.0 if outcome == "delivered" else delay
                break
            if outcome == "retry":
                logger.warning(
                    "%s drain %s dropped %d lines after %d attempts",
                    target.scheme,
                    drain.spec.id,
                    count,
                    1 + HTTP_RETRIES,
                )
            drain.settle(batch.lines, delivered=outcome == "delivered")
    finally:
        await client.aclose()


def _http_body(drain: Drain, batch: Batch) -> bytes:
    """Frames up to HTTP_MAX_BATCH_BYTES; lines that do not fit go back to the buffer."""
    frames: list[bytes] = []
    size = 0
    lines = batch.all_lines
    for i, line in enumerate(lines):
        frame = http_frame(line)
        if frames and size + len(frame) > HTTP_MAX_BATCH_BYTES:
            leftover = lines[i:]
            drain.requeue(leftover)
            del batch.lines[len(batch.lines) - len(leftover) :]
            break
        frames.append(frame)
        size += len(frame)
    return b"".join(frames)


async def _post(
    client: httpx.AsyncClient,
    drain: Drain,
    batch: Batch,
    body: bytes,
    count: int,
    attempt: int,
) -> str:
    """One attempt: "delivered", "rejected" (4xx but 429) or "retry"."""
    try:
        response = await client.post(
            drain.target.endpoint,
            content=body,
            headers={"Logplex-Msg-Count": str(count), "Logplex-Frame-Id": batch.frame_id},
        )
    except httpx.HTTPError as exc:
        logger.info(
            "%s drain %s: attempt %d failed: %s",
            drain.target.scheme,
            drain.spec.id,
            attempt + 1,
            str(exc) or type(exc).__name__,
        )
        return "retry"
    status = response.status_code
    if 200 <= status < 300:
        return "delivered"
    if 400 <= status < 500 and status != 429:
        logger.warning(
            "%s drain %s refused %d lines with HTTP %d; dropped",
            drain.target.scheme,
            drain.spec.id,
            count,
            status,
        )
        return "rejected"
    logger.info(
        "%s drain %s: attempt %d got HTTP %d",
        drain.target.scheme,
        drain.spec.id,
        attempt + 1,
        status,
    )
    return "retry"
