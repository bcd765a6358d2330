"""What Heroku's data API answers for pg:* and redis:* (`/client/v11`, `/postgres/v0`,
`/redis/v0`): a database's info, its credential, reset, settings, and its transfers.

Each finds the add-on the actor can see (by id or name, of the service the path
is about) in one transaction, then asks its provider outside any transaction.
Backups are the provider's (`SupportsBackups`); restores are recorded here
(`addon_restores`) so `pg:backups` can list them as Heroku's transfers.
"""

from __future__ import annotations

import urllib.parse
import uuid
from pathlib import Path

from sqlalchemy import func, select

from slipway.addons.errors import AddonError
from slipway.addons.provider import (
    Backup,
    Provider,
    Setting,
    SupportsBackups,
    SupportsReset,
    SupportsSettings,
)
from slipway.platform import views
from slipway.platform.addons.providers import platform_error, provider_errors, provider_for
from slipway.platform.addons.records import addon_view, find_addon
from slipway.platform.apps import find_app_row
from slipway.platform.errors import InvalidParams, NotFound
from slipway.platform.tx import Platform, Tx
from slipway.store.models import AddonAttachmentRow, AddonRestoreRow, AddonRow, AppRow

POSTGRES = "heroku-postgresql"
REDIS = "heroku-redis"
BACKUP_PATH = "/backup-downloads/"


def _addon_row(tx: Tx, actor: views.Actor, ident: str, service: str) -> AddonRow:
    row = find_addon(tx, actor, ident)
    if row.service != service:
        raise NotFound(
            f"{row.name} is a {row.service} add-on, not a {service} one; name a {service} add-on.",
            resource="addon",
        )
    if row.state != "provisioned" or row.resource_id is None:
        raise NotFound(
            f"{row.name} is {row.state}; wait until it is provisioned (heroku addons:wait).",
            resource="addon",
        )
    return row


def _target(
    platform: Platform, actor: views.Actor, ident: str, service: str
) -> tuple[Provider, str, views.Addon]:
    with platform.tx() as tx:
        row = _addon_row(tx, actor, ident, service)
        assert row.resource_id is not None
        return provider_for(platform.ports, row.service), row.resource_id, addon_view(tx, row)


def require(platform: Platform, actor: views.Actor, ident: str, service: str) -> views.Addon:
    """The provisioned `service` add-on the actor names, or NotFound."""
    with platform.tx() as tx:
        return addon_view(tx, _addon_row(tx, actor, ident, service))


def data_info(platform: Platform, actor: views.Actor, ident: str, service: str) -> views.DataInfo:
    """pg:info / redis:info: the provider's rows and the URL apps connect with."""
    provider, resource_id, addon = _target(platform, actor, ident, service)
    with provider_errors():
        rows = [(k, v) for k, v in provider.info(resource_id) if k != "Add-on"]
        config = provider.config(resource_id)
    url = config.get("TLS_URL") or config.get("URL", "")
    return views.DataInfo(addon, url, tuple(rows), addon.created_at)


def wait_status(platform: Platform, actor: views.Actor, ident: str) -> tuple[bool, str]:
    """pg:wait / redis:wait: (still waiting, message). Provisioning here is synchronous."""
    with platform.tx() as tx:
        row = find_addon(tx, actor, ident)
        return row.state == "provisioning", row.state.capitalize()


def credential(platform: Platform, actor: views.Actor, ident: str) -> views.Credential:
    """pg:credentials: the add-on's one credential, `default`."""
    provider, resource_id, _ = _target(platform, actor, ident, POSTGRES)
    with provider_errors():
        url = urllib.parse.urlsplit(provider.config(resource_id)["URL"])
        rows = dict(provider.info(resource_id))
    connections = rows.get("Connections", "0").split("/", 1)[0]
    return views.Credential(
        user=urllib.parse.unquote(url.username or ""),
        password=urllib.parse.unquote(url.password or ""),
        host=url.hostname or "",
        port=url.port or 5432,
        database=url.path.lstrip("/"),
        connections=int(connections) if connections.isdigit() else 0,
    )


def check_credential_name(name: str) -> None:
    if name != "default":
        raise NotFound(
            f"Couldn't find the credential {name}; Slipway's databases have one, default.",
            resource="credential",
        )


def reset(platform: Platform, actor: views.Actor, ident: str) -> None:
    """pg:reset: an empty database; attached apps keep their config vars."""
    provider, resource_id, addon = _target(platform, actor, ident, POSTGRES)
    if not isinstance(provider, SupportsReset):
        raise InvalidParams(f"{addon.name} cannot be reset here.")
    with provider_errors():
        provider.reset(resource_id)
    with platform.tx() as tx:
        tx.log(addon.app_id, f"Reset {addon.name} by user {actor.email}")


