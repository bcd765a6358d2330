"""Creating and destroying add-ons through their providers.

Provisioning is slow and talks to real servers, so it runs between two
transactions: the add-on is recorded `provisioning`, the provider works, then
the result is recorded (with its attachments and their release) — or the
record is removed and the provider's error (one sentence) is what the user sees.
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Mapping

from sqlalchemy import select

from slipway.addons.errors import AddonError
from slipway.platform import audit, views
from slipway.platform.addons.attachments import (
    attach_row,
    attachment_names,
    default_names,
    detach_row,
    release_config_change,
)
from slipway.platform.addons.catalogue import resolve_plan
from slipway.platform.addons.providers import platform_error
from slipway.platform.addons.records import addon_view, attachment_view, find_addon, list_addons
from slipway.platform.apps import find_app_row
from slipway.platform.errors import Conflict, InvalidParams
from slipway.platform.names import _ADJECTIVES
from slipway.platform.tx import Platform, Tx
from slipway.store.models import AddonAttachmentRow, AddonRow, AppRow


def _new_name(tx: Tx, service: str) -> str:
    short = service.removeprefix("heroku-")
    rng = tx.rng if isinstance(tx.rng, random.Random) else random.SystemRandom()
    for _ in range(50):
        name = f"{short}-{rng.choice(_ADJECTIVES)}-{rng.randint(10000, 99999)}"
        if tx.session.scalar(select(AddonRow).where(AddonRow.name == name)) is None:
            return name
    raise Conflict("Could not find a free add-on name; try again.")


def create_addon(
    platform: Platform,
    actor: views.Actor,
    app_ident: str,
    *,
    plan: str,
    attachment_name: str | None = None,
    name: str | None = None,
    options: Mapping[str, str] | None = None,
) -> views.Addon:
    provider, chosen = resolve_plan(platform.ports.addons, plan)
    service = provider.service.name
    with platform.tx() as tx:
        app = find_app_row(tx, actor, app_ident, lock=True)
        if name is not None:
            if not re.match(r"^[a-zA-Z][A-Za-z0-9_-]+$", name):
                raise InvalidParams(
                    f"Add-on name {name!r} is invalid; use letters, digits, - and _."
                )
            if tx.session.scalar(select(AddonRow).where(AddonRow.name == name)) is not None:
                raise Conflict(f"The add-on name {name} is already taken; choose another.")
        names = (
            [attachment_name.upper()]
            if attachment_name
            else default_names(tx, app, provider.service)
        )
        for wanted in names:
            if wanted in attachment_names(tx, app.id):
                raise Conflict(
                    f"{app.name} already has an attachment named {wanted}; choose another --as."
                )
        now = tx.clock.now()
        row = AddonRow(
            id=str(uuid.uuid4()),
            app_id=app.id,
            name=name or _new_name(tx, service),
            service=service,
            plan=chosen.name,
            state="provisioning",
            config_keys=[],
            created_at=now,
            updated_at=now,
        )
        tx.session.add(row)
        addon_id, addon_name = row.id, row.name
    try:
        provisioned = provider.provision(addon_name, chosen, options or {})
    except AddonError as exc:
        with platform.tx() as tx:
            stale = tx.session.get(AddonRow, addon_id)
            if stale is not None:
                tx.session.delete(stale)
        raise platform_error(exc) from exc
    try:
        with platform.tx() as tx:
            recorded = tx.session.get(AddonRow, addon_id)
            app = find_app_row(tx, actor, app_ident, lock=True)
            assert recorded is not None
            row = recorded
            row.resource_id = provisioned.resource_id
            row.config_keys = sorted(provisioned.config)
            row.state = "provisioned"
            row.updated_at = tx.clock.now()
            set_vars: dict[str, str] = {}
            for attachment in names:
                attach_row(tx, actor, app, row, attachment, provisioned.config)
                set_vars.update({f"{attachment}_{k}": v for k, v in provisioned.config.items()})
            release_config_change(tx, app, actor, f"Attach {names[0]} (@ref:{row.name})", set_vars)
            audit.record(tx, actor, "addon-create", f"Created {row.name} ({row.plan})", app=app)
            return addon_view(tx, row)
    except Exception:
        # Recording failed (a name clash that raced): give the resource back.
        provider.deprovision(provisioned.resource_id)
        with platform.tx() as tx:
            stale = tx.session.get(AddonRow, addon_id)
            if stale is not None:
                tx.session.delete(stale)
        raise


def destroy_addon(
    platform: Platform,
    actor: views.Actor,
    app_ident: str,
    addon_ident: str,
    *,
    force: bool,
) -> views.Addon:
    """Detach everywhere (one release per app), then the provider destroys the resource."""
    with platform.tx() as tx:
        app = find_app_row(tx, actor, app_ident)
        row = find_addon(tx, actor, addon_ident, app)
        if row.app_id != app.id:
            raise InvalidParams(
                f"{row.name} belongs to another app; detach it from {app.name} instead."
            )
        elsewhere = sorted(
            {
                a.app_name
                for a in (
                    attachment_view(tx, r)
                    for r in tx.session.scalars(
                        select(AddonAttachmentRow).where(AddonAttachmentRow.addon_id == row.id)
                    )
                )
                if a.app_id != app.id
            }
        )
        if elsewhere and not force:
            raise InvalidParams(
                f"{row.name} is also attached to {', '.join(elsewhere)}; detach it there "
                "first, or destroy it with --force."
            )
        addon_id, service, resource_id = row.id, row.service, row.resource_id
        attachment_ids = list(
            tx.session.scalars(
                select(AddonAttachmentRow.id).where(AddonAttachmentRow.addon_id == row.id)
            )
        )
        row.state = "deprovisioning"
    # The add-on's owner destroys it, so every attachment goes, whoever's app it is on.
    for attachment_id in attachment_ids:
        with platform.tx() as tx:
            detach_row(tx, actor, attachment_id)
    provider = platform.ports.addons.get(service)
    if provider is not None and resource_id is not None:
        try:
            provider.deprovision(resource_id)
        except AddonError as exc:
            with platform.tx() as tx:
                stale = tx.session.get(AddonRow, addon_id)
                if stale is not None:
                    stale.state = "provisioned"
            raise platform_error(exc) from exc
    with platform.tx() as tx:
        gone = tx.session.get(AddonRow, addon_id)
        assert gone is not None
        view = addon_view(tx, gone)
        for leftover in tx.session.scalars(
            select(AddonAttachmentRow).where(AddonAttachmentRow.addon_id == addon_id)
        ):
            tx.session.delete(leftover)
        tx.session.delete(gone)
        owner_app = tx.session.get(AppRow, gone.app_id)
        audit.record(tx, actor, "addon-destroy", f"Destroyed {gone.name}", app=owner_app)
    return views.Addon(**{**view.__dict__, "state": "deprovisioned"})


def destroy_app_addons(platform: Platform, actor: views.Actor, app_ident: str) -> None:
    """The add-ons an app owns, destroyed before the app is (as Heroku does), and detached
    from other apps too."""
    with platform.tx() as tx:
        app_id = find_app_row(tx, actor, app_ident).id
        owned = [a.id for a in list_addons(tx, actor, app_ident) if a.app_id == app_id]
    for addon_id in owned:
        destroy_addon(platform, actor, app_ident, addon_id, force=True)
