"""Allocates memory past twice a basic dyno's 512 MB, pausing over the quota (R14, then R15)."""

import time

chunks = []
for step in range(40):
    chunks.append(bytearray(64 * 1024 * 1024))  # zero-filled pages: really resident
    print(f"allocated {(step + 1) * 64} MB", flush=True)
    if (step + 1) * 64 == 640:
        time.sleep(3)
    time.sleep(0.05)
print("still alive?!", flush=True)
time.sleep(100000)
