"""Accounts: made by an admin or through an invitation, disabled, their passwords set."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import func, select

from slipway.platform import audit, authorizations, views
from slipway.platform.authorizations import account_view
from slipway.platform.errors import Conflict, Forbidden, InvalidParams, NotFound, Unauthorized
from slipway.platform.events import AccessChanged
from slipway.platform.tx import Tx
from slipway.store.models import AccountRow

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")

__all__ = ["account_view"]


def normalise_email(email: str) -> str:
    """Emails are compared without case, as Heroku's: kept lowercased."""
    email = email.strip().lower()
    if not _EMAIL_RE.match(email) or len(email) > 254:
        raise InvalidParams(f"{email!r} is not an email address.")
    return email


def find_account_row(tx: Tx, ident: str) -> AccountRow | None:
    """By id or email (any case)."""
    return tx.session.scalar(
        select(AccountRow).where(
            (AccountRow.id == ident) | (AccountRow.email == ident.strip().lower())
        )
    )


def create_account_row(
    tx: Tx, email: str, *, is_admin: bool = False, password: str | None = None, name: str = ""
) -> AccountRow:
    email = normalise_email(email)
    if find_account_row(tx, email) is not None:
        raise Conflict(f"An account for {email} already exists.")
    password_hash = tx.passwords.hash(password) if password is not None else None
    now = tx.clock.now()
    row = AccountRow(
        id=str(uuid.uuid4()),
        email=email,
        name=name[:200],
        is_admin=is_admin,
        password_hash=password_hash,
        created_at=now,
        updated_at=now,
    )
    tx.session.add(row)
    tx.session.flush()
    return row


def _with_key(tx: Tx, row: AccountRow) -> tuple[views.Account, str]:
    _, token = authorizations.issue(
        tx,
        row.id,
        description="API key, created with the account",
        kind=authorizations.API_KEY,
    )
    return account_view(row), token


def bootstrap_admin(tx: Tx, email: str) -> tuple[views.Account, str] | None:
    """On the very first start, create the admin account. Returns its key, or None if one exists."""
    if tx.session.scalar(select(func.count()).select_from(AccountRow)):
        return None
    return _with_key(tx, create_account_row(tx, email, is_admin=True))


def _admin(actor: views.Actor, what: str) -> None:
    if not actor.is_admin:
        raise Forbidden(f"Only an admin can {what}.")


def create_account(
    tx: Tx,
    actor: views.Actor,
    email: str,
    *,
    password: str | None = None,
    name: str = "",
    is_admin: bool = False,
) -> tuple[views.Account, str]:
    """An admin makes an account; it gets an API key (shown once) and maybe a password."""
    _admin(actor, "create accounts")
    row = create_account_row(tx, email, password=password, name=name, is_admin=is_admin)
    audit.record(tx, actor, "account-create", f"Created the account {row.email}")
    return _with_key(tx, row)


def list_accounts(tx: Tx, actor: views.Actor) -> list[views.Account]:
    _admin(actor, "list accounts")
    rows = tx.session.scalars(select(AccountRow).order_by(AccountRow.email))
    return [account_view(r) for r in rows]


def _admin_row(tx: Tx, actor: views.Actor, ident: str, what: str) -> AccountRow:
    _admin(actor, what)
    row = find_account_row(tx, ident)
    if row is None:
        raise NotFound(f"Couldn't find that user ({ident}).", resource="user")
    return row


def set_disabled(tx: Tx, actor: views.Actor, ident: str, disabled: bool) -> views.Account:
    """A disabled account cannot sign in and its tokens are refused (open tails too)."""
    row = _admin_row(tx, actor, ident, "disable or enable accounts")
    if disabled and row.id == actor.id:
        raise InvalidParams("You cannot disable your own account; ask another admin.")
    if disabled and row.is_admin and _other_admins(tx, row.id) == 0:
        raise InvalidParams("This is the last admin account; make another admin first.")
    now = tx.clock.now()
    row.disabled_at = now if disabled else None
    row.updated_at = now
    tx.emit(AccessChanged(row.id))
    verb = "Disabled" if disabled else "Enabled"
    audit.record(
        tx, actor, "account-disable" if disabled else "account-enable", f"{verb} {row.email}"
    )
    return account_view(row)


def _other_admins(tx: Tx, account_id: str) -> int:
    return int(
        tx.session.scalar(
            select(func.count())
            .select_from(AccountRow)
            .where(
                AccountRow.is_admin.is_(True),
                AccountRow.disabled_at.is_(None),
                AccountRow.id != account_id,
            )
        )
        or 0
    )


def reset_password(tx: Tx, actor: views.Actor, ident: str, password: str) -> views.Account:
    row = _admin_row(tx, actor, ident, "reset passwords")
    row.password_hash = tx.passwords.hash(password)
    row.updated_at = tx.clock.now()
    audit.record(tx, actor, "password-reset", f"Reset the password of {row.email}")
    return account_view(row)


def update_account(
    tx: Tx,
    actor: views.Actor,
    *,
    name: str | None = None,
    password: str | None = None,
    new_password: str | None = None,
) -> views.Account:
    """`PATCH /account`: the name, and the password (the current one must be given)."""
    row = tx.session.get(AccountRow, actor.id)
    assert row is not None
    if name is not None:
        row.name = name[:200]
    if new_password is not None:
        if row.password_hash is not None and not tx.passwords.verify(
            row.password_hash, password or ""
        ):
            raise Unauthorized("The current password is not right; nothing was changed.")
        row.password_hash = tx.passwords.hash(new_password)
        audit.record(tx, actor, "password-change", "Changed the account's password")
    row.updated_at = tx.clock.now()
    return account_view(row)


def get_account(tx: Tx, ident: str) -> views.Account:
    row = find_account_row(tx, ident)
    if row is None:
        raise NotFound(f"Couldn't find that user ({ident}).", resource="user")
    return account_view(row)
