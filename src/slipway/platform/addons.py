"""Add-ons: provision a service through its provider, attach it to apps as config vars.

Every attach and detach is a new release carrying the app's config with the
attachment's vars set or removed, so the dynos roll over (with preboot) like
on any config change. Provisioning is slow and talks to real servers, so it
runs between two transactions: the add-on is recorded `provisioning`, the
provider works, then the result is recorded — or the record is removed and
the provider's error (one sentence) is what the user sees.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select

from slipway.addons.errors import AddonError
from slipway.addons.provider import Plan, Provider
from slipway.platform import views
from slipway.platform.apps import can_access, find_app_row
from slipway.platform.errors import Conflict, InvalidParams, NotFound, PlatformError, Unavailable
from slipway.platform.names import _ADJECTIVES
from slipway.platform.releases import ReleaseReason, release_new_config
from slipway.platform.tx import Platform, Tx
from slipway.store.models import AddonAttachmentRow, AddonRow, AppRow

Providers = Mapping[str, Provider]
ATTACHMENT_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")
COLORS = (
    "AMBER", "AQUA", "BLACK", "BLUE", "BRONZE", "BROWN", "CHARCOAL", "COBALT", "COPPER",
    "CRIMSON", "CYAN", "GOLD", "GRAY", "GREEN", "IVORY", "JADE", "LIME", "MAGENTA", "MAROON",
    "MAUVE", "NAVY", "OLIVE", "ONYX", "ORANGE", "PINK", "PURPLE", "RED", "ROSE", "SILVER",
    "TEAL", "VIOLET", "WHITE", "YELLOW",
)  # fmt: skip


@dataclass(frozen=True)
class Attachment:
    id: str
    name: str
    app_id: str
    app_name: str
    addon_id: str
    addon_name: str
    addon_app_id: str
    addon_app_name: str
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class Addon:
    id: str
    name: str
    service: str
    plan: str
    state: str
    app_id: str
    app_name: str
    config_vars: tuple[str, ...]
    created_at: dt.datetime
    updated_at: dt.datetime
    provision_message: str = ""


def platform_error(exc: AddonError) -> PlatformError:
    """A provider's error as the API reports it: 404, 422 or 503 by its Heroku id."""
    if exc.id == "not_found":
        return NotFound(exc.message, resource="addon")
    if exc.id == "invalid_params":
        return InvalidParams(exc.message)
    return Unavailable(exc.message)


def resolve_plan(providers: Providers, text: str) -> tuple[Provider, Plan]:
    """`heroku-postgresql`, `postgresql`, `heroku-redis:premium-0` -> (provider, plan)."""
    service_name, _, plan_name = text.strip().partition(":")
    key = service_name.lower()
    provider = next(
        (p for p in providers.values() if key == p.service.name or key in p.service.aliases),
        None,
    )
    if provider is None:
        names = ", ".join(sorted(providers))
        raise InvalidParams(
            f"Couldn't find either the add-on service or plan {text!r}; "
            f"available services: {names}."
        )
    service = provider.service
    plan = service.plan(plan_name) if plan_name else service.default_plan
    if plan is None:
        plans = ", ".join(p.short_name for p in service.plans)
        raise InvalidParams(f"{service.name} has no plan {plan_name!r}; choose one of {plans}.")
    return provider, plan


def _addon_view(tx: Tx, row: AddonRow) -> Addon:
    app = tx.session.get(AppRow, row.app_id)
    assert app is not None
    attachments = tx.session.scalars(
        select(AddonAttachmentRow.name).where(
            AddonAttachmentRow.addon_id == row.id, AddonAttachmentRow.app_id == row.app_id
        )
    ).all()
    config_vars = tuple(f"{a}_{k}" for a in sorted(attachments) for k in row.config_keys)
    return Addon(
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
    )


def _attachment_view(tx: Tx, row: AddonAttachmentRow) -> Attachment:
    addon = tx.session.get(AddonRow, row.addon_id)
    app = tx.session.get(AppRow, row.app_id)
    assert addon is not None
    assert app is not None
    owner = tx.session.get(AppRow, addon.app_id)
    assert owner is not None
    return Attachment(
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
    )


def _new_name(tx: Tx, service: str) -> str:
    short = service.removeprefix("heroku-")
    rng = tx.rng if isinstance(tx.rng, random.Random) else random.SystemRandom()
    for _ in range(50):
        name = f"{short}-{rng.choice(_ADJECTIVES)}-{rng.randint(10000, 99999)}"
        if tx.session.scalar(select(AddonRow).where(AddonRow.name == name)) is None:
            return name
    raise Conflict("Could not find a free add-on name; try again.")


def _attachment_names(tx: Tx, app_id: str) -> set[str]:
    return set(
        tx.session.scalars(
            select(AddonAttachmentRow.name).where(AddonAttachmentRow.app_id == app_id)
        )
    )


