"""Add-on providers: heroku-postgresql and heroku-redis built in, more through entry points.

See `provider.py` for the interface and `registry.py` for how providers are found.
"""

from slipway.addons.errors import (
    AddonError,
    BackupFailed,
    InvalidOptions,
    PortInUse,
    ProviderUnavailable,
    ResourceNotFound,
    UnknownPlan,
    UnknownService,
)
from slipway.addons.postgres import PostgresProvider
from slipway.addons.provider import (
    AddonSettings,
    Backup,
    Backups,
    Plan,
    Provider,
    ProviderFactory,
    Provisioned,
    Service,
    SupportsBackups,
)
from slipway.addons.redis import RedisProvider
from slipway.addons.registry import (
    ENTRY_POINT_GROUP,
    Resolved,
    find_provider,
    load_providers,
    parse_plan_spec,
    resolve_service,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "AddonError",
    "AddonSettings",
    "Backup",
    "BackupFailed",
    "Backups",
    "InvalidOptions",
    "Plan",
    "PortInUse",
    "PostgresProvider",
    "Provider",
    "ProviderFactory",
    "ProviderUnavailable",
    "Provisioned",
    "RedisProvider",
    "Resolved",
    "ResourceNotFound",
    "Service",
    "SupportsBackups",
    "UnknownPlan",
    "UnknownService",
    "find_provider",
    "load_providers",
    "parse_plan_spec",
    "resolve_service",
]
