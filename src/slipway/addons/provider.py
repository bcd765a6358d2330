"""What an add-on provider is: services, plans, the Provider protocol and its capabilities.

A provider owns the servers behind one add-on service (a PostgreSQL cluster, a
set of redis-servers). The platform asks it to provision a resource for an
add-on, remembers the returned `resource_id`, and exposes `config` to the app
as `<ATTACHMENT>_<KEY>` (`DATABASE` + `URL` -> `DATABASE_URL`). Anything else a
provider needs to remember (passwords, ports) it keeps under its own data dir.

Beyond the protocol, a provider may offer optional capabilities, each a
Protocol of its own that the platform checks with `isinstance`:

- `SupportsBackups`: a `backups` attribute implementing `Backups` (pg:backups,
  pg:backups:capture, pg:backups:restore, pg:backups:download). Without it, the
  API answers that the service's add-ons have no backups.

Third parties add a provider through the entry point group `slipway.addons`:
the entry point's name is the service name and its value a callable
`(data_dir: Path, settings: AddonSettings) -> Provider` (usually the class).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from slipway.options import option


@dataclass(frozen=True)
class Plan:
    name: str  # "heroku-postgresql:essential-0"
    human_name: str  # "Essential 0"
    price_cents: int = 0
    description: str = ""
    default: bool = False

    @property
    def short_name(self) -> str:
        """The part after the colon: "essential-0"."""
        return self.name.split(":", 1)[-1]


@dataclass(frozen=True)
class Service:
    name: str  # "heroku-postgresql"
    human_name: str
    aliases: tuple[str, ...]
    plans: tuple[Plan, ...]
    config_var_suffix: str  # "DATABASE" -> DATABASE_URL

    @property
    def default_plan(self) -> Plan:
        for plan in self.plans:
            if plan.default:
                return plan
        return self.plans[0]

    def plan(self, short_name: str) -> Plan | None:
        """The plan called `short_name` ("essential-0") or its full name, or None."""
        wanted = short_name.strip().lower()
        for plan in self.plans:
            if wanted in (plan.short_name, plan.name):
                return plan
        return None


@dataclass(frozen=True)
class Provisioned:
    resource_id: str
    config: dict[str, str]  # {"URL": "postgres://..."}


@dataclass(frozen=True)
class AddonSettings:
    """Server-wide knobs for the built-in providers (the `slipway server` flags).

    Third-party providers read their own settings from `extra` (e.g.
    `extra["acme.token"]`), so new providers need no new field here.
    """

    # heroku-postgresql: an existing server to create databases on, as a libpq URL with
    # a superuser (or a role with CREATEROLE and CREATEDB). None: the embedded cluster
    # under <data_dir>/addons/postgres/cluster.
    postgres_admin_url: str | None = option(
        None,
        "--postgres-admin-url",
        "A PostgreSQL server for heroku-postgresql add-ons (default: a cluster the "
        "platform runs under its data dir).",
        envvar="SLIPWAY_POSTGRES_ADMIN_URL",
    )
    # The host written into DATABASE_URL; default: the admin URL's host, or `listen_host`.
    postgres_host: str | None = None
    # Where dynos reach the embedded add-on servers: an address those servers listen on
    # besides 127.0.0.1, and the host their URLs name. The server sets it to the dyno
    # network's bridge address (dynos in their own network namespace cannot reach the
    # host's loopback); None: 127.0.0.1 only. Providers of other add-on servers should
    # listen and name it the same way.
    listen_host: str | None = None
    # Where initdb, pg_ctl, pg_dump, pg_restore and psql live; None: the newest
    # /usr/lib/postgresql/*/bin, then $PATH.
    postgres_bin_dir: Path | None = None
    # The OS user the embedded cluster runs as when Slipway runs as root.
    postgres_os_user: str = "postgres"
    # Ports the embedded cluster may take (first free one, then kept).
    postgres_ports: tuple[int, int] = (15432, 15631)
    # heroku-redis
    redis_server_bin: str = "redis-server"
    redis_cli_bin: str = "redis-cli"
    # Ports redis-servers may take, one per add-on (kept for its lifetime).
    redis_ports: tuple[int, int] = (16380, 17379)
    # When Slipway runs as root, run redis-servers as this OS user (None: as root,
    # locked down with ACLs: no CONFIG, MODULE, DEBUG, SHUTDOWN... for the app).
    redis_os_user: str | None = None
    # Settings for third-party providers, by convention "<provider>.<key>".
    extra: Mapping[str, str] = field(default_factory=dict, hash=False)


@runtime_checkable
class Provider(Protocol):
    """One add-on service. Every method may raise AddonError (and only that).

    Optional capabilities are separate protocols (so a provider without them is
    still a Provider): a provider that has a `backups: Backups` attribute offers
    backups, and `isinstance(provider, SupportsBackups)` says so.
    """

    service: Service

    def provision(self, resource_name: str, plan: Plan, options: Mapping[str, str]) -> Provisioned:
        """Create a resource for the add-on `resource_name` ("postgresql-concave-52656")."""
        ...

    def deprovision(self, resource_id: str) -> None:
        """Destroy the resource and everything it holds. Idempotent."""
        ...

    def config(self, resource_id: str) -> dict[str, str]:
        """The current credentials, e.g. {"URL": ...}."""
        ...

    def info(self, resource_id: str) -> list[tuple[str, str]]:
        """Label/value rows for pg:info or redis:info."""
        ...

    def rotate_credentials(self, resource_id: str) -> dict[str, str]:
        """New credentials; the old ones stop working. Returns the new config."""
        ...

    def start(self) -> None:
        """Bring back the servers this provider runs (after a platform restart)."""
        ...

    def stop(self) -> None:
        """Stop the servers this provider runs (platform shutdown)."""
        ...


@dataclass(frozen=True)
class Backup:
    """One backup of an add-on's data."""

    name: str  # "b001"
    created_at: datetime
    size: int  # bytes
    status: str  # "Completed"


class Backups(Protocol):
    """The backups of a provider's add-ons. Every method may raise AddonError (and only that):
    ResourceNotFound for an unknown resource or backup, BackupFailed when one did not work."""

    def list_backups(self, resource_id: str) -> list[Backup]:
        """pg:backups: the resource's backups, oldest first."""
        ...

    def capture_backup(self, resource_id: str) -> Backup:
        """pg:backups:capture: a new backup, complete when this returns."""
        ...

    def restore_backup(self, resource_id: str, backup_name: str) -> None:
        """pg:backups:restore: the resource holds what the backup holds; on failure, as it was."""
        ...

    def backup_path(self, resource_id: str, backup_name: str) -> Path:
        """pg:backups:download: the backup's file, served as it is."""
        ...


@runtime_checkable
class SupportsBackups(Protocol):
    """A provider that offers backups (the capability the platform checks for)."""

    backups: Backups


ProviderFactory = Callable[[Path, AddonSettings], Provider]