def _release_config_change(
    tx: Tx,
    app: AppRow,
    actor: views.Account,
    description: str,
    set_vars: Mapping[str, str],
    unset: tuple[str, ...] = (),
) -> None:
    config = {k: v for k, v in app.config.items() if k not in unset}
    config.update(set_vars)
    release_new_config(
        tx, app, actor, description=description, reason=ReleaseReason.ADDON, config=config
    )


def _attach(
    tx: Tx,
    actor: views.Account,
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
    if name in _attachment_names(tx, app.id):
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


def _default_names(tx: Tx, app: AppRow, service: str) -> list[str]:
    """Heroku's: a Postgres gets HEROKU_POSTGRESQL_<COLOR>, and DATABASE if it is the first."""
    taken = _attachment_names(tx, app.id)
    if service == "heroku-postgresql":
        colors = [c for c in COLORS if f"HEROKU_POSTGRESQL_{c}" not in taken]
        names = [f"HEROKU_POSTGRESQL_{tx.rng.choice(colors)}"] if colors else []
        return (["DATABASE"] if "DATABASE" not in taken else []) + names
    base = "REDIS" if service == "heroku-redis" else service.upper().replace("-", "_")
    if base not in taken:
        return [base]
    n = 2
    while f"{base}_{n}" in taken:
        n += 1
    return [f"{base}_{n}"]


def create_addon(
    platform: Platform,
    providers: Providers,
    actor: views.Account,
    app_ident: str,
    *,
    plan: str,
    attachment_name: str | None = None,
    name: str | None = None,
    options: Mapping[str, str] | None = None,
) -> Addon:
    provider, chosen = resolve_plan(providers, plan)
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
        names = [attachment_name.upper()] if attachment_name else _default_names(tx, app, service)
        for wanted in names:
            if wanted in _attachment_names(tx, app.id):
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
                _attach(tx, actor, app, row, attachment, provisioned.config)
                set_vars.update({f"{attachment}_{k}": v for k, v in provisioned.config.items()})
            _release_config_change(tx, app, actor, f"Attach {names[0]} (@ref:{row.name})", set_vars)
            return _addon_view(tx, row)
    except Exception:
        # Recording failed (a name clash that raced): give the resource back.
        provider.deprovision(provisioned.resource_id)
        with platform.tx() as tx:
            stale = tx.session.get(AddonRow, addon_id)
            if stale is not None:
                tx.session.delete(stale)
        raise


def _find_addon(tx: Tx, actor: views.Account, ident: str, app: AppRow | None = None) -> AddonRow:
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
    if row is None or not _visible(tx, actor, row):
        raise NotFound(f"Couldn't find that add-on ({ident}).", resource="addon")
    return row


def _visible(tx: Tx, actor: views.Account, row: AddonRow) -> bool:
    owner = tx.session.get(AppRow, row.app_id)
    if owner is not None and can_access(actor, owner):
        return True
    apps = tx.session.scalars(
        select(AppRow)
        .join(AddonAttachmentRow, AddonAttachmentRow.app_id == AppRow.id)
        .where(AddonAttachmentRow.addon_id == row.id)
    )
    return any(can_access(actor, a) for a in apps)


def list_addons(tx: Tx, actor: views.Account, app_ident: str | None) -> list[Addon]:
    if app_ident is None:
        rows = tx.session.scalars(select(AddonRow).order_by(AddonRow.created_at)).all()
        return [_addon_view(tx, r) for r in rows if _visible(tx, actor, r)]
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
    return [_addon_view(tx, r) for r in rows]


def get_addon(tx: Tx, actor: views.Account, ident: str, app_ident: str | None = None) -> Addon:
    app = find_app_row(tx, actor, app_ident) if app_ident else None
    return _addon_view(tx, _find_addon(tx, actor, ident, app))


def resolve(tx: Tx, actor: views.Account, addon: str, app_ident: str | None) -> list[Addon]:
    """`POST /actions/addons/resolve`: `DATABASE`, `postgresql-x-1`, or `app::DATABASE`."""
    if "::" in addon:
        app_ident, addon = addon.split("::", 1)
    app = find_app_row(tx, actor, app_ident) if app_ident else None
    try:
        return [_addon_view(tx, _find_addon(tx, actor, addon, app))]
    except NotFound:
        return []


def list_attachments(tx: Tx, actor: views.Account, app_ident: str | None) -> list[Attachment]:
    query = select(AddonAttachmentRow).order_by(AddonAttachmentRow.created_at)
    if app_ident is not None:
        app = find_app_row(tx, actor, app_ident)
        query = query.where(AddonAttachmentRow.app_id == app.id)
    rows = tx.session.scalars(query).all()
    visible = []
    for row in rows:
        owner = tx.session.get(AppRow, row.app_id)
        if owner is not None and can_access(actor, owner):
            visible.append(_attachment_view(tx, row))
    return visible


def attach(
    platform: Platform,
    providers: Providers,
    actor: views.Account,
    addon_ident: str,
    app_ident: str,
    name: str | None,
) -> Attachment:
    with platform.tx() as tx:
        app = find_app_row(tx, actor, app_ident, lock=True)
        addon = _find_addon(tx, actor, addon_ident)
        if addon.state != "provisioned" or addon.resource_id is None:
            raise InvalidParams(f"{addon.name} is {addon.state}; wait until it is provisioned.")
        provider = providers.get(addon.service)
        if provider is None:
            raise Unavailable(f"The {addon.service} provider is not available on this server.")
    try:
        config = provider.config(addon.resource_id)
    except AddonError as exc:
        raise platform_error(exc) from exc
    with platform.tx() as tx:
        app = find_app_row(tx, actor, app_ident, lock=True)
        row = _find_addon(tx, actor, addon_ident)
        attachment = (name or _default_names(tx, app, row.service)[0]).upper()
        created = _attach(tx, actor, app, row, attachment, config)
        _release_config_change(
            tx,
            app,
            actor,
            f"Attach {attachment} (@ref:{row.name})",
            {f"{attachment}_{k}": v for k, v in config.items()},
        )
        return _attachment_view(tx, created)


def detach(tx: Tx, actor: views.Account, attachment_ident: str) -> Attachment:
    row = tx.session.get(AddonAttachmentRow, attachment_ident)
    if row is None:
        raise NotFound(
            f"Couldn't find that attachment ({attachment_ident}).", resource="attachment"
        )
    find_app_row(tx, actor, row.app_id, lock=True)
    return _detach_row(tx, actor, row.id)


def _detach_row(tx: Tx, actor: views.Account, attachment_id: str) -> Attachment:
    row = tx.session.get(AddonAttachmentRow, attachment_id)
    assert row is not None
    app = tx.session.get(AppRow, row.app_id, with_for_update=True)
    assert app is not None
    addon = tx.session.get(AddonRow, row.addon_id)
    assert addon is not None
    view = _attachment_view(tx, row)
    unset = tuple(f"{row.name}_{k}" for k in addon.config_keys)
    tx.session.delete(row)
    tx.session.flush()
    _release_config_change(tx, app, actor, f"Detach {row.name} (@ref:{addon.name})", {}, unset)
    return view


def destroy_addon(
    platform: Platform,
    providers: Providers,
    actor: views.Account,
    app_ident: str,
    addon_ident: str,
    *,
    force: bool,
) -> Addon:
    """Detach everywhere (one release per app), then the provider destroys the resource."""
    with platform.tx() as tx:
        app = find_app_row(tx, actor, app_ident)
        row = _find_addon(tx, actor, addon_ident, app)
        if row.app_id != app.id:
            raise InvalidParams(
                f"{row.name} belongs to another app; detach it from {app.name} instead."
            )
        elsewhere = sorted(
            {
                a.app_name
                for a in (
                    _attachment_view(tx, r)
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
            _detach_row(tx, actor, attachment_id)
    provider = providers.get(service)
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
        view = _addon_view(tx, gone)
        for leftover in tx.session.scalars(
            select(AddonAttachmentRow).where(AddonAttachmentRow.addon_id == addon_id)
        ):
            tx.session.delete(leftover)
        tx.session.delete(gone)
    return Addon(**{**view.__dict__, "state": "deprovisioned"})


def _provisioned(
    tx: Tx, actor: views.Account, addon_ident: str, app_ident: str | None
) -> tuple[AddonRow, str]:
    app = find_app_row(tx, actor, app_ident) if app_ident else None
    row = _find_addon(tx, actor, addon_ident, app)
    if row.resource_id is None or row.state != "provisioned":
        raise InvalidParams(f"{row.name} is {row.state}; wait until it is provisioned.")
    return row, row.resource_id


def resource_of(
    tx: Tx, actor: views.Account, addon_ident: str, app_ident: str | None
) -> tuple[str, str]:
    """(service, resource id) of an add-on the actor can see, for pg:* and redis:*."""
    row, resource_id = _provisioned(tx, actor, addon_ident, app_ident)
    return row.service, resource_id


def rotate_credentials(
    platform: Platform,
    providers: Providers,
    actor: views.Account,
    addon_ident: str,
    app_ident: str | None,
) -> Addon:
    """New credentials from the provider; every attached app gets a release with them."""
    with platform.tx() as tx:
        found, resource_id = _provisioned(tx, actor, addon_ident, app_ident)
        service, addon_id = found.service, found.id
    provider = providers.get(service)
    if provider is None:
        raise Unavailable(f"The {service} provider is not available on this server.")
    try:
        config = provider.rotate_credentials(resource_id)
    except AddonError as exc:
        raise platform_error(exc) from exc
    with platform.tx() as tx:
        row = tx.session.get(AddonRow, addon_id)
        assert row is not None
        for attachment in tx.session.scalars(
            select(AddonAttachmentRow).where(AddonAttachmentRow.addon_id == addon_id)
        ).all():
            app = tx.session.get(AppRow, attachment.app_id, with_for_update=True)
            assert app is not None
            _release_config_change(
                tx,
                app,
                actor,
                f"Update {attachment.name} by {row.name}",
                {f"{attachment.name}_{k}": v for k, v in config.items()},
            )
        return _addon_view(tx, row)
