"""Writes about 100 MB/s of log lines (1000-byte lines) to stdout, for `bench/abuse.py`."""

import os
import sys
import time

RATE = float(os.environ.get("FLOOD_MB_PER_SECOND", "100")) * 1024 * 1024
line = ("x" * 999 + "\n").encode()
chunk = line * 1024  # 1 MB
start, sent = time.monotonic(), 0
while True:
    sys.stdout.buffer.write(chunk)
    sys.stdout.buffer.flush()
    sent += len(chunk)
    ahead = sent / RATE - (time.monotonic() - start)
    if ahead > 0:
        time.sleep(ahead)
