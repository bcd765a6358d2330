"""Password hashing (argon2id through argon2-cffi) and the rules a new password meets."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from slipway.platform.errors import InvalidParams

MAX_PASSWORD_LENGTH = 1024


class Passwords:
    """Hash and check passwords. Checking an unknown account costs as much as a known
    one (a hash of nothing is checked instead), so timing does not tell which exist."""

    def __init__(self, time_cost: int, memory_kib: int, min_length: int) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)
        self.min_length = min_length
        self._dummy_hash: str | None = None

    @property
    def _dummy(self) -> str:
        # Made on first use: a platform that never checks a password never pays for it.
        if self._dummy_hash is None:
            self._dummy_hash = self._hasher.hash("slipway: no such account")
        return self._dummy_hash

    def validate(self, password: str) -> None:
        if len(password) < self.min_length:
            raise InvalidParams(
                f"The password is too short; use at least {self.min_length} characters."
            )
        if len(password) > MAX_PASSWORD_LENGTH:
            raise InvalidParams(
                f"The password is too long; use at most {MAX_PASSWORD_LENGTH} characters."
            )

    def hash(self, password: str) -> str:
        self.validate(password)
        return self._hasher.hash(password)

    def verify(self, encoded: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(encoded or self._dummy, password) and encoded is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, encoded: str) -> bool:
        """After the cost settings change, a successful sign-in upgrades the stored hash."""
        try:
            return self._hasher.check_needs_rehash(encoded)
        except InvalidHashError:
            return False
