"""heroku-redis: one supervised redis-server per add-on.

Each add-on gets its own `redis-server` on 127.0.0.1, on a port chosen at
provision (the first free one in `settings.redis_ports`) and kept for its
lifetime, with its files in `<data_dir>/addons/redis/<resource_id>/`. The app
connects as redis' `default` user, which may run every command but the
@admin ones; the provider manages the server as its own ACL user `slipway`.

Plans (Heroku's memory and connection limits):

- mini (default): 25 MB, 20 clients, no AOF and no periodic snapshots; the data
  is saved (SHUTDOWN SAVE / shutdown-on-sigterm save) when Slipway stops the
  server, so it survives clean platform restarts, but not a crash of redis.
- premium-0: 50 MB, 40 clients, AOF with fsync every second (at most a second
  of writes lost on a crash), plus the same snapshot at shutdown.

Requires Redis 6.0 or newer (ACL users).

The modules, one job each:

- `service.py`: the service, its plans and their limits.
- `provider.py`: `RedisProvider`, the Provider protocol and redis:cli.
- `server.py`: an add-on's directory, state.json, redis.conf and admin connection.
- `supervisor.py`: the redis-server processes, restarted with back-off, reclaimed after a crash.
- `resp.py`: the small RESP2 client the provider manages its servers with.
"""

from slipway.addons.redis.provider import RedisProvider
from slipway.addons.redis.service import PLAN_LIMITS, PLANS, SERVICE, SERVICE_NAME

__all__ = ["PLANS", "PLAN_LIMITS", "SERVICE", "SERVICE_NAME", "RedisProvider"]