def _settings_of(provider: Provider, addon: views.Addon) -> SupportsSettings:
    if not isinstance(provider, SupportsSettings):
        raise InvalidParams(f"{addon.name} has no settings to change.")
    return provider


def get_settings(
    platform: Platform, actor: views.Actor, ident: str, service: str
) -> dict[str, Setting]:
    provider, resource_id, addon = _target(platform, actor, ident, service)
    with provider_errors():
        return _settings_of(provider, addon).get_settings(resource_id)


def update_settings(
    platform: Platform, actor: views.Actor, ident: str, service: str, changes: dict[str, str]
) -> dict[str, Setting]:
    """redis:maxmemory, redis:timeout, redis:keyspace-notifications."""
    provider, resource_id, addon = _target(platform, actor, ident, service)
    with provider_errors():
        settings = _settings_of(provider, addon).update_settings(resource_id, changes)
    with platform.tx() as tx:
        names = ", ".join(sorted(changes))
        tx.log(addon.app_id, f"Change {names} of {addon.name} by user {actor.email}")
    return settings


# -- transfers: backups (the provider's) and restores (recorded here) --------------------


def backup_uuid(addon_id: str, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"slipway:backup:{addon_id}:{name}"))


def backup_url(tx: Tx, addon_id: str, name: str) -> str:
    """Where a backup is (a transfer's `to_url`, what `pg:backups:restore` sends back);
    downloading it needs a signed link (`pg:backups:url`)."""
    return f"https://{tx.settings.git_host}{BACKUP_PATH}{addon_id}/{name}"


def parse_backup_url(url: str) -> tuple[str, str] | None:
    """(add-on id, backup name) of one of our backup URLs; None for anything else."""
    path = urllib.parse.urlsplit(url).path
    if not path.startswith(BACKUP_PATH):
        return None
    parts = path.removeprefix(BACKUP_PATH).split("/")
    if len(parts) != 2 or not parts[1]:
        return None
    return parts[0], parts[1]


def _num(name: str) -> int:
    return int(name.lstrip("b") or 0) if name.lstrip("b").isdigit() else 0


def _backup_transfer(row: AddonRow, attachment: str, backup: Backup) -> views.Transfer:
    return views.Transfer(
        uuid=backup_uuid(row.id, backup.name),
        num=_num(backup.name),
        kind="backup",
        addon_id=row.id,
        addon_name=row.name,
        attachment=attachment,
        succeeded=backup.status == "Completed",
        size=backup.size,
        created_at=backup.created_at,
        finished_at=backup.created_at,
        backup_name=backup.name,
        backup_addon_id=row.id,
    )


def _restore_transfer(row: AddonRow, attachment: str, restore: AddonRestoreRow) -> views.Transfer:
    return views.Transfer(
        uuid=restore.id,
        num=restore.num,
        kind="restore",
        addon_id=row.id,
        addon_name=row.name,
        attachment=attachment,
        succeeded=restore.succeeded,
        size=restore.source_bytes,
        created_at=restore.created_at,
        finished_at=restore.finished_at,
        backup_name=restore.backup_name,
        backup_addon_id=restore.source_addon_id or row.id,
        message=restore.message,
    )


def _attachment_name(tx: Tx, addon: AddonRow, app: AppRow | None) -> str:
    query = select(AddonAttachmentRow.name).where(AddonAttachmentRow.addon_id == addon.id)
    if app is not None:
        query = query.where(AddonAttachmentRow.app_id == app.id)
    names = sorted(tx.session.scalars(query))
    return "DATABASE" if "DATABASE" in names else (names[0] if names else addon.name)


def _databases(tx: Tx, app: AppRow) -> list[AddonRow]:
    """The app's Postgres add-ons: its own and those attached to it."""
    attached = select(AddonAttachmentRow.addon_id).where(AddonAttachmentRow.app_id == app.id)
    return list(
        tx.session.scalars(
            select(AddonRow)
            .where(
                AddonRow.service == POSTGRES,
                AddonRow.state == "provisioned",
                (AddonRow.app_id == app.id) | AddonRow.id.in_(attached),
            )
            .order_by(AddonRow.created_at)
        )
    )


def _backups_provider(platform: Platform, service: str) -> SupportsBackups:
    provider = provider_for(platform.ports, service)
    if not isinstance(provider, SupportsBackups):
        raise InvalidParams(f"{service} add-ons have no backups.")
    return provider


