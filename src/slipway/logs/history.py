"""Per-app history: the last N lines in memory, mirrored to an append-only file per app.

Appends are buffered and written by `flush()` (the Logplex calls it every
200 ms and at shutdown), so publishing never waits for the disk. Each file is
compacted back to N lines once it holds 2N, so it stays bounded. A restart
reads the tail of each file back.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from collections import deque
from pathlib import Path

from slipway.logs.line import LogLine

DEFAULT_LIMIT = 1500


class LogHistory:
    def __init__(self, root: Path, limit: int = DEFAULT_LIMIT) -> None:
        self.root = root
        self.limit = limit
        root.mkdir(parents=True, exist_ok=True)
        self._lines: dict[str, deque[LogLine]] = {}
        self._pending: dict[str, list[LogLine]] = {}
        self._on_disk: dict[str, int] = {}
        self._seq: dict[str, int] = {}
        # Lines that fell out of the history since this process started, per app.
        self.evicted: dict[str, int] = {}
        self._lock = threading.RLock()

    def _path(self, app_id: str) -> Path:
        return self.root / f"{app_id}.jsonl"

    def _load(self, app_id: str) -> deque[LogLine]:
        lines = self._lines.get(app_id)
        if lines is not None:
            return lines
        lines = deque(maxlen=self.limit)
        count = 0
        path = self._path(app_id)
        if path.exists():
            with path.open(encoding="utf-8", errors="replace") as fh:
                for raw in fh:
                    line = _decode(app_id, raw)
                    if line is not None:
                        lines.append(line)
                        count += 1
        self._lines[app_id] = lines
        self._on_disk[app_id] = count
        self._seq[app_id] = lines[-1].seq if lines else 0
        return lines

    def add(
        self, app_id: str, timestamp: dt.datetime, source: str, process: str, messages: list[str]
    ) -> list[LogLine]:
        """Number and keep new lines in one step (the publish hot path)."""
        with self._lock:
            lines = self._load(app_id)
            pending = self._pending.setdefault(app_id, [])
            seq = self._seq[app_id]
            made = []
            overflow = len(lines) + len(messages) - self.limit
            if overflow > 0:
                self.evicted[app_id] = self.evicted.get(app_id, 0) + min(overflow, len(messages))
            for message in messages:
                seq += 1
                line = LogLine(app_id, seq, timestamp, source, process, message)
                lines.append(line)
                pending.append(line)
                made.append(line)
            self._seq[app_id] = seq
            return made

    def recent(self, app_id: str) -> list[LogLine]:
        with self._lock:
            return list(self._load(app_id))

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for app_id, lines in pending.items():
            path = self._path(app_id)
            with path.open("a", encoding="utf-8") as fh:
                fh.writelines(_encode(line) for line in lines)
            with self._lock:
                self._on_disk[app_id] = self._on_disk.get(app_id, 0) + len(lines)
                too_big = self._on_disk[app_id] >= 2 * self.limit
                keep = list(self._load(app_id)) if too_big else []
            if too_big:
                tmp = path.with_suffix(".tmp")
                with tmp.open("w", encoding="utf-8") as fh:
                    fh.writelines(_encode(line) for line in keep)
                    fh.flush()
                    os.fsync(fh.fileno())
                tmp.replace(path)
                with self._lock:
                    self._on_disk[app_id] = len(keep)

    def drop(self, app_id: str) -> None:
        with self._lock:
            self._lines.pop(app_id, None)
            self._pending.pop(app_id, None)
            self._on_disk.pop(app_id, None)
            self._seq.pop(app_id, None)
        self._path(app_id).unlink(missing_ok=True)


def _encode(line: LogLine) -> str:
    record = {
        "s": line.seq,
        "t": line.timestamp.isoformat(),
        "o": line.source,
        "p": line.process,
        "m": line.message,
    }
    return json.dumps(record, ensure_ascii=False) + "\n"


def _decode(app_id: str, raw: str) -> LogLine | None:
    try:
        r = json.loads(raw)
        return LogLine(
            app_id, int(r["s"]), dt.datetime.fromisoformat(r["t"]), r["o"], r["p"], r["m"]
        )
    except (ValueError, KeyError, TypeError):
        return None  # a torn last line after a crash is skipped, not fatal
