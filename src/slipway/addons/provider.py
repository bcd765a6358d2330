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
- `SupportsPlanChange`: `change_plan(resource_id, plan) -> PlanChange`
  (addons:upgrade / addons:downgrade). It applies the new plan's limits live
  where the server allows it and says in `PlanChange.message` what happened,
  including a restart of the add-on's server when one was needed. Without it,
  the platform refuses plan changes for the service.
- `SupportsLimits`: `enforce_limits(resource_id, plan, now) -> str | None`,
  called about once a minute for every add-on: limits that only a periodic
  check can enforce (a row or size limit: warning first, then writes revoked).
  It returns a sentence for the app's log when something changed.
- `SupportsOpen`: `open_page(resource_id) -> OpenPage`, the page `addons:open`
  sends the add-on's owner to (a management UI) and the cookies that log them in.
- `SupportsInbox`: an `inbox` attribute implementing `Inbox` (mail:inbox, mail:show).

- `SupportsReset`: `reset` empties a resource (pg:reset).
- `SupportsSettings`: settings users may change (redis:maxmemory, redis:timeout,
  redis:keyspace-notifications), each with its current value and its choices.
A new service in a package of its own is a class with a `service` attribute
and the methods below, plus an entry point:

    # acme_cache/__init__.py
    class AcmeCacheProvider:
        service = Service("acme-cache", "Acme Cache", ("acme",),
                          (Plan("acme-cache:free", "Free", default=True),), "ACME_CACHE")
        def __init__(self, data_dir: Path, settings: AddonSettings) -> None: ...
        def provision(self, resource_name, plan, options) -> Provisioned: ...
        ...  # deprovision, config, info, rotate_credentials, start, stop

    # its pyproject.toml
    [project.entry-points."slipway.addons"]
    acme-cache = "acme_cache:AcmeCacheProvider"

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

from slipway.addons.errors import UnknownPlan
from slipway.options import option


@dataclass(frozen=True)
class Plan:
    name: str  # "heroku-postgresql:essential-0"
    human_name: str  # "Essential 0"
    price_cents: int = 0  # a display price per month, as Heroku shows it; nothing is billed
    description: str = ""  # the limits the plan sets, in one line ("25 MB, 20 clients")
    default: bool = False
    # Scheduled backups kept (pg:backups:schedule): the newest `daily`, then the newest
    # of each of the `weekly` weeks before them.
    backup_retention: tuple[int, int] = (7, 0)

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
    # The attachments a new add-on gets on its app, when not the suffix alone (and not
    # heroku-postgresql's DATABASE + HEROKU_POSTGRESQL_<COLOR>): slipway-mail's SMTP and
    # MAILGUN_SMTP give SMTP_URL... and MAILGUN_SMTP_SERVER... A taken name gets _2, _3.
    attachments: tuple[str, ...] = ()

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

    def plan_named(self, name: str) -> Plan:
        """The plan called `name` (short or full), or UnknownPlan saying which there are."""
        plan = self.plan(name)
        if plan is None:
            raise UnknownPlan(self.no_plan(name))
        return plan

    def no_plan(self, name: str) -> str:
        """The sentence for a plan this service does not have."""
        plans = ", ".join(p.short_name for p in self.plans)
        return f"The {self.name} service has no plan {name!r}; choose one of {plans}."


@dataclass(frozen=True)
class Provisioned:
    resource_id: str
    config: dict[str, str]  # {"URL": "postgres://..."}


