"""The audit trail: who changed what and when, and every sign-in (`slipway audit`)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from slipway.platform import views
from slipway.platform.errors import Forbidden
from slipway.platform.tx import Tx
from slipway.store.models import AppRow, AuditEventRow

MAX_EVENTS = 1000


def record(
    tx: Tx,
    actor: views.Actor | views.Account | None,
    action: str,
    description: str,
    *,
    app: AppRow | None = None,
    email: str | None = None,
    address: str | None = None,
) -> None:
    """Written in the same transaction as the change it describes: both or neither."""
    account = actor.account if isinstance(actor, views.Actor) else actor
    if address is None and isinstance(actor, views.Actor):
        address = actor.address
    tx.session.add(
        AuditEventRow(
            id=str(uuid.uuid4()),
            created_at=tx.clock.now(),
            action=action,
            account_id=account.id if account else None,
            email=account.email if account else (email or ""),
            address=address,
            app_id=app.id if app else None,
            app_name=app.name if app else None,
            description=description[:2000],
        )
    )


def _view(row: AuditEventRow) -> views.AuditEvent:
    return views.AuditEvent(
        id=row.id,
        created_at=row.created_at,
        action=row.action,
        account_id=row.account_id,
        email=row.email,
        address=row.address,
        app_id=row.app_id,
        app_name=row.app_name,
        description=row.description,
    )


def app_events(tx: Tx, actor: views.Actor, app_ident: str) -> list[views.AuditEvent]:
    """The app's trail, newest first (the caller found the app with its view need)."""
    from slipway.platform.apps import find_app_row

    app = find_app_row(tx, actor, app_ident)
    rows = tx.session.scalars(
        select(AuditEventRow)
        .where(AuditEventRow.app_id == app.id)
        .order_by(AuditEventRow.created_at.desc(), AuditEventRow.id)
        .limit(MAX_EVENTS)
    )
    return [_view(r) for r in rows]


def all_events(tx: Tx, actor: views.Actor, action: str | None) -> list[views.AuditEvent]:
    """Everything (or one action, e.g. `sign-in`), newest first: for admins."""
    if not actor.is_admin:
        raise Forbidden("Only an admin can read the whole audit trail.")
    query = select(AuditEventRow)
    if action:
        query = query.where(AuditEventRow.action == action)
    rows = tx.session.scalars(
        query.order_by(AuditEventRow.created_at.desc(), AuditEventRow.id).limit(MAX_EVENTS)
    )
    return [_view(r) for r in rows]
