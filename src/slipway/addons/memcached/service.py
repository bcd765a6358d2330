"""The memcachier service: its plans and the memory and connection limits they set."""

from __future__ import annotations

from dataclasses import dataclass

from slipway.addons.provider import Plan, Service

SERVICE_NAME = "memcachier"


@dataclass(frozen=True)
class PlanLimits:
    memory_mb: int  # memcached -m: the cache evicts beyond it
    connections: int  # memcached -c


PLAN_LIMITS = {
    f"{SERVICE_NAME}:dev": PlanLimits(25, 20),
    f"{SERVICE_NAME}:100": PlanLimits(100, 1000),
    f"{SERVICE_NAME}:250": PlanLimits(250, 1000),
}

PLANS = (
    Plan(
        f"{SERVICE_NAME}:dev",
        "Developer",
        description="25 MB of cache, 20 connections.",
        default=True,
    ),
    Plan(f"{SERVICE_NAME}:100", "100 MB", 1400, description="100 MB of cache, 1,000 connections."),
    Plan(f"{SERVICE_NAME}:250", "250 MB", 4000, description="250 MB of cache, 1,000 connections."),
)

SERVICE = Service(
    name=SERVICE_NAME,
    human_name="MemCachier (memcached)",
    aliases=("memcached", "memcache"),
    plans=PLANS,
    config_var_suffix="MEMCACHIER",
)
