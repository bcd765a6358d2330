"""Signing in with an email and a password (`heroku login -i`, the browser login page).

Wrong passwords are counted per account and per address; past the limit the
answer is 429 with Retry-After, even for the right password, until the window
has passed. Every attempt, good or bad, goes into the audit trail.
"""

from __future__ import annotations

from slipway.platform import audit, authorizations, views
from slipway.platform.accounts import find_account_row, normalise_email
from slipway.platform.errors import InvalidParams, RateLimited, Unauthorized
from slipway.platform.permissions import Need
from slipway.platform.tx import Platform

WRONG_CREDENTIALS = "There were problems with your login credentials. Please try again."


def _throttled(platform: Platform, email: str, address: str | None) -> None:
    s = platform.settings
    waits = [
        platform.sign_in_failures.retry_after(f"account:{email}", s.login_failures_per_account),
        platform.sign_in_failures.retry_after(f"address:{address}", s.login_failures_per_address)
        if address
        else None,
    ]
    wait = max((w for w in waits if w is not None), default=None)
    if wait is not None:
        raise RateLimited(
            f"Too many wrong passwords; wait {int(wait) + 1} seconds and try again.",
            retry_after=wait,
        )


def sign_in(
    platform: Platform, email: str, password: str, *, address: str | None, need: Need
) -> views.Actor:
    """The account behind an email and password, as an actor with a global scope (it
    is the person, not a token); Unauthorized or RateLimited otherwise."""
    try:
        email = normalise_email(email)
    except InvalidParams:
        raise Unauthorized(WRONG_CREDENTIALS) from None
    _throttled(platform, email, address)
    with platform.tx() as tx:
        row = find_account_row(tx, email)
        ok = platform.passwords.verify(row.password_hash if row else None, password)
        disabled = row is not None and row.disabled_at is not None
        failed = row is None or not ok or disabled
        if failed:
            audit.record(
                tx, None, "sign-in-failed", "Wrong email or password", email=email, address=address
            )
        else:
            assert row is not None
            row.last_login_at = tx.clock.now()
            if platform.passwords.needs_rehash(row.password_hash or ""):
                row.password_hash = platform.passwords.hash(password)
            account = authorizations.account_view(row)
            audit.record(tx, account, "sign-in", "Signed in with a password", address=address)
    if failed:
        platform.sign_in_failures.fail(f"account:{email}")
        if address:
            platform.sign_in_failures.fail(f"address:{address}")
        if disabled and ok:
            raise Unauthorized("This account is disabled; ask an admin of this Slipway.")
        raise Unauthorized(WRONG_CREDENTIALS)
    platform.sign_in_failures.clear(f"account:{email}")
    return views.Actor(account, need, address=address)
