"""What pg:* and redis:* do to a provisioned add-on: info, credentials, backups.

Each use case finds the add-on the actor can see in one transaction, then calls
its provider outside any transaction (servers are slow), translating the
provider's errors once (`providers.provider_errors`).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from slipway.addons.provider import Backup, Backups, Provider, SupportsBackups
from slipway.platform import views
from slipway.platform.addons.attachments import release_config_change
from slipway.platform.addons.providers import provider_errors, provider_for
from slipway.platform.addons.records import addon_view, provisioned
from slipway.platform.errors import InvalidParams, NotFound
from slipway.platform.tx import Platform, Tx
from slipway.store.models import AddonAttachmentRow, AddonRow, AppRow


def resource_of(
    tx: Tx, actor: views.Actor, addon_ident: str, app_ident: str | None
) -> tuple[str, str]:
    """(service, resource id) of an add-on the actor can see, for pg:* and redis:*."""
    row, resource_id = provisioned(tx, actor, addon_ident, app_ident)
    return row.service, resource_id


def _provider_of(
    platform: Platform, actor: views.Actor, addon_ident: str, app_ident: str | None
) -> tuple[Provider, str]:
    with platform.tx() as tx:
        service, resource_id = resource_of(tx, actor, addon_ident, app_ident)
    return provider_for(platform.ports, service), resource_id


def addon_info(
    platform: Platform, actor: views.Actor, addon_ident: str, app_ident: str | None
) -> list[tuple[str, str]]:
    """pg:info / redis:info: the provider's (label, value) rows."""
    provider, resource_id = _provider_of(platform, actor, addon_ident, app_ident)
    with provider_errors():
        return provider.info(resource_id)


def addon_page(platform: Platform, addon_id: str) -> tuple[views.Addon, list[tuple[str, str]]]:
    """What an add-on's signed page shows (`addons:open`): no actor, the link is the key."""
    with platform.tx() as tx:
        row = tx.session.get(AddonRow, addon_id)
        if row is None:
            raise NotFound("That add-on no longer exists.", resource="addon")
        view = addon_view(tx, row)
        service, resource_id = row.service, row.resource_id
    if resource_id is None:
        return view, [("State", view.state)]
    with provider_errors():
        return view, provider_for(platform.ports, service).info(resource_id)


def rotate_credentials(
    platform: Platform,
    actor: views.Actor,
    addon_ident: str,
    app_ident: str | None,
) -> views.Addon:
    """New credentials from the provider; every attached app gets a release with them."""
    with platform.tx() as tx:
        found, resource_id = provisioned(tx, actor, addon_ident, app_ident)
        service, addon_id = found.service, found.id
    provider = provider_for(platform.ports, service)
    with provider_errors():
        config = provider.rotate_credentials(resource_id)
    with platform.tx() as tx:
        row = tx.session.get(AddonRow, addon_id)
        assert row is not None
        release_new_credentials(tx, actor, row, config)
        return addon_view(tx, row)


def release_new_credentials(
    tx: Tx, actor: views.Actor, row: AddonRow, config: dict[str, str]
) -> None:
    """One release on each app the add-on is attached to, with every attachment's vars."""
    by_app: dict[str, list[str]] = {}
    for attachment in tx.session.scalars(
        select(AddonAttachmentRow)
        .where(AddonAttachmentRow.addon_id == row.id)
        .order_by(AddonAttachmentRow.name)
    ):
        by_app.setdefault(attachment.app_id, []).append(attachment.name)
    for app_id, names in by_app.items():
        app = tx.session.get(AppRow, app_id, with_for_update=True)
        assert app is not None
        release_config_change(
            tx,
            app,
            actor,
            f"Update {', '.join(names)} by {row.name}",
            {f"{name}_{k}": v for name in names for k, v in config.items()},
        )


# -- backups: only for providers with the SupportsBackups capability


def _backups_of(
    platform: Platform, actor: views.Actor, addon_ident: str, app_ident: str | None
) -> tuple[Backups, str]:
    provider, resource_id = _provider_of(platform, actor, addon_ident, app_ident)
    if not isinstance(provider, SupportsBackups):
        raise InvalidParams(
            f"{provider.service.name} add-ons have no backups; back up a service that offers "
            "them, such as heroku-postgresql."
        )
    return provider.backups, resource_id


def _backup_view(backup: Backup) -> views.AddonBackup:
    return views.AddonBackup(
        name=backup.name,
        created_at=backup.created_at,
        size=backup.size,
        status=backup.status,
        scheduled=backup.scheduled,
    )


def list_backups(
    platform: Platform, actor: views.Actor, addon_ident: str, app_ident: str | None
) -> list[views.AddonBackup]:
    backups, resource_id = _backups_of(platform, actor, addon_ident, app_ident)
    with provider_errors():
        return [_backup_view(b) for b in backups.list_backups(resource_id)]


def capture_backup(
    platform: Platform, actor: views.Actor, addon_ident: str, app_ident: str | None
) -> views.AddonBackup:
    backups, resource_id = _backups_of(platform, actor, addon_ident, app_ident)
    with provider_errors():
        return _backup_view(backups.capture_backup(resource_id))


def restore_backup(
    platform: Platform,
    actor: views.Actor,
    addon_ident: str,
    app_ident: str | None,
    backup_name: str,
) -> None:
    backups, resource_id = _backups_of(platform, actor, addon_ident, app_ident)
    with provider_errors():
        backups.restore_backup(resource_id, backup_name)


def backup_path(
    platform: Platform,
    actor: views.Actor,
    addon_ident: str,
    app_ident: str | None,
    backup_name: str,
) -> Path:
    """The backup's file, for pg:backups:download."""
    backups, resource_id = _backups_of(platform, actor, addon_ident, app_ident)
    with provider_errors():
        return backups.backup_path(resource_id, backup_name)
