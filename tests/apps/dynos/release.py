import os
import sys
import time

print(f"release phase of {os.environ.get('HEROKU_RELEASE_VERSION')} on {os.environ['DYNO']}")
time.sleep(float(os.environ.get("RELEASE_SLEEP", "0")))
sys.exit(int(os.environ.get("RELEASE_EXIT", "0")))
