"""The `slipway` git remote of the current repository."""

from __future__ import annotations

import subprocess

from slipway.cli.context import GIT_REMOTE


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=False, timeout=30)


def in_repository() -> bool:
    try:
        return _git("rev-parse", "--is-inside-work-tree").stdout.strip() == "true"
    except OSError:
        return False


def remote_url(remote: str = GIT_REMOTE) -> str | None:
    result = _git("remote", "get-url", remote)
    return result.stdout.strip() if result.returncode == 0 else None


def set_remote(url: str, remote: str = GIT_REMOTE) -> None:
    if remote_url(remote) is None:
        _git("remote", "add", remote, url)
    else:
        _git("remote", "set-url", remote, url)


def remove_remote(remote: str = GIT_REMOTE) -> None:
    _git("remote", "remove", remote)
