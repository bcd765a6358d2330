"""Capability URLs: a link that is its own credential (an add-on's page, a backup download).

Heroku hands out such links (`addons:open`, `pg:backups:url`); here each is an
HMAC of what it opens with the server's secret, optionally with an expiry in the
MAC, so a link opens only what it was made for, and only while it is valid.
"""

from __future__ import annotations

import hashlib
import hmac


def same_token(expected: str, given: str) -> bool:
    """A constant-time comparison that any string may be given to (compare_digest refuses
    str with non-ASCII characters, which a forged URL may well carry)."""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogatepass"))


class Signer:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def token(self, purpose: str, ident: str, expires: int | None = None) -> str:
        message = f"{purpose}:{ident}:{expires if expires is not None else ''}"
        return hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest()

    def check(
        self, purpose: str, ident: str, token: str, expires: int | None = None, now: float = 0
    ) -> bool:
        """Whether `token` was made for (purpose, ident, expires) and has not expired."""
        if expires is not None and now > expires:
            return False
        return same_token(self.token(purpose, ident, expires), token)
