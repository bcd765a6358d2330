import os
import time

while True:
    print(f"working in {os.environ['DYNO']}", flush=True)
    time.sleep(1)
