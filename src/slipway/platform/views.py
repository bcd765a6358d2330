"""What the platform hands out: immutable snapshots, never live database rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Account:
    id: str
    email: str
    name: str
    is_admin: bool
    created_at: dt.datetime
    updated_at: dt.datetime


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