def list_transfers(platform: Platform, actor: views.Actor, app_ident: str) -> list[views.Transfer]:
    """pg:backups: every backup and restore of the app's databases, oldest first."""
    with platform.tx() as tx:
        app = find_app_row(tx, actor, app_ident)
        targets = [(r, _attachment_name(tx, r, app)) for r in _databases(tx, app)]
        restores = [
            _restore_transfer(r, name, restore)
            for r, name in targets
            for restore in tx.session.scalars(
                select(AddonRestoreRow).where(AddonRestoreRow.addon_id == r.id)
            )
        ]
    if not targets:
        return []
    backups = _backups_provider(platform, POSTGRES).backups
    found: list[views.Transfer] = []
    for row, name in targets:
        assert row.resource_id is not None
        with provider_errors():
            found += [_backup_transfer(row, name, b) for b in backups.list_backups(row.resource_id)]
    return sorted(found + restores, key=lambda t: (t.created_at, t.kind, t.num))


def get_transfer(
    platform: Platform, actor: views.Actor, app_ident: str, ident: str
) -> views.Transfer:
    """One transfer by its uuid or its number (backups first: `b001` is number 1)."""
    transfers = list_transfers(platform, actor, app_ident)
    for transfer in transfers:
        if transfer.uuid == ident:
            return transfer
    if ident.isdigit():
        for kind in ("backup", "restore"):
            for transfer in transfers:
                if transfer.kind == kind and transfer.num == int(ident):
                    return transfer
    raise NotFound(
        f"Couldn't find the backup or restore {ident}; heroku pg:backups lists them.",
        resource="transfer",
    )


def capture(platform: Platform, actor: views.Actor, ident: str) -> views.Transfer:
    """pg:backups:capture: a backup now (complete when this returns)."""
    _, resource_id, addon = _target(platform, actor, ident, POSTGRES)
    backups = _backups_provider(platform, POSTGRES).backups
    with provider_errors():
        backup = backups.capture_backup(resource_id)
    with platform.tx() as tx:
        row = _addon_row(tx, actor, ident, POSTGRES)
        tx.log(addon.app_id, f"Backup {backup.name} of {addon.name} by user {actor.email}")
        return _backup_transfer(row, _attachment_name(tx, row, None), backup)


def restore(platform: Platform, actor: views.Actor, ident: str, url: str) -> views.Transfer:
    """pg:backups:restore: the database becomes what the backup holds (or, when that fails,
    stays as it was); either way the attempt is recorded as a transfer."""
    source = parse_backup_url(url)
    if source is None:
        raise InvalidParams(
            "Slipway restores its own backups only (their URLs come from heroku pg:backups); "
            "to load another dump, use pg:push from a local database or pg_restore."
        )
    source_id, name = source
    with platform.tx() as tx:
        target = _addon_row(tx, actor, ident, POSTGRES)
        try:
            origin = _addon_row(tx, actor, source_id, POSTGRES)
        except NotFound:
            raise NotFound(
                f"Couldn't find the backup {name}; heroku pg:backups lists the backups.",
                resource="backup",
            ) from None
        target_id, target_resource = target.id, target.resource_id
        origin_resource = origin.resource_id
        assert target_resource is not None
        assert origin_resource is not None
    backups = _backups_provider(platform, POSTGRES).backups
    started = platform.clock.now()
    try:
        size = backups.backup_path(origin_resource, name).stat().st_size
        other = origin_resource if origin_resource != target_resource else None
        backups.restore_backup(target_resource, name, source_resource_id=other)
        succeeded, message = True, ""
    except AddonError as exc:
        if exc.id == "not_found":
            raise platform_error(exc) from exc
        succeeded, message, size = False, exc.message, 0
    with platform.tx() as tx:
        row = tx.session.get(AddonRow, target_id)
        assert row is not None
        number = (
            tx.session.scalar(
                select(func.max(AddonRestoreRow.num)).where(AddonRestoreRow.addon_id == row.id)
            )
            or 0
        ) + 1
        record = AddonRestoreRow(
            id=str(uuid.uuid4()),
            addon_id=row.id,
            num=number,
            backup_name=name,
            source_addon_id=source_id if source_id != row.id else None,
            succeeded=succeeded,
            message=message,
            source_bytes=size,
            user_email=actor.email,
            created_at=started,
            finished_at=platform.clock.now(),
        )
        tx.session.add(record)
        outcome = "Restore" if succeeded else "Failed restore"
        tx.log(row.app_id, f"{outcome} of {name} into {row.name} by user {actor.email}")
        tx.session.flush()
        return _restore_transfer(row, _attachment_name(tx, row, None), record)


def backup_file(platform: Platform, addon_id: str, name: str) -> Path:
    """The file of a backup, for a download link that was signed for it (no actor)."""
    with platform.tx() as tx:
        row = tx.session.get(AddonRow, addon_id)
        if row is None or row.resource_id is None:
            raise NotFound("That backup no longer exists.", resource="backup")
        service, resource_id = row.service, row.resource_id
    with provider_errors():
        return _backups_provider(platform, service).backups.backup_path(resource_id, name)
