"""OAuth authorizations (Heroku's): tokens with a scope and an expiry, revocable at once.

Only a SHA-256 of each token is stored, plus its first and last characters
around Heroku's ten asterisks (`HRKU-AbCd**********wxyz`), which is what lists
show: the official CLI's logout matches its own token against that form. An
account's API key (what `accounts:create` hands out, the admin key of a data
directory) is an authorization of kind `api-key`: global, never expiring, and
the one `/oauth/authorizations/~` names, so `heroku logout` leaves it alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid

from sqlalchemy import select

from slipway.platform import audit, views
from slipway.platform.errors import Forbidden, InvalidParams, NotFound, Unauthorized
from slipway.platform.events import AccessChanged
from slipway.platform.permissions import Scope, parse_scopes
from slipway.platform.tx import Tx
from slipway.store.models import AccountRow, AuthorizationRow

TOKEN_PREFIX = "HRKU-"
REDACTION = "*" * 10
API_KEY = "api-key"
OAUTH = "oauth"
# How often a token's "last used" is written: at most once a minute, not per request.
LAST_USED_EVERY = dt.timedelta(seconds=60)
MAX_EXPIRES_IN = 10 * 365 * 24 * 3600


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def redact(token: str) -> str:
    return token[:9] + REDACTION + token[-4:]


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_hex(32)


def account_view(row: AccountRow) -> views.Account:
    return views.Account(
        id=row.id,
        email=row.email,
        name=row.name,
        is_admin=row.is_admin,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_login_at=row.last_login_at,
        disabled=row.disabled_at is not None,
        has_password=row.password_hash is not None,
    )


def _view(tx: Tx, row: AuthorizationRow, token: str | None = None) -> views.Authorization:
    owner = tx.session.get(AccountRow, row.account_id)
    assert owner is not None
    return views.Authorization(
        id=row.id,
        kind=row.kind,
        description=row.description,
        scope=tuple(row.scope),
        token=token or row.token_display,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        last_used_from=row.last_used_from,
        user=account_view(owner),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def parse_expires_in(value: int | str | None) -> int | None:
    """Seconds, as a number (login) or a string (authorizations:create sends "3600")."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        if not value.strip().isdecimal():
            raise InvalidParams(f"expires_in must be a number of seconds; got {value!r}.")
        value = int(value.strip())
    if not 0 < value <= MAX_EXPIRES_IN:
        raise InvalidParams(f"expires_in must be between 1 and {MAX_EXPIRES_IN} seconds.")
    return value


def issue(
    tx: Tx,
    account_id: str,
    *,
    description: str,
    scope: list[str] | None = None,
    expires_in: int | None = None,
    kind: str = OAUTH,
) -> tuple[AuthorizationRow, str]:
    """A new authorization; the token is returned here and never again."""
    try:
        scopes = sorted(s.value for s in parse_scopes(scope or []))
    except ValueError as exc:
        raise InvalidParams(str(exc)) from exc
    token = new_token()
    now = tx.clock.now()
    row = AuthorizationRow(
        id=str(uuid.uuid4()),
        account_id=account_id,
        kind=kind,
        description=description[:200],
        scope=scopes,
        token_hash=hash_token(token),
        token_display=redact(token),
        expires_at=now + dt.timedelta(seconds=expires_in) if expires_in else None,
        created_at=now,
        updated_at=now,
    )
    tx.session.add(row)
    tx.session.flush()
    return row, token


def _refusal(tx: Tx, row: AuthorizationRow | None, account: AccountRow | None) -> str | None:
    if row is None or account is None or row.revoked_at is not None:
        return "Invalid credentials provided."
    if row.expires_at is not None and row.expires_at <= tx.clock.now():
        return "This token has expired; log in again or create a new one."
    if account.disabled_at is not None:
        return "This account is disabled; ask an admin of this Slipway."
    return None


def authenticate(tx: Tx, token: str, *, address: str | None = None) -> views.Actor:
    """The actor a token stands for; Unauthorized when it is unknown, revoked, expired or
    its account is disabled."""
    row = tx.session.scalar(
        select(AuthorizationRow).where(AuthorizationRow.token_hash == hash_token(token))
    )
    account = tx.session.get(AccountRow, row.account_id) if row is not None else None
    refusal = _refusal(tx, row, account)
    if refusal is not None:
        raise Unauthorized(refusal)
    assert row is not None
    assert account is not None
    now = tx.clock.now()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
        row.last_used_at = now
        row.last_used_from = address
    return views.Actor(
        account_view(account),
        scopes=parse_scopes(row.scope),
        authorization_id=row.id,
        address=address,
    )


