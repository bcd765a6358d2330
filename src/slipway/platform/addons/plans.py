"""addons:upgrade and addons:downgrade: an add-on moves to another plan of its service.

The provider applies the new plan's limits (live where its server allows it,
with a restart of the add-on's server where not, and says which in one
sentence: `PlanChange.message`, which the API returns as the add-on's
`provision_message`, printed by the official CLI). Then every app the add-on is
attached to gets a release, as on Heroku, carrying the add-on's config vars
(new ones if the plan change changed them). If the provider fails, nothing changed.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import select

from slipway.addons.provider import SupportsPlanChange
from slipway.platform import views
from slipway.platform.addons.attachments import release_config_change
from slipway.platform.addons.providers import provider_errors, provider_for
from slipway.platform.addons.records import addon_view, find_addon
from slipway.platform.apps import find_app_row
from slipway.platform.errors import InvalidParams
from slipway.platform.tx import Platform
from slipway.store.models import AddonAttachmentRow, AddonRow, AppRow


def change_plan(
    platform: Platform,
    actor: views.Actor,
    app_ident: str | None,
    addon_ident: str,
    plan_name: str,
) -> views.Addon:
    with platform.tx() as tx:
        app = find_app_row(tx, actor, app_ident) if app_ident else None
        row = find_addon(tx, actor, addon_ident, app)
        if row.state != "provisioned" or row.resource_id is None:
            raise InvalidParams(f"{row.name} is {row.state}; wait until it is provisioned.")
        addon_id, resource_id, service_name, current = (
            row.id,
            row.resource_id,
            row.service,
            row.plan,
        )
    provider = provider_for(platform.ports, service_name)
    service = provider.service
    wanted = plan_name.strip()
    given_service, sep, short = wanted.partition(":")
    if sep and given_service not in (service.name, *service.aliases):
        raise InvalidParams(
            f"{wanted} is a plan of another service; {service.name} add-ons take one of "
            + ", ".join(p.short_name for p in service.plans)
            + "."
        )
    plan = service.plan(short if sep else wanted)
    if plan is None:
        raise InvalidParams(service.no_plan(short if sep else wanted))
    if plan.name == current:
        raise InvalidParams(f"The add-on is already on {plan.name}; choose another plan.")
    if not isinstance(provider, SupportsPlanChange):
        raise InvalidParams(f"{service.name} add-ons cannot change plan on this server.")
    with provider_errors():
        change = provider.change_plan(resource_id, plan)
    order = [p.name for p in service.plans]
    verb = "Upgrade" if order.index(plan.name) > order.index(current) else "Downgrade"
    with platform.tx() as tx:
        addon = tx.session.get(AddonRow, addon_id)
        assert addon is not None
        addon.plan = plan.name
        addon.updated_at = tx.clock.now()
        config = change.config
        if config is not None:
            addon.config_keys = sorted(config)
        for attachment in tx.session.scalars(
            select(AddonAttachmentRow).where(AddonAttachmentRow.addon_id == addon_id)
        ).all():
            target = tx.session.get(AppRow, attachment.app_id, with_for_update=True)
            assert target is not None
            values = (
                {f"{attachment.name}_{k}": v for k, v in config.items()}
                if config is not None
                else {}
            )
            release_config_change(tx, target, actor, f"{verb} {addon.name} to {plan.name}", values)
            tx.log(target.id, f"{addon.name}: {change.message}")
        return dataclasses.replace(addon_view(tx, addon), provision_message=change.message)
