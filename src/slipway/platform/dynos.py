"""Dynos: what the runtime should run (from the store), and the dyno use cases of the API.

The runtime never reads the store. `app_spec` turns an app's newest live
release and its formation into the `AppSpec` the dyno manager converges on;
`settle_release` records what the manager found (promoted or failed). The
use cases check access first, then ask the dyno manager through the
`dyno_runtime` port (`Unavailable` when the server runs none).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from slipway.platform import access, audit, features, views
from slipway.platform.addon_keys import addon_endpoints
from slipway.platform.apps import current_release_row, find_app_row, latest_live_release_row
from slipway.platform.domains import custom_hostnames
from slipway.platform.errors import InvalidParams, NotFound, PlatformError, Unavailable
from slipway.platform.events import RuntimeChanged
from slipway.platform.formation_rules import DynoSize, parse_size
from slipway.platform.formations import formation_rows, planned_formation, sync_formation
from slipway.platform.ports import DynoRuntime
from slipway.platform.releases import ReleaseReason
from slipway.platform.route_rules import RUN_ATTACH
from slipway.platform.tx import Tx
from slipway.runtime.errors import DynoError, DynoNotFound
from slipway.runtime.manager import DynoInfo, OneOffRequest
from slipway.runtime.specs import AppSpec, ProcessSpec, ReleaseSpec, SizeLimits
from slipway.store.models import AppRow, EcoUsageRow, ReleaseRow, SlugRow

SlugPath = Callable[[str], Path]


def _release_spec(tx: Tx, row: ReleaseRow, slug_path: SlugPath) -> ReleaseSpec | None:
    slug = tx.session.get(SlugRow, row.slug_id) if row.slug_id else None
    if slug is None or not slug.checksum:
        return None
    digest = slug.checksum.partition(":")[2] or slug.checksum
    return ReleaseSpec(
        version=row.version,
        slug_archive=slug_path(digest.lower()),
        slug_checksum=slug.checksum,
        config=dict(row.config),
        process_types=dict(slug.process_types),
        commit=slug.commit,
        created_at=row.created_at.isoformat(),
        description=row.description,
        runs_release_phase=ReleaseReason(row.reason).runs_release_phase,
        addon_endpoints=addon_endpoints(row.config[k] for k in row.addon_keys if k in row.config),
    )


def size_limits(size: DynoSize) -> SizeLimits:
    """What the runtime enforces for a size: its CPU weight is 100 per unit of compute."""
    return SizeLimits(
        pids=size.pids,
        cpu_weight=100 * size.compute,
        cpu_quota=size.cpu_quota,
        disk_mb=size.disk_mb,
    )


def app_spec(tx: Tx, app_id: str, slug_path: SlugPath) -> AppSpec | None:
    """What should run for the app, or None when nothing can (no slug, or app gone)."""
    app = tx.session.get(AppRow, app_id)
    if app is None:
        return None
    target_row = latest_live_release_row(tx, app_id)
    if target_row is None:
        return None
    target = _release_spec(tx, target_row, slug_path)
    if target is None:
        return None
    current_row = current_release_row(tx, app_id)
    current = _release_spec(tx, current_row, slug_path) if current_row else None
    planned = planned_formation(
        target.process_types, formation_rows(tx, app), tx.settings.default_dyno_size
    )
    formation = tuple(
        ProcessSpec(
            ptype,
            command,
            quantity,
            size,
            parse_size(size).memory_mb,
            size_limits(parse_size(size)),
        )
        for ptype, command, quantity, size in planned
    )
    web_host = tx.settings.web_url(app.name).split("://", 1)[1].split("/", 1)[0]
    return AppSpec(
        app_id=app.id,
        app_name=app.name,
        uid=app.uid,
        release=target,
        settled=target_row.status == "succeeded",
        current=current,
        formation=formation,
        web_host=web_host.split(":", 1)[0],
        maintenance=app.maintenance,
        sleeps=app.sleeps or any(p.size.lower() == "eco" for p in formation),
        eco=any(p.size.lower() == "eco" for p in formation),
        domains=tuple(custom_hostnames(tx, app.id)),
        quota_exhausted=eco_seconds_used(tx, app.owner_id) >= tx.settings.eco_quota_hours * 3600,
        preboot=features.enabled(app.features or {}, features.PREBOOT),
        dyno_metadata=features.enabled(app.features or {}, features.DYNO_METADATA),
    )


def _month(tx: Tx) -> str:
    return tx.clock.now().strftime("%Y-%m")


def eco_seconds_used(tx: Tx, account_id: str) -> float:
    row = tx.session.get(EcoUsageRow, (account_id, _month(tx)))
    return row.seconds if row else 0.0


def record_eco_usage(tx: Tx, app_id: str, seconds: float) -> None:
    """Charge eco dyno time to the app owner's monthly pool; at the limit, eco apps sleep."""
    app = tx.session.get(AppRow, app_id)
    if app is None:
        return
    quota = tx.settings.eco_quota_hours * 3600
    row = tx.session.get(EcoUsageRow, (app.owner_id, _month(tx)), with_for_update=True)
    if row is None:
        row = EcoUsageRow(account_id=app.owner_id, month=_month(tx), seconds=0.0)
        tx.session.add(row)
    before = row.seconds
    row.seconds = before + seconds
    if before < quota <= row.seconds:
        owned = tx.session.scalars(select(AppRow.id).where(AppRow.owner_id == app.owner_id))
        for owned_id in owned:
            tx.log(owned_id, "Eco dyno hours for this month are used up; eco dynos now sleep")
            tx.emit(RuntimeChanged(owned_id))


