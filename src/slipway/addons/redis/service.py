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

MAXMEMORY_POLICIES = (
    "noeviction",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
)
