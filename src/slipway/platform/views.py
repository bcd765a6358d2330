"""What the platform hands out: immutable snapshots, never live database rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from slipway.platform.permissions import SIGNED_IN, Need, Permission, Scope


@dataclass(frozen=True)
class Account:
    id: str
    email: str
    name: str
    is_admin: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    last_login_at: dt.datetime | None = None
    disabled: bool = False
    has_password: bool = False


@dataclass(frozen=True)
class Actor:
    """An account acting through one token for one door: every use case is handed one.

    `need` is what the door asks (the route's rule): each app a use case touches is
    checked against it by `platform.access`, so a route cannot reach further than its
    rule says, whichever app it finds on the way."""

    account: Account
    need: Need = SIGNED_IN
    scopes: frozenset[Scope] = frozenset({Scope.GLOBAL})
    authorization_id: str | None = None
    address: str | None = None

    @property
    def id(self) -> str:
        return self.account.id

    @property
    def email(self) -> str:
        return self.account.email

    @property
    def is_admin(self) -> bool:
        return self.account.is_admin

    def needing(self, need: Need) -> Actor:
        return Actor(self.account, need, self.scopes, self.authorization_id, self.address)


@dataclass(frozen=True)
class Authorization:
    id: str
    kind: str  # "oauth" or "api-key" (the account's default key)
    description: str
    scope: tuple[str, ...]
    token: str  # the token itself right after creation or rotation, else its redacted form
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    last_used_from: str | None
    user: Account
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class TeamRef:
    id: str
    name: str


@dataclass(frozen=True)
class App:
    id: str
    name: str
    owner: Account
    maintenance: bool
    stack: str
    build_stack: str
    region: str
    web_url: str
    git_url: str
    slug_size: int
    buildpack_provided_description: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    released_at: dt.datetime | None
    process_tier: str = "production"
    sleeps: bool = False
    team: TeamRef | None = None
    locked: bool = False
    # The current slug's commit, and the labs features switched away from their default.
    slug_commit: str | None = None
    feature_switches: dict[str, bool] = field(default_factory=dict)
    # Automatic Certificate Management: on for this app, on a server that runs ACME.
    acm: bool = False


@dataclass(frozen=True)
class Slug:
    id: str
    app_id: str
    process_types: dict[str, str]
    commit: str | None
    commit_description: str | None
    buildpack_provided_description: str | None
    stack: str
    size: int | None
    checksum: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    runtimes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Release:
    id: str
    app_id: str
    app_name: str
    version: int
    description: str
    status: str
    slug_id: str | None
    user_id: str
    user_email: str
    current: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    addon_plan_names: tuple[str, ...] = field(default_factory=tuple)
    # Its release phase runs (or ran): it has an output_stream_url.
    release_phase: bool = False
    # The runtimes inside its slug (filled where releases are listed or read).
    slug_runtimes: dict[str, str] = field(default_factory=dict)

    @property
    def eligible_for_rollback(self) -> bool:
        return self.status == "succeeded"


@dataclass(frozen=True)
class Formation:
    id: str
    app_id: str
    app_name: str
    type: str
    command: str
    quantity: int
    size: str
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class Build:
    id: str
    app_id: str
    app_name: str
    status: str
    source_url: str | None
    source_version: str | None
    source_checksum: str | None
    buildpacks: tuple[str, ...]
    stack: str
    slug_id: str | None
    release_id: str | None
    release_version: int | None
    user_id: str
    user_email: str
    created_at: dt.datetime
    updated_at: dt.datetime
    runtimes: dict[str, str] = field(default_factory=dict)  # its slug's


@dataclass(frozen=True)
class BuildContext:
    """What a build needs to know about its app, read when the build starts."""

    build_id: str
    app_id: str
    app_name: str
    uid: int
    config: dict[str, str]
    buildpacks: tuple[str, ...]
    stack: str
    web_url: str
    source_version: str | None


@dataclass(frozen=True)
class LogDrain:
    id: str
    app_id: str
    app_name: str
    token: str
    url: str
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class LogSession:
    id: str
    token: str  # signed; the log stream URL carries it as its capability
    warning: str | None  # when history the session asks for was dropped
    created_at: dt.datetime


@dataclass(frozen=True)
class Domain:
    id: str
    app_id: str
    app_name: str
    hostname: str
    kind: str  # "heroku" for APP.<base domain>, "custom" for the ones users add
    cname: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    # Heroku's ACM interface: None where ACM does not look after the host.
    acm_status: str | None = None
    acm_status_reason: str | None = None
    sni_endpoint: str | None = None  # the name of the certificate that serves it


@dataclass(frozen=True)
class Addon:
    id: str
    name: str
    service: str
    plan: str
    state: str
    app_id: str
    app_name: str
    config_vars: tuple[str, ...]
    created_at: dt.datetime
    updated_at: dt.datetime
    provision_message: str = ""
    # Where addons:open goes (the platform's /addons/ID/open), for services with a page.
    web_url: str | None = None
    price_cents: int = 0  # the plan's display price per month
    attachment_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Attachment:
    id: str
    name: str
    app_id: str
    app_name: str
    addon_id: str
    addon_name: str
    addon_app_id: str
    addon_app_name: str
    created_at: dt.datetime
    updated_at: dt.datetime
    web_url: str | None = None  # the add-on's page (addons:open reads it here first)
    # The add-on's plan ("heroku-postgresql:essential-0") and the vars this attachment sets.
    addon_plan: str = ""
    addon_service: str = ""
    config_vars: tuple[str, ...] = ()


@dataclass(frozen=True)
class AddonService:
    """A service of the add-on catalogue; `id` is stable (services have no rows)."""

    id: str
    name: str  # "heroku-postgresql"
    human_name: str


@dataclass(frozen=True)
class AddonPlan:
    """A plan of a catalogue service; `id` is stable, like the service's."""

    id: str
    name: str  # "heroku-postgresql:essential-0"
    human_name: str
    description: str
    default: bool
    price_cents: int
    service: AddonService


@dataclass(frozen=True)
class AddonBackup:
    name: str  # "b001"
    created_at: dt.datetime
    size: int  # bytes
    status: str  # "Completed"
    scheduled: bool = False


@dataclass(frozen=True)
class SchedulerJob:
    """A Heroku Scheduler job of an app."""

    id: str
    app_id: str
    app_name: str
    addon_name: str
    frequency: str  # "every day at 02:00"
    schedule: str  # its cron expression, UTC
    command: str
    size: str
    next_run_at: dt.datetime
    last_run_at: dt.datetime | None
    last_dyno: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class Collaborator:
    id: str
    app_id: str
    app_name: str
    user: Account
    role: str  # owner, collaborator, admin, member, viewer
    permissions: tuple[Permission, ...]
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class BackupSchedule:
    """pg:backups:schedule: a daily backup of one add-on."""

    id: str
    addon_id: str
    addon_name: str
    name: str  # "DATABASE_URL"
    hour: int
    timezone: str
    retention: str  # "7 daily backups"
    next_run_at: dt.datetime
    last_run_at: dt.datetime | None


@dataclass(frozen=True)
class MailMessage:
    """One message of a slipway-mail add-on's inbox."""

    id: str
    received_at: dt.datetime
    mail_from: str
    recipients: tuple[str, ...]
    subject: str
    size: int
    status: str
    raw: str = ""  # the message, only when one is shown


@dataclass(frozen=True)
class Team:
    id: str
    name: str
    role: str | None  # the asking account's role in it
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class TeamMember:
    id: str
    team_id: str
    user: Account
    role: str
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class Invitation:
    id: str
    email: str
    team: TeamRef | None
    role: str | None
    invited_by: str
    expires_at: dt.datetime
    accepted_at: dt.datetime | None
    created_at: dt.datetime
    token: str | None = None  # only when just made: the link's secret


@dataclass(frozen=True)
class AppTransfer:
    id: str
    app_id: str
    app_name: str
    owner: Account
    recipient: Account
    state: str
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class AuditEvent:
    id: str
    created_at: dt.datetime
    action: str
    account_id: str | None
    email: str
    address: str | None
    app_id: str | None
    app_name: str | None
    description: str


@dataclass(frozen=True)
class AppFeature:
    """A labs feature of an app (`heroku labs`)."""

    name: str
    display_name: str
    description: str
    doc_url: str
    state: str
    enabled: bool


@dataclass(frozen=True)
class DataInfo:
    """What Heroku's data API says about a database or key-value store (pg:info, redis:info)."""

    addon: Addon
    resource_url: str
    rows: tuple[tuple[str, str], ...]
    created_at: dt.datetime


@dataclass(frozen=True)
class Credential:
    """The add-on's one credential (`default`), parsed from its URL (pg:credentials)."""

    user: str
    password: str
    host: str
    port: int
    database: str
    connections: int


@dataclass(frozen=True)
class Transfer:
    """A backup or a restore, as Heroku's data API lists them (`pg:backups`)."""

    uuid: str
    num: int
    kind: str  # "backup" or "restore"
    addon_id: str
    addon_name: str
    attachment: str  # DATABASE
    succeeded: bool
    size: int
    created_at: dt.datetime
    finished_at: dt.datetime
    backup_name: str  # b001: what was captured or restored
    backup_addon_id: str  # whose backup it is
    message: str = ""


@dataclass(frozen=True)
class SniEndpoint:
    """A certificate served by SNI: one a user added (`certs:add`) or one ACM issued."""

    id: str
    name: str
    app_id: str | None
    app_name: str | None
    certificate_chain: str
    hostnames: tuple[str, ...]
    domains: tuple[str, ...]  # the app's domains it serves
    acm: bool
    issuer: str
    subject: str
    self_signed: bool
    not_before: dt.datetime
    not_after: dt.datetime
    created_at: dt.datetime
    updated_at: dt.datetime
