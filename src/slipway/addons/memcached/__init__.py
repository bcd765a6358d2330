"""memcachier: one SASL-authenticated memcached per add-on.

Each add-on gets its own `memcached -S` on 127.0.0.1 and the dyno bridge's address
(`listen_host`, which `MEMCACHIER_SERVERS` names), on a port chosen at
provision (the first free one in `settings.memcached_ports`) and kept, with a
SASL user of its own in its own sasldb (`saslpasswd2`), so one add-on's
credentials open no other cache. The app reads `MEMCACHIER_SERVERS`,
`MEMCACHIER_USERNAME` and `MEMCACHIER_PASSWORD`, as MemCachier sets them; any
client with SASL over the binary protocol works (Python: bmemcached, Ruby: dalli).

Plans set the cache's memory and connection limits; memcached takes its memory
size at start only, so a plan change restarts the add-on's server (and says so).

The modules, one job each:

- `service.py`: the service, its plans and their limits.
- `provider.py`: `MemcachedProvider`, the Provider protocol and change_plan.
- `server.py`: an add-on's directory, state.json, SASL user, and its daemon.
"""

from slipway.addons.memcached.provider import MemcachedProvider
from slipway.addons.memcached.service import PLAN_LIMITS, PLANS, SERVICE, SERVICE_NAME

__all__ = ["PLANS", "PLAN_LIMITS", "SERVICE", "SERVICE_NAME", "MemcachedProvider"]
