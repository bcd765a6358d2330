"""Release phase output: each release command's output as a file, and its capability URL.

A release whose release phase runs gets an `output_stream_url` (as on Heroku),
which `heroku releases:output`, `releases:retry` and `releases:rollback` fetch
as plain text with no credentials: the URL carries an HMAC of the release id
instead. The dyno manager reports the phase through its hooks
(`runtime_bridge.RuntimeBridge`): started, each line, ended. The files are
kept until the app is destroyed.

    <data dir>/release-output/<app id>/v<version>.log    what the command printed
    <data dir>/release-output/<app id>/v<version>.done   its exit status, once it ended
"""

from __future__ import annotations

import hashlib
import hmac
import shutil
import threading
from pathlib import Path

from slipway.platform.capabilities import same_token
from slipway.privatefile import write_private


class ReleaseOutputs:
    def __init__(self, root: Path, secret: bytes, public_api_url: str) -> None:
        self.root = root
        self.secret = secret
        self.public_api_url = public_api_url.rstrip("/")
        self._lock = threading.Lock()

    # -- where, and who may read it

    def _dir(self, app_id: str) -> Path:
        return self.root / app_id

    def path(self, app_id: str, version: int) -> Path:
        return self._dir(app_id) / f"v{version}.log"

    def _done(self, app_id: str, version: int) -> Path:
        return self._dir(app_id) / f"v{version}.done"

    def token(self, release_id: str) -> str:
        return hmac.new(
            self.secret, f"release-output:{release_id}".encode(), hashlib.sha256
        ).hexdigest()

    def url(self, release_id: str) -> str:
        return f"{self.public_api_url}/release-output/{release_id}?token={self.token(release_id)}"

    def check_token(self, release_id: str, token: str) -> bool:
        return same_token(self.token(release_id), token)

    def started(self, app_id: str, version: int) -> bool:
        return self.path(app_id, version).exists()

    def ended(self, app_id: str, version: int) -> bool:
        return self._done(app_id, version).exists()

    # -- written as the phase runs (from the dyno manager's thread)

    def phase_started(self, app_id: str, version: int) -> None:
        """A (re)run of the phase: its output starts afresh."""
        with self._lock:
            self._dir(app_id).mkdir(parents=True, exist_ok=True)
            self._done(app_id, version).unlink(missing_ok=True)
            write_private(self.path(app_id, version), "")

    def phase_line(self, app_id: str, version: int, line: str) -> None:
        with self._lock, self.path(app_id, version).open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    def phase_ended(self, app_id: str, version: int, status: int) -> None:
        with self._lock:
            write_private(self._done(app_id, version), f"{status}\n")

    def forget_app(self, app_id: str) -> None:
        shutil.rmtree(self._dir(app_id), ignore_errors=True)
