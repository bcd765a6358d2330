"""The platform's exception tree. Each error carries Heroku's error id and one sentence."""

from __future__ import annotations


class PlatformError(Exception):
    """Base of every error the platform reports to a user."""

    id = "bad_request"

    def __init__(self, message: str, *, resource: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.resource = resource


class Unauthorized(PlatformError):
    id = "unauthorized"


class Forbidden(PlatformError):
    id = "forbidden"


class NotFound(PlatformError):
    id = "not_found"


class Conflict(PlatformError):
    id = "conflict"


class InvalidParams(PlatformError):
    id = "invalid_params"


class RateLimited(PlatformError):
    id = "rate_limit"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        # Seconds until trying again can succeed (the Retry-After header).
        self.retry_after = retry_after


class Gone(PlatformError):
    """Something that existed and can no longer be used: an expired or used invitation."""

    id = "gone"


class Unavailable(PlatformError):
    id = "unavailable"