@dataclass(frozen=True)
class PlanChange:
    """What `change_plan` did, for the user: `message` is one sentence (or two)."""

    message: str  # "The new limit of 40 connections applies now."
    # The add-on's server was (or must be) restarted for the plan to apply.
    restarted: bool = False
    # New credentials or URLs, when the plan change changed them (None: unchanged).
    config: dict[str, str] | None = None


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
    # How long an essential-0 database may stay over its row limit before INSERT is revoked.
    postgres_row_limit_grace: float = option(
        7 * 86400.0,
        "--postgres-row-limit-grace",
        "Days an essential-0 database may stay over 10,000 rows before INSERT is revoked.",
        scale=86400,
        min=0,
    )
    # heroku-redis
    redis_server_bin: str = "redis-server"
    redis_cli_bin: str = "redis-cli"
    # Ports redis-servers may take, one per add-on (kept for its lifetime).
    redis_ports: tuple[int, int] = (16380, 17379)
    # When Slipway runs as root, run redis-servers as this OS user (None: as root,
    # locked down with ACLs: no CONFIG, MODULE, DEBUG, SHUTDOWN... for the app).
    redis_os_user: str | None = None
    # jawsdb-maria: an existing MariaDB/MySQL server to create databases and users on
    # (mysql://USER:PASSWORD@HOST:PORT/ with CREATE USER and GRANT OPTION). None: an
    # embedded server made with mariadb-install-db under <data_dir>/addons/mysql.
    mysql_admin_url: str | None = option(
        None,
        "--mysql-admin-url",
        "A MariaDB or MySQL server for jawsdb-maria add-ons, as mysql://USER:PASSWORD@HOST:PORT/ "
        "(default: a server the platform runs under its data dir).",
        envvar="SLIPWAY_MYSQL_ADMIN_URL",
    )
    # The OS user the embedded MariaDB runs as when Slipway runs as root.
    mysql_os_user: str = "mysql"
    # Ports the embedded MariaDB may take (first free one, then kept).
    mysql_ports: tuple[int, int] = (13306, 13405)
    # cloudamqp: an existing RabbitMQ's management API, as http://USER:PASSWORD@HOST:15672/
    # (an administrator); AMQP is then reached on that host's 5672. None: an embedded
    # rabbitmq-server under <data_dir>/addons/rabbitmq, on its own ports and node name.
    rabbitmq_admin_url: str | None = option(
        None,
        "--rabbitmq-admin-url",
        "A RabbitMQ management API for cloudamqp add-ons, as http://USER:PASSWORD@HOST:15672/ "
        "(default: a rabbitmq-server the platform runs under its data dir).",
        envvar="SLIPWAY_RABBITMQ_ADMIN_URL",
    )
    # The AMQP port of the server behind --rabbitmq-admin-url.
    rabbitmq_amqp_port: int = 5672
    # The OS user the embedded rabbitmq-server runs as when Slipway runs as root.
    rabbitmq_os_user: str = "rabbitmq"
    # Ports the embedded rabbitmq-server may take: AMQP, its distribution port and the
    # management API are three consecutive ports from the first free one.
    rabbitmq_ports: tuple[int, int] = (35672, 35771)
    # memcachier: one memcached per add-on, with SASL, on a port from this range.
    memcached_bin: str = "memcached"
    memcached_ports: tuple[int, int] = (17380, 17479)
    memcached_os_user: str = "memcache"
    # slipway-mail: the submission port (STARTTLS, AUTH) apps send through, on 127.0.0.1;
    # None: the first free one in `smtp_ports`, then kept.
    smtp_port: int | None = option(
        None,
        "--smtp-port",
        "The port slipway-mail accepts mail from apps on (STARTTLS, AUTH) "
        "(default: the first free one from 2587, then kept).",
    )
    smtp_ports: tuple[int, int] = (2587, 2686)
    smtp_relay: str | None = option(
        None,
        "--smtp-relay",
        "Relay slipway-mail's messages through this smarthost, as smtp://USER:PASS@HOST:587 "
        "(default: keep them in each add-on's inbox only).",
        envvar="SLIPWAY_SMTP_RELAY",
    )
    # The certificate (PEM chain) and key add-on servers present to TLS clients, valid
    # for the hosts in their URLs; set by the server from the platform's CA. None: the
    # servers speak plain TCP only.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # Settings for third-party providers, by convention "<provider>.<key>".
    extra: Mapping[str, str] = field(default_factory=dict, hash=False)

    def listen_addresses(self) -> list[str]:
        """Where an embedded add-on server listens: 127.0.0.1, and `listen_host` besides."""
        extra = self.listen_host
        return ["127.0.0.1", extra] if extra and extra != "127.0.0.1" else ["127.0.0.1"]

    def url_host(self) -> str:
        """The host the URLs of an embedded add-on server name: `listen_host`, else 127.0.0.1."""
        return self.listen_host or "127.0.0.1"


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
        """The current credentials, e.g. {"URL": ...}: from what the provider stored and
        its settings only (the same answer at every call), and quick, since the platform
        asks for every add-on as it starts and gives apps whose vars differ a release."""
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
    # Made by a backup schedule (pg:backups:schedule): kept only as the plan's retention says.
    scheduled: bool = False


