"""Runs once after the first release: it reaches the app's add-on and says so."""

import os
import sys

url = os.environ.get("CACHE_URL", "")
print(f"postdeploy: cache add-on {'attached' if url.startswith('redis') else 'missing'}")
sys.exit(0 if url else 3)
