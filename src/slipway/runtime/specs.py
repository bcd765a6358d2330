"""What the platform asks the runtime to run: plain, immutable data, no store rows.

The platform turns the store's current release and formation into an `AppSpec`;
the runtime never reads the store itself (DESIGN: runtime sits to the right of
platform and store).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class SizeLimits:
    """What a dyno size allows besides memory; None leaves it unlimited."""

    # Processes and threads (Heroku's per-size "process/thread limit").
    pids: int | None = None
    # CPU share when the machine is busy (100 = one standard-1X share).
    cpu_weight: int | None = None
    # CPUs the dyno may use at most, however idle the machine.
    cpu_quota: float | None = None
    # The ephemeral filesystem (/app's writable layer and /tmp), in MB.
    disk_mb: int | None = None


@dataclass(frozen=True)
class ProcessSpec:
    """One process type of the formation: `web: gunicorn app:app`, scaled to 2 basic dynos."""

    type: str
    command: str
    quantity: int
    size: str
    memory_mb: int
    limits: SizeLimits = field(default_factory=SizeLimits)


@dataclass(frozen=True)
class ReleaseSpec:
    version: int
    slug_archive: Path
    slug_checksum: str
    config: Mapping[str, str]
    process_types: Mapping[str, str]
    commit: str | None
    created_at: str
    description: str
    # Heroku skips the release phase for releases that only change add-on config vars.
    runs_release_phase: bool = True
    # (host, port) of the add-on servers its add-on config vars name: the only
    # platform addresses its dynos may reach besides the outside world.
    addon_endpoints: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class AppSpec:
    """The desired state of one app.

    `release` is the newest release that has not failed. When it is not yet
    `settled` (its status is pending) the runtime runs its release phase, boots
    its web dynos beside the old ones and reports success or failure; once
    settled it is the app's current release and every process type follows it.
    """

    app_id: str
    app_name: str
    uid: int
    release: ReleaseSpec
    settled: bool
    # The release serving now (the newest that succeeded); one-off dynos run it.
    current: ReleaseSpec | None
    formation: tuple[ProcessSpec, ...]
    web_host: str = ""
    maintenance: bool = False
    # Sleeps after a while without requests (eco dynos, or the app's own choice).
    sleeps: bool = False
    # Runs eco dynos, which also sleep when the account's eco hours run out.
    eco: bool = False
    quota_exhausted: bool = False
    owner_email: str = ""
    domains: tuple[str, ...] = ()
    extra_env: Mapping[str, str] = field(default_factory=dict)
    # Labs features: web dynos boot beside the old ones (off: the old ones stop first),
    # and dynos get the metadata variables (HEROKU_APP_ID, HEROKU_RELEASE_VERSION...).
    preboot: bool = True
    dyno_metadata: bool = True

    def process(self, ptype: str) -> ProcessSpec | None:
        return next((p for p in self.formation if p.type == ptype), None)