def eco_quota(tx: Tx, actor: views.Actor, account_ident: str) -> tuple[float, float]:
    """(quota seconds, used seconds) of the account's eco pool this month."""
    if account_ident not in (actor.id, actor.email, "~"):
        raise NotFound("Couldn't find that account.", resource="account")
    return tx.settings.eco_quota_hours * 3600, eco_seconds_used(tx, actor.id)


def app_stub(tx: Tx, app_id: str) -> tuple[str, bool, tuple[str, ...]] | None:
    """What the router needs of an app with nothing to run (it shows the blank-app page)."""
    app = tx.session.get(AppRow, app_id)
    if app is None:
        return None
    return app.name, app.maintenance, tuple(custom_hostnames(tx, app.id))


def all_app_ids(tx: Tx) -> list[str]:
    return list(tx.session.scalars(select(AppRow.id)))


def settle_release(tx: Tx, app_id: str, version: int, ok: bool, reason: str) -> dict[int, str]:
    """Promote (or fail) a pending release; older pending ones are settled with it.

    Returns {version: status} for every release whose status this decided.
    """
    app = tx.session.get(AppRow, app_id, with_for_update=True)
    if app is None:
        return {}
    row = tx.session.scalar(
        select(ReleaseRow).where(ReleaseRow.app_id == app_id, ReleaseRow.version == version)
    )
    if row is None:
        return {}
    if row.status != "pending":
        return {version: row.status}
    now = tx.clock.now()
    settled: dict[int, str] = {}
    if ok:
        row.status, row.updated_at = "succeeded", now
        settled[version] = "succeeded"
        app.released_at = now
        app.updated_at = now
        slug = tx.session.get(SlugRow, row.slug_id) if row.slug_id else None
        sync_formation(tx, app, slug.process_types if slug else {})
        older = tx.session.scalars(
            select(ReleaseRow).where(
                ReleaseRow.app_id == app_id,
                ReleaseRow.version < version,
                ReleaseRow.status == "pending",
            )
        )
        for stale in older:
            # Superseded while it rolled out: its code is live if it shares the slug.
            same = stale.slug_id == row.slug_id
            stale.status, stale.updated_at = ("succeeded" if same else "failed"), now
            settled[stale.version] = stale.status
            if not same:
                tx.log(app_id, f"Release v{stale.version} was superseded by v{version}")
    else:
        row.status, row.updated_at = "failed", now
        settled[version] = "failed"
        current = current_release_row(tx, app_id)
        keeps = f"; v{current.version} keeps running" if current else ""
        tx.log(app_id, f"Release v{version} failed: {reason}{keeps}")
    tx.emit(RuntimeChanged(app_id))
    tx.session.flush()
    return settled


# -- use cases --------------------------------------------------------------------------


@dataclass(frozen=True)
class DynoView:
    """A dyno as the API shows it: the runtime's snapshot, with its app's name and release id."""

    info: DynoInfo
    app_name: str
    release_id: str | None


def _views(tx: Tx, app: AppRow, infos: list[DynoInfo]) -> list[DynoView]:
    rows = tx.session.execute(
        select(ReleaseRow.version, ReleaseRow.id).where(ReleaseRow.app_id == app.id)
    ).all()
    ids = {row.version: row.id for row in rows}
    return [DynoView(i, app.name, ids.get(i.release_version)) for i in infos]


def _runtime(tx: Tx) -> DynoRuntime:
    runtime = tx.ports.dyno_runtime
    if runtime is None:
        raise Unavailable("This server runs no dyno manager.")
    return runtime


def _runtime_error(exc: DynoError) -> PlatformError:
    if isinstance(exc, DynoNotFound):
        return NotFound(exc.message, resource="dyno")
    return InvalidParams(exc.message)


