"""Log sessions: capability URLs for `heroku logs`, signed so they need no store.

A session URL carries what to show (app, lines, filters, tail) and when it was
made, with an HMAC. A plain session must be fetched within 360 s, as
Logplex's; a tail session stays valid for a day so clients can reconnect.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

FETCH_WINDOW = 360
TAIL_WINDOW = 24 * 3600


@dataclass(frozen=True)
class SessionParams:
    app_id: str
    lines: int
    tail: bool
    source: str | None
    dyno: str | None
    created: float
    # The authorization the session was made with: the stream checks it is still good.
    grant: str | None = None


class SessionSigner:
    def __init__(self, secret: bytes, now: Callable[[], float] = time.time) -> None:
        self._secret = secret
        self._time = now

    def _mac(self, payload: bytes) -> str:
        return hmac.new(self._secret, b"log-session:" + payload, hashlib.sha256).hexdigest()[:32]

    def issue(
        self,
        app_id: str,
        lines: int,
        tail: bool,
        source: str | None,
        dyno: str | None,
        grant: str | None = None,
    ) -> str:
        params = SessionParams(app_id, lines, tail, source, dyno, round(self._time(), 3), grant)
        payload = base64.urlsafe_b64encode(json.dumps(asdict(params)).encode()).rstrip(b"=")
        return f"{payload.decode()}.{self._mac(payload)}"

    def verify(self, token: str) -> SessionParams | None:
        """The session's parameters, or None when the token is forged, broken or expired."""
        payload_text, _, mac = token.partition(".")
        payload = payload_text.encode("utf-8", "surrogatepass")
        if not mac or not hmac.compare_digest(
            self._mac(payload).encode(), mac.encode("utf-8", "surrogatepass")
        ):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
            params = SessionParams(**data)
        except (ValueError, TypeError):
            return None
        window = TAIL_WINDOW if params.tail else FETCH_WINDOW
        if self._time() - params.created > window:
            return None
        return params
