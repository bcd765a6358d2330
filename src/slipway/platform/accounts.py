"""Accounts and API keys."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid

from sqlalchemy import func, select

from slipway.platform import views
from slipway.platform.errors import Conflict, Forbidden, InvalidParams, NotFound, Unauthorized
from slipway.platform.tx import Tx
from slipway.store.models import AccountRow, ApiKeyRow

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")
TOKEN_PREFIX = "HRKU-"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def account_view(row: AccountRow) -> views.Account:
    return views.Account(
        id=row.id,
        email=row.email,
        name=row.name,
        is_admin=row.is_admin,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _create(tx: Tx, email: str, *, is_admin: bool) -> tuple[views.Account, str]:
    if not _EMAIL_RE.match(email):
        raise InvalidParams(f"{email!r} is not an email address.")
    if tx.session.scalar(select(AccountRow).where(AccountRow.email == email)) is not None:
        raise Conflict(f"An account for {email} already exists.")
    now = tx.clock.now()
    row = AccountRow(
        id=str(uuid.uuid4()),
        email=email,
        name="",
        is_admin=is_admin,
        created_at=now,
        updated_at=now,
    )
    tx.session.add(row)
    tx.session.flush()
    token = issue_api_key(tx, row.id, description="created with the account")
    return account_view(row), token


def issue_api_key(tx: Tx, account_id: str, *, description: str) -> str:
    """Create a new API key; only its hash is stored, so this is the one chance to see it."""
    token = TOKEN_PREFIX + secrets.token_hex(32)
    tx.session.add(
        ApiKeyRow(
            id=str(uuid.uuid4()),
            account_id=account_id,
            token_hash=hash_token(token),
            description=description,
            created_at=tx.clock.now(),
        )
    )
    return token


def bootstrap_admin(tx: Tx, email: str) -> tuple[views.Account, str] | None:
    """On the very first start, create the admin account. Returns its key, or None if one exists."""
    if tx.session.scalar(select(func.count()).select_from(AccountRow)):
        return None
    return _create(tx, email, is_admin=True)


def create_account(tx: Tx, actor: views.Account, email: str) -> tuple[views.Account, str]:
    if not actor.is_admin:
        raise Forbidden("Only an admin can create accounts.")
    return _create(tx, email, is_admin=False)


def authenticate(tx: Tx, token: str) -> views.Account:
    row = tx.session.scalar(
        select(AccountRow)
        .join(ApiKeyRow, ApiKeyRow.account_id == AccountRow.id)
        .where(ApiKeyRow.token_hash == hash_token(token))
    )
    if row is None:
        raise Unauthorized("Invalid credentials provided.")
    return account_view(row)


def get_account(tx: Tx, ident: str) -> views.Account:
    row = tx.session.scalar(
        select(AccountRow).where((AccountRow.id == ident) | (AccountRow.email == ident))
    )
    if row is None:
        raise NotFound(f"Couldn't find that user ({ident}).", resource="user")
    return account_view(row)
