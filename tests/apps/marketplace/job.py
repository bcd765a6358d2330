"""A scheduler job: says it ran, and what its dyno is called."""

import os
import time

print(f"scheduled job ran in {os.environ.get('DYNO')} at {time.strftime('%H:%M:%S')}", flush=True)
