"""Logplex benchmark: publish throughput to a live tail and to a syslog drain, and
publish-to-tail latency.

In process, with the real parts: `Logplex` (history on disk, flushed in the
background), one tail subscription read by an asyncio loop as the SSE endpoint
reads it, and one `syslog://` drain delivering over TCP to a local receiver
that parses octet-counted frames.

Baselines in the same run:
  * handoff: the same lines passed from the publisher thread to a consumer
    thread through a plain queue.SimpleQueue (the floor for any in-process fan-out);
  * raw syslog: the same frames written straight to the same receiver over one socket.

Usage: .venv/bin/python bench/logs.py [--lines 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import queue
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from slipway.logs.drains import DrainDispatcher, DrainSpec  # noqa: E402
from slipway.logs.history import LogHistory  # noqa: E402
from slipway.logs.line import format_timestamp  # noqa: E402
from slipway.logs.plex import LogFilter, Logplex  # noqa: E402

APP = "bench-app"


class Receiver:
    """A syslog receiver counting octet-counted frames."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.count = 0
        self.done = threading.Event()
        self.expected = 0
        self.last_frame_at = 0.0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            conn, _ = self.sock.accept()
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        buf = b""
        while True:
            data = conn.recv(1 << 20)
            if not data:
                return
            buf += data
            while True:
                space = buf.find(b" ")
                if space < 0:
                    break
                length = int(buf[:space])
                if len(buf) < space + 1 + length:
                    break
                buf = buf[space + 1 + length :]
                self.count += 1
                self.last_frame_at = time.perf_counter()
                if self.expected and self.count >= self.expected:
                    self.done.set()

    def expect(self, n: int) -> None:
        self.count = 0
        self.expected = n
        self.done.clear()

    def wait_quiet(self, quiet: float = 1.0, limit: float = 60.0) -> None:
        """Until everything expected arrived, or nothing arrived for `quiet` seconds."""
        deadline = time.perf_counter() + limit
        while time.perf_counter() < deadline and not self.done.is_set():
            if self.last_frame_at and time.perf_counter() - self.last_frame_at > quiet:
                return
            time.sleep(0.05)


def message(i: int) -> str:
    return f'at=info method=GET path="/items/{i}" status=200 bytes=1234 service=3ms line={i}'


def run_logplex(n: int, receiver: Receiver, tmp: Path) -> tuple[float, float, float, int]:
    dispatcher = DrainDispatcher()
    dispatcher.start()
    dispatcher.set_drains(APP, [DrainSpec("d1", "d.bench", f"syslog://127.0.0.1:{receiver.port}")])
    plex = Logplex(LogHistory(tmp / "logs"), dispatcher)
    plex.start()
    loop = asyncio.new_event_loop()
    sub = plex.subscribe(APP, LogFilter(), loop, maxsize=n + 10)
    received = 0
    tail_done_at = 0.0

    async def reader() -> None:
        nonlocal received, tail_done_at
        while received < n:
            batch = await sub.next_batch(5.0)
            received += len(batch)
        tail_done_at = time.perf_counter()

    receiver.expect(n)
    start = time.perf_counter()
    thread = threading.Thread(target=loop.run_until_complete, args=(reader(),))
    thread.start()
    for i in range(n):
        plex.publish(APP, "heroku", "router", message(i))
    publish_done = time.perf_counter()
    thread.join()
    receiver.wait_quiet()
    delivered = receiver.count
    drain_done = receiver.last_frame_at
    plex.close()
    dispatcher.close()
    return publish_done - start, tail_done_at - start, drain_done - start, delivered


def run_latency(samples: int, rate: float, tmp: Path) -> list[float]:
    plex = Logplex(LogHistory(tmp / "latency"))
    plex.start()
    loop = asyncio.new_event_loop()
    sub = plex.subscribe(APP, LogFilter(), loop)
    sent: dict[str, float] = {}
    latencies: list[float] = []

    async def reader() -> None:
        while len(latencies) < samples:
            for line in await sub.next_batch(5.0):
                t = sent.get(line.message)
                if t is not None:
                    latencies.append(time.perf_counter() - t)

    thread = threading.Thread(target=loop.run_until_complete, args=(reader(),))
    thread.start()
    interval = 1.0 / rate
    next_at = time.perf_counter()
    for i in range(samples):
        key = f"latency probe {i}"
        sent[key] = time.perf_counter()
        plex.publish(APP, "app", "web.1", key)
        next_at += interval
        pause = next_at - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
    thread.join()
    plex.close()
    return latencies


def baseline_handoff(n: int) -> float:
    q: queue.SimpleQueue[str | None] = queue.SimpleQueue()

    def consume() -> None:
        while q.get() is not None:
            pass

    start = time.perf_counter()
    t = threading.Thread(target=consume)
    t.start()
    for i in range(n):
        q.put(message(i))
    q.put(None)
    t.join()
    return time.perf_counter() - start


def baseline_raw_syslog(n: int, receiver: Receiver) -> float:
    receiver.expect(n)
    ts = format_timestamp(dt.datetime.now(dt.UTC))
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", receiver.port)) as sock:
        chunk: list[bytes] = []
        for i in range(n):
            body = f"<190>1 {ts} d.bench heroku router - - {message(i)}".encode()
            chunk.append(b"%d %s" % (len(body), body))
            if len(chunk) == 1000:
                sock.sendall(b"".join(chunk))
                chunk = []
        sock.sendall(b"".join(chunk))
        receiver.done.wait(60)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--latency-samples", type=int, default=5000)
    parser.add_argument("--latency-rate", type=float, default=10_000)
    args = parser.parse_args()
    n = args.lines
    receiver = Receiver()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        publish_s, tail_s, drain_s, delivered = run_logplex(n, receiver, tmp)
        handoff_s = baseline_handoff(n)
        raw_s = baseline_raw_syslog(n, receiver)
        latencies = run_latency(args.latency_samples, args.latency_rate, tmp)
    lat = sorted(latencies)
    p50 = statistics.median(lat) * 1000
    p99 = lat[int(len(lat) * 0.99) - 1] * 1000
    print(f"Logplex benchmark: {n} lines, one tail and one syslog:// drain")
    print(f"  publish            {n / publish_s:>10,.0f} lines/s")
    print(f"  to the tail        {n / tail_s:>10,.0f} lines/s")
    dropped = n - delivered
    print(
        f"  to the drain       {delivered / drain_s:>10,.0f} lines/s delivered "
        f"({dropped:,} of {n:,} dropped under the burst, reported by L10)"
    )
    print(
        f"  baseline: queue handoff  {n / handoff_s:>10,.0f} lines/s "
        f"(tail is {handoff_s / tail_s:.2f}x of it)"
    )
    print(
        f"  baseline: raw syslog     {n / raw_s:>10,.0f} lines/s "
        f"(drain is {raw_s / drain_s:.2f}x of it)"
    )
    print(
        f"  publish->tail latency at {args.latency_rate:,.0f} lines/s: "
        f"p50={p50:.2f} ms p99={p99:.2f} ms ({len(lat)} samples)"
    )
    ok = min(n / tail_s, delivered / drain_s) >= 50_000 and p99 < 50
    print(f"  target: >= 50,000 lines/s and p99 < 50 ms -> {'met' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