def _type_or_name(ptype: str | None, name: str | None) -> tuple[str | None, str | None]:
    """`/dynos/worker` names a process type, as Heroku reads it; `/dynos/worker.1` one dyno."""
    if name is not None and "." not in name:
        return name, None
    return ptype, name


def list_dynos(tx: Tx, actor: views.Actor, app_ident: str) -> list[DynoView]:
    runtime = _runtime(tx)
    app = find_app_row(tx, actor, app_ident)
    return _views(tx, app, runtime.dynos(app.id))


def get_dyno(tx: Tx, actor: views.Actor, app_ident: str, ident: str) -> DynoView:
    runtime = _runtime(tx)
    app = find_app_row(tx, actor, app_ident)
    for info in runtime.dynos(app.id):
        if ident in (info.name, info.id):
            return _views(tx, app, [info])[0]
    raise NotFound(f"Couldn't find that dyno ({ident}).", resource="dyno")


def _control(
    tx: Tx,
    actor: views.Actor,
    app_ident: str,
    verb: str,
    ptype: str | None,
    name: str | None,
) -> None:
    """Restart or stop: access check, `web` vs `web.1`, the runtime, the app[api] line."""
    runtime = _runtime(tx)
    action = {"Restart": runtime.restart, "Stop": runtime.stop}[verb]
    app = find_app_row(tx, actor, app_ident)
    ptype, name = _type_or_name(ptype, name)
    try:
        action(app.id, ptype=ptype, name=name)
    except DynoError as exc:
        raise _runtime_error(exc) from exc
    tx.log(app.id, f"{verb} {name or ptype or 'all dynos'} by user {actor.email}")
    audit.record(tx, actor, verb.lower(), f"{verb} {name or ptype or 'all dynos'}", app=app)


def restart(
    tx: Tx,
    actor: views.Actor,
    app_ident: str,
    *,
    ptype: str | None = None,
    name: str | None = None,
) -> None:
    _control(tx, actor, app_ident, "Restart", ptype, name)


def stop(
    tx: Tx,
    actor: views.Actor,
    app_ident: str,
    *,
    ptype: str | None = None,
    name: str | None = None,
) -> None:
    _control(tx, actor, app_ident, "Stop", ptype, name)


def _attach_check(tx: Tx, actor: views.Actor, app: AppRow) -> Callable[[], bool] | None:
    """The rendezvous door: the token that asked for the dyno must still be good when
    its client arrives."""
    if tx.platform is None:
        return None
    return access.Grant(tx.platform, actor.authorization_id, app.id, RUN_ATTACH).still_valid


def create_dyno(
    tx: Tx,
    actor: views.Actor,
    app_ident: str,
    *,
    command: str,
    attach: bool,
    size: str | None,
    env: Mapping[str, str],
    force_no_tty: bool,
    ptype: str = "run",
    time_to_live: float | None = None,
) -> DynoView:
    """`heroku run`: a one-off dyno on the current release."""
    runtime = _runtime(tx)
    app = find_app_row(tx, actor, app_ident)
    if not command.strip():
        raise InvalidParams("Give a command to run, e.g. `run bash`.")
    if ptype != "run" and not ptype.replace("-", "").replace("_", "").isalnum():
        raise InvalidParams(f"Dyno type {ptype!r} is invalid.")
    if current_release_row(tx, app.id) is None:
        raise InvalidParams(f"{app.name} has no release yet; deploy it with git push first.")
    chosen = parse_size(size) if size else parse_size(tx.settings.default_dyno_size)
    if time_to_live is not None and not 0 < time_to_live <= 86400:
        raise InvalidParams("time_to_live must be between 1 and 86400 seconds.")
    try:
        info = runtime.run(
            app.id,
            OneOffRequest(
                command=command,
                attach=attach,
                size=chosen.name,
                memory_mb=chosen.memory_mb,
                limits=size_limits(chosen),
                env={str(k): str(v) for k, v in env.items()},
                # A terminal only for a client that has one: the official CLI sends
                # COLUMNS/LINES exactly when its output is a terminal (a piped `heroku run
                # cat` would otherwise get its input echoed back).
                tty=not force_no_tty and bool({"COLUMNS", "LINES"} & set(env)),
                type=ptype,
                time_to_live=time_to_live,
                still_allowed=_attach_check(tx, actor, app) if attach else None,
            ),
        )
    except DynoError as exc:
        raise _runtime_error(exc) from exc
    tx.log(app.id, f"Starting process with command `{command}` by user {actor.email}")
    audit.record(tx, actor, "run", f"Ran `{command[:200]}`", app=app)
    return _views(tx, app, [info])[0]
