"""Attachments that follow their provider: at start, each add-on's config vars on its
apps are compared with what its provider says now, and those that differ get a release.

An upgrade can move where dynos reach an add-on's server: since dynos live in
their own network namespace, the embedded servers' URLs name the dyno bridge
instead of 127.0.0.1, and apps made before kept URLs their dynos cannot reach.
Heroku does the same when maintenance moves a database: a release "Update
DATABASE by postgresql-...", made by the add-on, that the dynos roll over to.
The provider is the one source of an add-on's credentials (a person cannot set
an attachment's vars), so a changed value is never someone's own edit; a var a
person unset, or one of their own a new key would take, is left alone.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from sqlalchemy import select

from slipway.addons.errors import AddonError
from slipway.platform import views
from slipway.platform.addons.attachments import release_config_change
from slipway.platform.tx import Platform, Tx
from slipway.store.models import AddonAttachmentRow, AddonRow, AppRow

log = logging.getLogger("slipway.addons")


@dataclass(frozen=True)
class Refresh:
    changes: dict[str, dict[str, str]]  # app id -> the vars to set on it
    new_keys: tuple[str, ...]  # keys the add-on's attachments carry from now on


def plan_refresh(
    attached: Mapping[str, tuple[Mapping[str, str], list[str]]],
    config: Mapping[str, str],
    known: Collection[str],
) -> Refresh:
    """What to set, given each attached app's config and attachment names, the
    provider's `config` now and the keys the add-on had (`known`). Pure.

    A known key is updated only where the app still has it: one a person unset stays
    unset. A key the provider gives now for the first time is added only where no app
    has that var already: a person's own var is never taken over."""
    new_keys = tuple(
        key
        for key in sorted(config)
        if key not in known
        and not any(f"{name}_{key}" in app for app, names in attached.values() for name in names)
    )
    changes: dict[str, dict[str, str]] = {}
    for app_id, (app, names) in attached.items():
        wanted: dict[str, str] = {}
        for name in names:
            for key, value in config.items():
                var = f"{name}_{key}"
                if key in new_keys or (key in known and var in app and app[var] != value):
                    wanted[var] = value
        if wanted:
            changes[app_id] = wanted
    return Refresh(changes, new_keys)


def refresh_all(platform: Platform) -> int:
    """Bring every provisioned add-on's attachments up to date; the releases made.

    It runs once as the server starts, before the API and the ticker: nothing else
    changes an add-on's credentials between reading them and writing them."""
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
            config = dict(provider.config(resource_id))
            with platform.tx() as tx:
                made += _refresh(tx, addon_id, config)
        except AddonError as exc:
            log.warning("%s keeps its config vars: its provider said %s", name, exc.message)
        except Exception:
            # This runs as the platform starts: one add-on's fault must not stop it.
            log.exception("%s keeps its config vars: refreshing them failed", name)
    return made


def _refresh(tx: Tx, addon_id: str, config: Mapping[str, str]) -> int:
    addon = tx.session.get(AddonRow, addon_id, with_for_update=True)
    if addon is None or addon.state != "provisioned":
        return 0  # destroyed since it was listed
    names: dict[str, list[str]] = {}
    for attachment in tx.session.scalars(
        select(AddonAttachmentRow)
        .where(AddonAttachmentRow.addon_id == addon_id)
        .order_by(AddonAttachmentRow.name)
    ):
        names.setdefault(attachment.app_id, []).append(attachment.name)
    apps: dict[str, AppRow] = {}
    for app_id in sorted(names):  # locked in id order
        app = tx.session.get(AppRow, app_id, with_for_update=True)
        if app is not None:
            apps[app_id] = app
    plan = plan_refresh(
        {app_id: (app.config, names[app_id]) for app_id, app in apps.items()},
        config,
        addon.config_keys,
    )
    skipped = sorted(set(config) - set(addon.config_keys) - set(plan.new_keys))
    if skipped:
        log.warning(
            "%s: its provider now gives %s, but an app has such a var of its own; not set",
            addon.name,
            ", ".join(skipped),
        )
    if plan.new_keys:
        addon.config_keys = sorted({*addon.config_keys, *plan.new_keys})  # releases read these
        addon.updated_at = tx.clock.now()
    author = _by(addon, tx)
    for app_id, changes in plan.changes.items():
        app = apps[app_id]
        release_config_change(
            tx,
            app,
            author,
            f"Update {', '.join(names[app_id])} by {addon.name}",
            changes,
        )
        log.info("%s: %s now as its provider has them", app.name, ", ".join(sorted(changes)))
    return len(plan.changes)


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
