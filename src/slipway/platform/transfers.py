"""App transfers between people (`heroku apps:transfer EMAIL`): the recipient accepts.

The owner asks (POST /account/app-transfers); nothing moves until the recipient
accepts (PATCH ... {"state": "accepted"}), as Heroku asks of personal apps. On
acceptance the old owner stays on as a collaborator, as Heroku does, so a
transfer never locks the person who made it out of the app they worked on.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from slipway.platform import access, audit, views
from slipway.platform.accounts import find_account_row
from slipway.platform.apps import find_app_row
from slipway.platform.authorizations import account_view
from slipway.platform.errors import Forbidden, InvalidParams, NotFound
from slipway.platform.events import AccessChanged
from slipway.platform.permissions import ALL_PERMISSIONS, OWNER, sorted_names
from slipway.platform.tx import Tx
from slipway.store.models import AccountRow, AppRow, AppTransferRow, CollaboratorRow


def _view(tx: Tx, row: AppTransferRow) -> views.AppTransfer:
    app = tx.session.get(AppRow, row.app_id)
    owner = tx.session.get(AccountRow, row.owner_id)
    recipient = tx.session.get(AccountRow, row.recipient_id)
    assert app is not None
    assert owner is not None
    assert recipient is not None
    return views.AppTransfer(
        id=row.id,
        app_id=app.id,
        app_name=app.name,
        owner=account_view(owner),
        recipient=account_view(recipient),
        state=row.state,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def request_transfer(
    tx: Tx, actor: views.Actor, app_ident: str, recipient: str
) -> views.AppTransfer:
    app = find_app_row(tx, actor, app_ident, lock=True)
    access.authorise(tx, actor, app, OWNER)
    if app.team_id is not None:
        raise InvalidParams(
            f"{app.name} belongs to a team; move it with `heroku apps:transfer {recipient}`, "
            "which goes through the team."
        )
    user = find_account_row(tx, recipient)
    if user is None:
        raise NotFound(
            f"There is no account for {recipient}; nothing was transferred.", resource="user"
        )
    if user.id == app.owner_id:
        raise InvalidParams(f"{user.email} owns {app.name} already.")
    pending = tx.session.scalar(
        select(AppTransferRow).where(
            AppTransferRow.app_id == app.id, AppTransferRow.state == "pending"
        )
    )
    if pending is not None:
        raise InvalidParams(
            f"{app.name} already has a transfer waiting; cancel it first "
            f"(`slipway transfers:cancel {pending.id}`)."
        )
    now = tx.clock.now()
    row = AppTransferRow(
        id=str(uuid.uuid4()),
        app_id=app.id,
        owner_id=app.owner_id,
        recipient_id=user.id,
        state="pending",
        created_at=now,
        updated_at=now,
    )
    tx.session.add(row)
    tx.session.flush()
    audit.record(tx, actor, "transfer-request", f"Asked {user.email} to take the app", app=app)
    return _view(tx, row)


def list_transfers(tx: Tx, actor: views.Actor) -> list[views.AppTransfer]:
    rows = tx.session.scalars(
        select(AppTransferRow)
        .where(
            (AppTransferRow.owner_id == actor.id) | (AppTransferRow.recipient_id == actor.id),
            AppTransferRow.state == "pending",
        )
        .order_by(AppTransferRow.created_at)
    )
    return [_view(tx, r) for r in rows]


def _mine(tx: Tx, actor: views.Actor, ident: str) -> AppTransferRow:
    row = tx.session.get(AppTransferRow, ident)
    if row is None:
        app = tx.session.scalar(select(AppRow).where(AppRow.name == ident))
        row = (
            tx.session.scalar(
                select(AppTransferRow).where(
                    AppTransferRow.app_id == app.id, AppTransferRow.state == "pending"
                )
            )
            if app is not None
            else None
        )
    if row is None or actor.id not in (row.owner_id, row.recipient_id):
        raise NotFound(f"Couldn't find that app transfer ({ident}).", resource="app-transfer")
    return row


def get_transfer(tx: Tx, actor: views.Actor, ident: str) -> views.AppTransfer:
    return _view(tx, _mine(tx, actor, ident))


def answer_transfer(tx: Tx, actor: views.Actor, ident: str, state: str) -> views.AppTransfer:
    """The recipient accepts (the app is theirs, at once) or declines."""
    row = _mine(tx, actor, ident)
    if state not in ("accepted", "declined"):
        raise InvalidParams("state must be accepted or declined.")
    if row.recipient_id != actor.id:
        raise Forbidden("Only the recipient can accept or decline a transfer.")
    if row.state != "pending":
        raise InvalidParams(f"This transfer was {row.state} already.")
    app = tx.session.get(AppRow, row.app_id, with_for_update=True)
    assert app is not None
    if app.owner_id != row.owner_id or app.team_id is not None:
        raise InvalidParams("The app changed hands since this transfer was asked; ask again.")
    row.state = state
    row.updated_at = tx.clock.now()
    if state == "accepted":
        _move(tx, app, row)
    audit.record(tx, actor, f"transfer-{state}", f"{state.capitalize()} the transfer", app=app)
    return _view(tx, row)


def _move(tx: Tx, app: AppRow, row: AppTransferRow) -> None:
    now = tx.clock.now()
    mine = tx.session.scalar(
        select(CollaboratorRow).where(
            CollaboratorRow.app_id == app.id, CollaboratorRow.account_id == row.recipient_id
        )
    )
    if mine is not None:
        tx.session.delete(mine)
    tx.session.add(
        CollaboratorRow(
            id=str(uuid.uuid4()),
            app_id=app.id,
            account_id=row.owner_id,
            permissions=sorted_names(ALL_PERMISSIONS),
            created_at=now,
            updated_at=now,
        )
    )
    app.owner_id = row.recipient_id
    app.updated_at = now
    tx.emit(AccessChanged(row.owner_id))


def cancel_transfer(tx: Tx, actor: views.Actor, ident: str) -> views.AppTransfer:
    row = _mine(tx, actor, ident)
    if row.owner_id != actor.id:
        raise Forbidden("Only the owner who asked can cancel a transfer; decline it instead.")
    view = _view(tx, row)
    tx.session.delete(row)
    return view
