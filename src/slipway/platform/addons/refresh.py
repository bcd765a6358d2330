"""Attachments that follow their provider: at start, each add-on's config vars on its
apps are compared with what its provider says now, and those that differ get a release.

An upgrade can move where dynos reach an add-on's server: since dynos live in
their own network namespace, the embedded servers' URLs name the dyno bridge
instead of 127.0.0.1, and apps made before kept URLs their dynos cannot reach.
Heroku does the same when maintenance moves a database: a release "Update
DATABASE by postgresql-...", made by the add-on, that the dynos roll over to.
The provider is the one source of an add-on's credentials (a person cannot
overwrite attachment values), so a difference is never someone's own edit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy import select

from slipway.addons.errors import AddonError
from slipway.platform import views
from slipway.platform.addons.attachments import release_config_change
from slipway.platform.tx import Platform, Tx
from slipway.store.models import AddonAttachmentRow, AddonRow, AppRow

log = logging.getLogger("slipway.addons")


def stale_vars(
    app_config: Mapping[str, str], attachments: list[str], config: Mapping[str, str]
) -> dict[str, str]:
    """The vars of `attachments` on an app whose values are not the provider's `config`
    (new keys the provider gives now included). Pure."""
    wanted = {f"{name}_{key}": value for name in attachments for key, value in config.items()}
    return {var: value for var, value in wanted.items() if app_config.get(var) != value}


def refresh_all(platform: Platform) -> int:
    """Bring every provisioned add-on's attachments up to date; the releases made."""
    with platform.tx() as tx:
        addons = [
            (row.id, row.name, row.service, row.resource_id)
            for row in tx.session.scalars(
                select(AddonRow).where(AddonRow.state == "provisioned").order_by(AddonRow.name)
            )
            if row.resource_id is not None
        ]
    made = 0
    for addon_id, name, service, resource_id in addons:
        provider = platform.ports.addons.get(service)
        if provider is None:
            continue
        try:
            config = provider.config(resource_id)
        except AddonError as exc:
            log.warning("%s keeps its config vars: its provider said %s", name, exc.message)
            continue
        except Exception:
            # This runs as the platform starts: one provider's fault must not stop it.
            log.exception("%s keeps its config vars: its provider failed", name)
            continue
        with platform.tx() as tx:
            made += _refresh(tx, addon_id, config)
    return made


def _refresh(tx: Tx, addon_id: str, config: Mapping[str, str]) -> int:
    addon = tx.session.get(AddonRow, addon_id, with_for_update=True)
    if addon is None or addon.state != "provisioned":
        return 0  # destroyed since it was listed
    by_app: dict[str, list[str]] = {}
    for attachment in tx.session.scalars(
        select(AddonAttachmentRow)
        .where(AddonAttachmentRow.addon_id == addon_id)
        .order_by(AddonAttachmentRow.name)
    ):
        by_app.setdefault(attachment.app_id, []).append(attachment.name)
    keys = sorted(set(addon.config_keys) | set(config))
    if keys != sorted(addon.config_keys):
        addon.config_keys = keys  # a release's addon_keys come from here
    made = 0
    for app_id, names in sorted(by_app.items()):
        app = tx.session.get(AppRow, app_id, with_for_update=True)
        assert app is not None
        changes = stale_vars(app.config, names, config)
        if not changes:
            continue
        release_config_change(
            tx, app, _by(addon, tx), f"Update {', '.join(names)} by {addon.name}", changes
        )
        log.info("%s: %s now as its provider has them", app.name, ", ".join(sorted(changes)))
        made += 1
    return made


def _by(addon: AddonRow, tx: Tx) -> views.Actor:
    """The add-on as the release's author, as Heroku names its add-ons' releases' user."""
    now = tx.clock.now()
    account = views.Account(
        id=addon.id,
        email=f"{addon.service}@addons.heroku.com",
        name=addon.service,
        is_admin=False,
        created_at=now,
        updated_at=now,
    )
    return views.Actor(account)
