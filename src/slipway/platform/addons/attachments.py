"""Attachments: an add-on's config vars on an app, under a name (DATABASE -> DATABASE_URL).

Every attach and detach is a new release carrying the app's config with the
attachment's vars set or removed, so the dynos roll over (with preboot) like
on any config change.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping

from sqlalchemy import select

from slipway.addons.provider import Service
from slipway.platform import access, views
from slipway.platform.addons.providers import provider_errors, provider_for
from slipway.platform.addons.records import attachment_view, find_addon
from slipway.platform.apps import find_app_row
from slipway.platform.errors import Conflict, InvalidParams, NotFound
from slipway.platform.permissions import VIEW
from slipway.platform.releases import ReleaseReason, release_new_config
from slipway.platform.tx import Platform, Tx
from slipway.store.models import AddonAttachmentRow, AddonRow, AppRow

ATTACHMENT_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")
COLORS = (
    "AMBER", "AQUA", "BLACK", "BLUE", "BRONZE", "BROWN", "CHARCOAL", "COBALT", "COPPER",
    "CRIMSON", "CYAN", "GOLD", "GRAY", "GREEN", "IVORY", "JADE", "LIME", "MAGENTA", "MAROON",
    "MAUVE", "NAVY", "OLIVE", "ONYX", "ORANGE", "PINK", "PURPLE", "RED", "ROSE", "SILVER",
    "TEAL", "VIOLET", "WHITE", "YELLOW",
)  # fmt: skip


def attachment_names(tx: Tx, app_id: str) -> set[str]:
    return set(
        tx.session.scalars(
            select(AddonAttachmentRow.name).where(AddonAttachmentRow.app_id == app_id)
        )
    )


def release_config_change(
    tx: Tx,
    app: AppRow,
    actor: views.Actor,
    description: str,
    set_vars: Mapping[str, str],
    unset: tuple[str, ...] = (),
) -> None:
    config = {k: v for k, v in app.config.items() if k not in unset}
    config.update(set_vars)
    release_new_config(
        tx, app, actor, description=description, reason=ReleaseReason.ADDON, config=config
    )


def attach_row(
    tx: Tx,
    actor: views.Actor,
    app: AppRow,
    addon: AddonRow,
    name: str,
    config: Mapping[str, str],
) -> AddonAttachmentRow:
    if not ATTACHMENT_RE.match(name):
        raise InvalidParams(
            f"Attachment name {name!r} is invalid; use capital letters, digits and _ "
            "(e.g. DATABASE)."
        )
    if name in attachment_names(tx, app.id):
        raise Conflict(f"{app.name} already has an attachment named {name}; choose another --as.")
    clash = [f"{name}_{k}" for k in config if f"{name}_{k}" in app.config]
    if clash:
        raise Conflict(
            f"{app.name} already has the config var {clash[0]}; unset it or attach with --as."
        )
    now = tx.clock.now()
    row = AddonAttachmentRow(
        id=str(uuid.uuid4()),
        addon_id=addon.id,
        app_id=app.id,
        name=name,
        created_at=now,
        updated_at=now,
    )
    tx.session.add(row)
    tx.session.flush()
    return row


def default_names(tx: Tx, app: AppRow, service: Service) -> list[str]:
    """Heroku's: a Postgres gets HEROKU_POSTGRESQL_<COLOR>, and DATABASE if it is the first;
    another service its own attachment names (or its config var suffix), with _2, _3... when
    the app already has one."""
    taken = attachment_names(tx, app.id)
    if service.name == "heroku-postgresql":
        colors = [c for c in COLORS if f"HEROKU_POSTGRESQL_{c}" not in taken]
        names = [f"HEROKU_POSTGRESQL_{tx.rng.choice(colors)}"] if colors else []
        return (["DATABASE"] if "DATABASE" not in taken else []) + names
    bases = service.attachments or (service.config_var_suffix,)
    n = 1
    while True:
        suffix = "" if n == 1 else f"_{n}"
        names = [f"{base}{suffix}" for base in bases]
        if not any(name in taken for name in names):
            return names
        n += 1


def list_attachments(tx: Tx, actor: views.Actor, app_ident: str | None) -> list[views.Attachment]:
    query = select(AddonAttachmentRow).order_by(AddonAttachmentRow.created_at)
    if app_ident is not None:
        app = find_app_row(tx, actor, app_ident)
        query = query.where(AddonAttachmentRow.app_id == app.id)
    rows = tx.session.scalars(query).all()
    visible = []
    for row in rows:
        owner = tx.session.get(AppRow, row.app_id)
        if owner is not None and access.can(tx, actor, owner, VIEW):
            visible.append(attachment_view(tx, row))
    return visible


def _attachment_row(
    tx: Tx, actor: views.Actor, ident: str, app_ident: str | None
) -> AddonAttachmentRow:
    """An attachment by id, or (within an app) by its name (`DATABASE`)."""
    row = tx.session.get(AddonAttachmentRow, ident)
    if app_ident is not None:
        app = find_app_row(tx, actor, app_ident)
        if row is None or row.app_id != app.id:
            row = tx.session.scalar(
                select(AddonAttachmentRow).where(
                    AddonAttachmentRow.app_id == app.id,
                    AddonAttachmentRow.name == ident.upper(),
                )
            )
    if row is None or not access.can(tx, actor, _app_of(tx, row), VIEW):
        where = f" on {app_ident}" if app_ident else ""
        raise NotFound(
            f"Couldn't find that add-on attachment ({ident}){where}; "
            "heroku addons lists the attachments.",
            resource="addon_attachment",
        )
    return row


def _app_of(tx: Tx, row: AddonAttachmentRow) -> AppRow:
    app = tx.session.get(AppRow, row.app_id)
    assert app is not None
    return app


def get_attachment(
    tx: Tx, actor: views.Actor, ident: str, app_ident: str | None = None
) -> views.Attachment:
    return attachment_view(tx, _attachment_row(tx, actor, ident, app_ident))


def resolve_attachments(
    tx: Tx, actor: views.Actor, ident: str, app_ident: str | None
) -> list[views.Attachment]:
    """`POST /actions/addon-attachments/resolve`: what `DATABASE`, `DATABASE_URL`, an
    attachment id, an add-on's name or `app::DATABASE` names; NotFound when nothing."""
    if "::" in ident:
        app_ident, ident = ident.split("::", 1)
    found: list[AddonAttachmentRow] = []
    if app_ident is not None:
        app = find_app_row(tx, actor, app_ident)
        on_app = list(
            tx.session.scalars(
                select(AddonAttachmentRow)
                .where(AddonAttachmentRow.app_id == app.id)
                .order_by(AddonAttachmentRow.created_at)
            )
        )
        wanted = ident.upper()
        by_name = [r for r in on_app if r.name == wanted or r.id == ident]
        if not by_name and wanted.endswith("_URL"):
            by_name = [r for r in on_app if r.name == wanted.removesuffix("_URL")]
        if not by_name:
            addon = tx.session.scalar(
                select(AddonRow).where((AddonRow.name == ident) | (AddonRow.id == ident))
            )
            by_name = [r for r in on_app if addon is not None and r.addon_id == addon.id]
        found = by_name
    else:
        row = tx.session.get(AddonAttachmentRow, ident)
        if row is not None:
            found = [row]
        else:
            addon = tx.session.scalar(select(AddonRow).where(AddonRow.name == ident))
            if addon is not None:
                found = list(
                    tx.session.scalars(
                        select(AddonAttachmentRow).where(AddonAttachmentRow.addon_id == addon.id)
                    )
                )
    visible = [r for r in found if access.can(tx, actor, _app_of(tx, r), VIEW)]
    if not visible:
        raise NotFound(
            f"Couldn't find that add-on attachment ({ident}); heroku addons lists them.",
            resource="addon_attachment",
        )
    return [attachment_view(tx, r) for r in visible]


