import os
import sys

print(f"release phase of {os.environ.get('HEROKU_RELEASE_VERSION')} on {os.environ['DYNO']}")
sys.exit(int(os.environ.get("RELEASE_EXIT", "0")))
