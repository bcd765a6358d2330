"""Add-on records: finding one the actor may see, listing them, and their views.

An add-on is visible to whoever can access the app that owns it or any app it
is attached to.
"""

from __future__ import annotations

from sqlalchemy import select

from slipway.addons.provider import SupportsOpen
from slipway.platform import access, views
from slipway.platform.apps import find_app_row
from slipway.platform.errors import InvalidParams, NotFound
from slipway.platform.permissions import VIEW
from slipway.platform.tx import Tx
from slipway.store.models import AddonAttachmentRow, AddonRow, AppRow


def addon_view(tx: Tx, row: AddonRow) -> views.Addon:
    app = tx.session.get(AppRow, row.app_id)
    assert app is not None
    attachments = tx.session.scalars(
        select(AddonAttachmentRow.name).where(
            AddonAttachmentRow.addon_id == row.id, AddonAttachmentRow.app_id == row.app_id
        )
    ).all()
    config_vars = tuple(f"{a}_{k}" for a in sorted(attachments) for k in row.config_keys)
    return views.Addon(
        price_cents=plan_price(tx, row),
        attachment_names=tuple(sorted(attachments)),
        id=row.id,
        name=row.name,
        service=row.service,
        plan=row.plan,
        state=row.state,
        app_id=app.id,
        app_name=app.name,
        config_vars=config_vars,
        created_at=row.created_at,
        updated_at=row.updated_at,
        web_url=_web_url(tx, row),
    )


def _web_url(tx: Tx, row: AddonRow) -> str | None:
    """The platform's page for the add-on (addons:open), for services that have one."""
    provider = tx.ports.addons.get(row.service)
    if provider is None or not isinstance(provider, SupportsOpen):
        return None
    return f"{tx.settings.api_url}/addons/{row.id}/open"


def attachment_view(tx: Tx, row: AddonAttachmentRow) -> views.Attachment:
    addon = tx.session.get(AddonRow, row.addon_id)
    app = tx.session.get(AppRow, row.app_id)
    assert addon is not None
    assert app is not None
    owner = tx.session.get(AppRow, addon.app_id)
    assert owner is not None
    return views.Attachment(
        id=row.id,
        name=row.name,
        app_id=app.id,
        app_name=app.name,
        addon_id=addon.id,
        addon_name=addon.name,
        addon_app_id=owner.id,
        addon_app_name=owner.name,
        created_at=row.created_at,
        updated_at=row.updated_at,
        web_url=_web_url(tx, addon),
        addon_plan=addon.plan,
        addon_service=addon.service,
        config_vars=tuple(f"{row.name}_{k}" for k in addon.config_keys),
    )


def plan_price(tx: Tx, row: AddonRow) -> int:
    """The add-on's plan price in cents from its provider's catalogue (0 when gone)."""
    provider = tx.ports.addons.get(row.service)
    if provider is None:
        return 0
    plan = provider.service.plan(row.plan)
    return plan.price_cents if plan else 0


def find_addon(tx: Tx, actor: views.Actor, ident: str, app: AppRow | None = None) -> AddonRow:
    """By id, name, or (within an app) attachment name."""
    row = tx.session.scalar(
        select(AddonRow).where((AddonRow.id == ident) | (AddonRow.name == ident))
    )
    if row is None and app is not None:
        attachment = tx.session.scalar(
            select(AddonAttachmentRow).where(
                AddonAttachmentRow.app_id == app.id, AddonAttachmentRow.name == ident.upper()
            )
        )
        if attachment is not None:
            row = tx.session.get(AddonRow, attachment.addon_id)
    if row is None:
        raise NotFound(
            f"Couldn't find that add-on ({ident}); heroku addons lists the add-ons.",
            resource="addon",
        )
    related = _related_apps(tx, row)
    seen = [a for a in related if access.can(tx, actor, a, VIEW)]
    if not seen:
        raise NotFound(
            f"Couldn't find that add-on ({ident}); heroku addons lists the add-ons.",
            resource="addon",
        )
    # The door's need, met through any app the add-on belongs or is attached to.
    if not any(access.can(tx, actor, a) for a in seen):
        access.authorise(tx, actor, seen[0])
    return row


def _related_apps(tx: Tx, row: AddonRow) -> list[AppRow]:
    """The billing app first, then the apps it is attached to."""
    owner = tx.session.get(AppRow, row.app_id)
    attached = tx.session.scalars(
        select(AppRow)
        .join(AddonAttachmentRow, AddonAttachmentRow.app_id == AppRow.id)
        .where(AddonAttachmentRow.addon_id == row.id, AppRow.id != row.app_id)
    )
    return ([owner] if owner is not None else []) + list(attached)


def _visible(tx: Tx, actor: views.Actor, row: AddonRow) -> bool:
    return any(access.can(tx, actor, a, VIEW) for a in _related_apps(tx, row))


def provisioned(
    tx: Tx, actor: views.Actor, addon_ident: str, app_ident: str | None
) -> tuple[AddonRow, str]:
    """A provisioned add-on the actor can see, and its resource id."""
    app = find_app_row(tx, actor, app_ident) if app_ident else None
    row = find_addon(tx, actor, addon_ident, app)
    if row.resource_id is None or row.state != "provisioned":
        raise InvalidParams(f"{row.name} is {row.state}; wait until it is provisioned.")
    return row, row.resource_id


def list_addons(tx: Tx, actor: views.Actor, app_ident: str | None) -> list[views.Addon]:
    if app_ident is None:
        rows = tx.session.scalars(select(AddonRow).order_by(AddonRow.created_at)).all()
        return [addon_view(tx, r) for r in rows if _visible(tx, actor, r)]
    app = find_app_row(tx, actor, app_ident)
    ids = set(
        tx.session.scalars(
            select(AddonAttachmentRow.addon_id).where(AddonAttachmentRow.app_id == app.id)
        )
    )
    rows = tx.session.scalars(
        select(AddonRow)
        .where((AddonRow.app_id == app.id) | AddonRow.id.in_(ids))
        .order_by(AddonRow.created_at)
    ).all()
    return [addon_view(tx, r) for r in rows]


def get_addon(tx: Tx, actor: views.Actor, ident: str, app_ident: str | None = None) -> views.Addon:
    app = find_app_row(tx, actor, app_ident) if app_ident else None
    return addon_view(tx, find_addon(tx, actor, ident, app))


def resolve(tx: Tx, actor: views.Actor, addon: str, app_ident: str | None) -> list[views.Addon]:
    """`POST /actions/addons/resolve`: `DATABASE`, `postgresql-x-1`, or `app::DATABASE`."""
    if "::" in addon:
        app_ident, addon = addon.split("::", 1)
    app = find_app_row(tx, actor, app_ident) if app_ident else None
    try:
        return [addon_view(tx, find_addon(tx, actor, addon, app))]
    except NotFound:
        return []