def attach(
    platform: Platform,
    actor: views.Actor,
    addon_ident: str,
    app_ident: str,
    name: str | None,
    namespace: str | None = None,
) -> views.Attachment:
    if namespace not in (None, "", "credential:default"):
        raise InvalidParams(
            f"Slipway's add-ons have one credential, default, so {namespace} cannot be "
            "attached; leave --credential out."
        )
    with platform.tx() as tx:
        app = find_app_row(tx, actor, app_ident, lock=True)
        addon = find_addon(tx, actor, addon_ident)
        if addon.state != "provisioned" or addon.resource_id is None:
            raise InvalidParams(f"{addon.name} is {addon.state}; wait until it is provisioned.")
        provider = provider_for(platform.ports, addon.service)
    with provider_errors():
        config = provider.config(addon.resource_id)
    with platform.tx() as tx:
        app = find_app_row(tx, actor, app_ident, lock=True)
        row = find_addon(tx, actor, addon_ident)
        attachment = (name or default_names(tx, app, provider.service)[0]).upper()
        created = attach_row(tx, actor, app, row, attachment, config)
        release_config_change(
            tx,
            app,
            actor,
            f"Attach {attachment} (@ref:{row.name})",
            {f"{attachment}_{k}": v for k, v in config.items()},
        )
        return attachment_view(tx, created)


def detach(tx: Tx, actor: views.Actor, attachment_ident: str) -> views.Attachment:
    row = tx.session.get(AddonAttachmentRow, attachment_ident)
    if row is None:
        raise NotFound(
            f"Couldn't find that attachment ({attachment_ident}).", resource="attachment"
        )
    find_app_row(tx, actor, row.app_id, lock=True)
    return detach_row(tx, actor, row.id)


def detach_row(tx: Tx, actor: views.Actor, attachment_id: str) -> views.Attachment:
    row = tx.session.get(AddonAttachmentRow, attachment_id)
    assert row is not None
    app = tx.session.get(AppRow, row.app_id, with_for_update=True)
    assert app is not None
    addon = tx.session.get(AddonRow, row.addon_id)
    assert addon is not None
    view = attachment_view(tx, row)
    unset = tuple(f"{row.name}_{k}" for k in addon.config_keys)
    tx.session.delete(row)
    tx.session.flush()
    release_config_change(tx, app, actor, f"Detach {row.name} (@ref:{addon.name})", {}, unset)
    return view