class Backups(Protocol):
    """The backups of a provider's add-ons. Every method may raise AddonError (and only that):
    ResourceNotFound for an unknown resource or backup, BackupFailed when one did not work."""

    def list_backups(self, resource_id: str) -> list[Backup]:
        """pg:backups: the resource's backups, oldest first."""
        ...

    def capture_backup(self, resource_id: str, scheduled: bool = False) -> Backup:
        """pg:backups:capture: a new backup, complete when this returns (`scheduled`: made
        by a backup schedule)."""
        ...

    def delete_backup(self, resource_id: str, backup_name: str) -> None:
        """Remove one backup (a scheduled one past the plan's retention)."""
        ...

    def restore_backup(
        self, resource_id: str, backup_name: str, *, source_resource_id: str | None = None
    ) -> None:
        """pg:backups:restore: the resource holds what the backup holds; on failure, as it was.

        The backup is the resource's own, or another resource's of the same provider when
        `source_resource_id` names it (`pg:backups:restore OTHER_APP::b001 DATABASE`)."""
        ...

    def backup_path(self, resource_id: str, backup_name: str) -> Path:
        """pg:backups:download: the backup's file, served as it is."""
        ...


@runtime_checkable
class SupportsBackups(Protocol):
    """A provider that offers backups (the capability the platform checks for)."""

    backups: Backups


@runtime_checkable
class SupportsPlanChange(Protocol):
    """A provider whose add-ons can change plan (addons:upgrade, addons:downgrade)."""

    def change_plan(self, resource_id: str, plan: Plan) -> PlanChange:
        """Apply `plan`'s limits to the resource; on failure (AddonError) nothing changed."""
        ...


@runtime_checkable
class SupportsLimits(Protocol):
    """A provider with limits that a periodic check enforces (rows, storage)."""

    def enforce_limits(self, resource_id: str, now: datetime) -> str | None:
        """Check the resource against its plan; a sentence for the app's log when its
        state changed (over the limit: warned; still over after the grace: writes
        revoked; back under it or upgraded: writes restored), else None."""
        ...


@dataclass(frozen=True)
class OpenPage:
    """Where `addons:open` sends the add-on's owner, once the platform checked who they are.

    `cookies` log them in: the platform sets them for the page's host (cookies are
    not bound to a port) on its redirect, so they never appear in a URL."""

    url: str
    cookies: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class SupportsOpen(Protocol):
    """A provider with a web page for its add-ons (addons:open)."""

    def open_page(self, resource_id: str) -> OpenPage:
        """The page, and how the add-on's owner is logged into it as the add-on's user."""
        ...


@dataclass(frozen=True)
class Message:
    """One message an add-on's inbox kept."""

    id: str
    received_at: datetime
    mail_from: str
    recipients: tuple[str, ...]
    subject: str
    size: int
    status: str  # "kept", "relayed", "relay failed: ..."
    raw: bytes = b""  # only filled by Inbox.message


class Inbox(Protocol):
    """The messages a mail add-on kept (the newest 1,000)."""

    def list_messages(self, resource_id: str, limit: int = 100) -> list[Message]:
        """Newest first."""
        ...

    def message(self, resource_id: str, message_id: str) -> Message:
        """One message with its raw text; ResourceNotFound when it is not kept."""
        ...


@runtime_checkable
class SupportsInbox(Protocol):
    inbox: Inbox


ProviderFactory = Callable[[Path, AddonSettings], Provider]


@runtime_checkable
class SupportsReset(Protocol):
    """A provider whose resources can be emptied in place (pg:reset)."""

    def reset(self, resource_id: str) -> None:
        """Everything the resource holds is gone; its credentials stay the same."""
        ...


@dataclass(frozen=True)
class Setting:
    """A setting of a resource as Heroku's data API shows it (`redis:maxmemory`)."""

    value: str
    # The values it may take, each with a description; empty when it is free-form.
    choices: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class SupportsSettings(Protocol):
    """A provider with settings users may change (redis:maxmemory, redis:timeout ...)."""

    def get_settings(self, resource_id: str) -> dict[str, Setting]:
        """Every setting by its data-API name (`maxmemory_policy`)."""
        ...

    def update_settings(self, resource_id: str, changes: Mapping[str, str]) -> dict[str, Setting]:
        """Apply `changes` (all or none; InvalidOptions for an unknown name or value) and
        return every setting."""
        ...
