"""The heroku-redis service: its plans and the memory, client and persistence limits they set."""

from __future__ import annotations

from dataclasses import dataclass

from slipway.addons.provider import Plan, Service

SERVICE_NAME = "heroku-redis"


@dataclass(frozen=True)
class PlanLimits:
    maxmemory_mb: int
    maxclients: int
    aof: bool
    persistence: str


PLAN_LIMITS = {
    f"{SERVICE_NAME}:mini": PlanLimits(25, 20, False, "snapshot at clean shutdown"),
    f"{SERVICE_NAME}:premium-0": PlanLimits(
        50, 40, True, "AOF (fsync every second) + snapshot at clean shutdown"
    ),
}

PLANS = (
    Plan(
        f"{SERVICE_NAME}:mini",
        "Mini",
        description="25 MB, 20 clients; data is kept across clean restarts, not across crashes.",
        default=True,
    ),
    Plan(
        f"{SERVICE_NAME}:premium-0",
        "Premium 0",
        description="50 MB, 40 clients; AOF persistence with fsync every second.",
    ),
)

SERVICE = Service(
    name=SERVICE_NAME,
    human_name="Heroku Key-Value Store (Redis)",
    aliases=("redis",),
    plans=PLANS,
    config_var_suffix="REDIS",
)

# Each maxmemory policy with what it does (redis:maxmemory prints it).
MAXMEMORY_POLICIES = {
    "noeviction": "return errors when the memory limit is reached",
    "allkeys-lru": "evict the least recently used keys first",
    "allkeys-lfu": "evict the least frequently used keys first",
    "allkeys-random": "evict random keys",
    "volatile-lru": "evict the least recently used keys that have an expiry",
    "volatile-lfu": "evict the least frequently used keys that have an expiry",
    "volatile-random": "evict random keys that have an expiry",
    "volatile-ttl": "evict the keys with an expiry and the shortest time to live first",
}
