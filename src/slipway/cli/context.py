"""Where the CLI finds the API, the key and the app."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass

import httpx

from slipway.cli import netrc, servers
from slipway.cli.client import ApiClient, api_machine
from slipway.cli.errors import CliError

DEFAULT_API_URL = "http://127.0.0.1:5000"
GIT_REMOTE = "slipway"
_REMOTE_APP_RE = re.compile(r"/([a-z][a-z0-9-]{1,28}[a-z0-9])\.git/?$")


def app_from_git_remote(remote: str = GIT_REMOTE) -> str | None:
    """The app behind the `slipway` git remote of the current repository, if any."""
    try:
        result = subprocess.run(
            ["git", "remote", "get-url", remote],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    match = _REMOTE_APP_RE.search(result.stdout.strip())
    return match[1] if match else None


@dataclass
class CliContext:
    api_url: str
    # None: a real connection. Tests hand in the API application behind a transport.
    transport: httpx.BaseTransport | None = None

    @classmethod
    def from_env(cls, api_url: str | None) -> CliContext:
        """--api-url, else $SLIPWAY_API_URL, else the default chosen at login, else the
        local server."""
        chosen = api_url or os.environ.get("SLIPWAY_API_URL") or servers.default_server()
        return cls(api_url=(chosen or DEFAULT_API_URL).rstrip("/"))

    @property
    def machine(self) -> str:
        return api_machine(self.api_url)

    def token(self) -> str | None:
        return os.environ.get("SLIPWAY_API_KEY") or netrc.read_password(self.machine)

    def client(self) -> ApiClient:
        return ApiClient(self.api_url, self.token(), transport=self.transport)

    def resolve_app(self, app: str | None) -> str:
        name = app or os.environ.get("SLIPWAY_APP") or app_from_git_remote()
        if not name:
            raise CliError(
                "No app specified; pass --app APP (-a APP) or run this inside a git repository "
                f"with a `{GIT_REMOTE}` remote."
            )
        return name