def still_valid(tx: Tx, authorization_id: str) -> views.Actor | None:
    """The actor an authorization stands for now, or None once it is revoked, rotated
    away, expired or its account disabled (long-lived streams ask this)."""
    row = tx.session.get(AuthorizationRow, authorization_id)
    account = tx.session.get(AccountRow, row.account_id) if row is not None else None
    if _refusal(tx, row, account) is not None:
        return None
    assert row is not None
    assert account is not None
    return views.Actor(
        account_view(account), scopes=parse_scopes(row.scope), authorization_id=row.id
    )


def expires_at(tx: Tx, authorization_id: str) -> dt.datetime | None:
    row = tx.session.get(AuthorizationRow, authorization_id)
    return row.expires_at if row is not None else None


def _require_global(actor: views.Actor) -> None:
    if Scope.GLOBAL not in actor.scopes:
        raise Forbidden("Managing tokens needs a global token; log in with `heroku login`.")


def _find(tx: Tx, actor: views.Actor, ident: str) -> AuthorizationRow:
    if ident == "~":
        row = tx.session.scalar(
            select(AuthorizationRow)
            .where(
                AuthorizationRow.account_id == actor.id,
                AuthorizationRow.kind == API_KEY,
                AuthorizationRow.revoked_at.is_(None),
            )
            .order_by(AuthorizationRow.created_at)
            .limit(1)
        )
    else:
        row = tx.session.get(AuthorizationRow, ident)
    if row is None or row.account_id != actor.id or row.revoked_at is not None:
        raise NotFound(f"Couldn't find that authorization ({ident}).", resource="authorization")
    return row


def list_authorizations(tx: Tx, actor: views.Actor) -> list[views.Authorization]:
    rows = tx.session.scalars(
        select(AuthorizationRow)
        .where(AuthorizationRow.account_id == actor.id, AuthorizationRow.revoked_at.is_(None))
        .order_by(AuthorizationRow.created_at)
    )
    now = tx.clock.now()
    return [_view(tx, r) for r in rows if r.expires_at is None or r.expires_at > now]


def get_authorization(tx: Tx, actor: views.Actor, ident: str) -> views.Authorization:
    return _view(tx, _find(tx, actor, ident))


def create_authorization(
    tx: Tx,
    actor: views.Actor,
    *,
    description: str | None,
    scope: list[str] | None,
    expires_in: int | str | None,
) -> views.Authorization:
    _require_global(actor)
    row, token = issue(
        tx,
        actor.id,
        description=description or "Slipway authorization",
        scope=scope,
        expires_in=parse_expires_in(expires_in),
    )
    audit.record(tx, actor, "authorization-create", f"Created token {row.description!r}")
    return _view(tx, row, token)


def update_authorization(
    tx: Tx, actor: views.Actor, ident: str, *, description: str | None
) -> views.Authorization:
    _require_global(actor)
    row = _find(tx, actor, ident)
    if description is not None:
        row.description = description[:200]
        row.updated_at = tx.clock.now()
    return _view(tx, row)


def revoke_authorization(tx: Tx, actor: views.Actor, ident: str) -> views.Authorization:
    """Refused from the next request on, open log tails and streams included."""
    _require_global(actor)
    row = _find(tx, actor, ident)
    row.revoked_at = row.updated_at = tx.clock.now()
    tx.emit(AccessChanged(actor.id))
    audit.record(tx, actor, "authorization-revoke", f"Revoked token {row.description!r}")
    return _view(tx, row)


def regenerate(tx: Tx, actor: views.Actor, ident: str) -> views.Authorization:
    """A new token for the same authorization: the old one stops working at once."""
    _require_global(actor)
    row = _find(tx, actor, ident)
    token = new_token()
    row.token_hash = hash_token(token)
    row.token_display = redact(token)
    row.updated_at = tx.clock.now()
    if row.expires_at is not None:
        # The same lifetime again, counted from now, as Heroku's regenerate-tokens.
        row.expires_at = row.updated_at + (row.expires_at - row.created_at)
    tx.emit(AccessChanged(actor.id))
    audit.record(tx, actor, "authorization-rotate", f"Rotated token {row.description!r}")
    return _view(tx, row, token)
