"""Traps SIGTERM: `graceful` cleans up and exits 0; `stubborn` ignores it (R12)."""

import signal
import sys
import time

mode = sys.argv[1]


def on_term(signum: int, frame: object) -> None:
    print(f"got SIGTERM ({mode})", flush=True)
    if mode == "graceful":
        time.sleep(0.3)
        print("cleaned up", flush=True)
        sys.exit(0)


signal.signal(signal.SIGTERM, on_term)
print(f"running ({mode})", flush=True)
while True:
    time.sleep(0.2)
