"""Changing an add-on in place: its name (`addons:rename`) and its plan (`addons:upgrade`,
`addons:downgrade`).

A plan change is the provider's (`SupportsPlanChange`), run between two
transactions like provisioning. When it changes the add-on's config vars, every
app it is attached to gets a release with them, as on Heroku; when the provider
says the dynos must restart to pick it up, they are restarted.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from slipway.addons.errors import AddonError
from slipway.addons.provider import SupportsPlanChange
from slipway.platform import views
from slipway.platform.addons.catalogue import resolve_plan
from slipway.platform.addons.providers import platform_error, provider_for
from slipway.platform.addons.records import addon_view, find_addon
from slipway.platform.addons.resources import release_new_credentials
from slipway.platform.apps import find_app_row
from slipway.platform.errors import InvalidParams
from slipway.platform.tx import Platform, Tx
from slipway.store.models import AddonAttachmentRow, AddonRow

ADDON_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{2,99}$")


def rename_addon(
    tx: Tx, actor: views.Account, app_ident: str, addon_ident: str, new_name: str
) -> views.Addon:
    app = find_app_row(tx, actor, app_ident, lock=True)
    row = find_addon(tx, actor, addon_ident, app)
    if row.app_id != app.id:
        raise InvalidParams(f"{row.name} belongs to another app; rename it from that app.")
    if not ADDON_NAME_RE.match(new_name):
        raise InvalidParams(
            f"Name {new_name!r} is invalid; an add-on's name starts with a letter and has "
            "only lowercase letters, digits and dashes."
        )
    if new_name != row.name:
        if tx.session.scalar(select(AddonRow.id).where(AddonRow.name == new_name)):
            raise InvalidParams(f"Name {new_name} is already taken; choose another.")
        tx.log(app.id, f"Rename {row.name} to {new_name} by user {actor.email}")
        row.name = new_name
        row.updated_at = tx.clock.now()
        tx.session.flush()
    return addon_view(tx, row)


def change_plan(
    platform: Platform, actor: views.Account, app_ident: str, addon_ident: str, plan_text: str
) -> views.Addon:
    """Move the add-on to another plan of its service, keeping its data."""
    with platform.tx() as tx:
        app = find_app_row(tx, actor, app_ident)
        row = find_addon(tx, actor, addon_ident, app)
        if row.state != "provisioned" or row.resource_id is None:
            raise InvalidParams(f"{row.name} is {row.state}; wait until it is provisioned.")
        provider = provider_for(platform.ports, row.service)
        text = plan_text if ":" in plan_text else f"{row.service}:{plan_text}"
        chosen_provider, plan = resolve_plan(platform.ports.addons, text)
        if chosen_provider is not provider:
            raise InvalidParams(
                f"{row.name} is a {row.service} add-on; choose one of its plans: "
                + ", ".join(p.short_name for p in provider.service.plans)
                + "."
            )
        addon_id, resource_id, before = row.id, row.resource_id, row.plan
    if plan.name == before:
        with platform.tx() as tx:
            return _view(tx, addon_id)
    if not isinstance(provider, SupportsPlanChange):
        raise InvalidParams(
            f"{provider.service.name} add-ons cannot change plan in place; create one on "
            f"{plan.name} and move the data."
        )
    try:
        change = provider.change_plan(resource_id, plan)
    except AddonError as exc:
        raise platform_error(exc) from exc
    with platform.tx() as tx:
        changed = tx.session.get(AddonRow, addon_id)
        assert changed is not None
        row = changed
        row.plan = plan.name
        row.updated_at = tx.clock.now()
        restart: list[str] = []
        if change.config is not None:
            release_new_credentials(tx, actor, row, change.config)
            row.config_keys = sorted(change.config)
        elif change.restart:
            restart = sorted(
                set(
                    tx.session.scalars(
                        select(AddonAttachmentRow.app_id).where(
                            AddonAttachmentRow.addon_id == addon_id
                        )
                    )
                )
            )
        tx.log(row.app_id, f"Change {row.name} from {before} to {plan.name} by user {actor.email}")
        view = addon_view(tx, row)
    runtime = platform.ports.dyno_runtime
    if runtime is not None:
        for app_id in restart:
            runtime.restart(app_id)
    return view


def _view(tx: Tx, addon_id: str) -> views.Addon:
    row = tx.session.get(AddonRow, addon_id)
    assert row is not None
    return addon_view(tx, row)
