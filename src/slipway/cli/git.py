"""The `slipway` git remote of the current repository, and git's trust and credentials for it."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx

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


def ca_path(api_url: str) -> Path:
    machine = urlsplit(api_url).netloc.replace(":", "_")
    return Path.home() / ".config" / "slipway" / f"ca-{machine}.crt"


def fetch_ca(api_url: str) -> Path | None:
    """Save the platform's CA certificate locally; None when it serves a certificate of its own."""
    try:
        response = httpx.get(api_url.rstrip("/") + "/tls/ca.crt", timeout=10)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    path = ca_path(api_url)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(response.content)
    return path


def slipway_command() -> str:
    exe = Path(sys.argv[0]).resolve() if Path(sys.argv[0]).name == "slipway" else None
    if exe is None or not exe.exists():
        exe = Path(sys.executable).parent / "slipway"
    return str(exe)


def use_remote(git_url: str, api_url: str, remote: str = GIT_REMOTE) -> None:
    """Point `remote` at the app's git URL, trusting the platform for that URL."""
    set_remote(git_url, remote)
    configure_trust(git_url, api_url)


def configure_trust(git_url: str, api_url: str) -> None:
    """Make this repository trust the platform's CA and take the API key from slipway,
    for this one remote URL only."""
    parts = urlsplit(git_url)
    base = f"{parts.scheme}://{parts.netloc}/"
    ca = fetch_ca(api_url)
    if ca is not None:
        _git("config", f"http.{base}.sslCAInfo", str(ca))
        warning = cainfo_override(ca)
        if warning:
            print(warning, file=sys.stderr)
    helper = f"!{shlex.quote(slipway_command())} --api-url {shlex.quote(api_url)} git:credentials"
    _git("config", f"credential.{base.rstrip('/')}.helper", helper)


def cainfo_override(ca: Path, env: dict[str, str] | None = None) -> str | None:
    """One sentence when $GIT_SSL_CAINFO would make git ignore the remote's CA.

    git reads GIT_SSL_CAINFO after its config, so it overrides `http.<url>.sslCAInfo`:
    a push then fails with "server certificate verification failed" unless that file
    already holds the platform's CA."""
    environ = os.environ if env is None else env
    override = environ.get("GIT_SSL_CAINFO")
    if not override:
        return None
    try:
        held = Path(override).read_text()
    except OSError:
        held = ""
    if ca.read_text().strip() in held:
        return None
    return (
        f" !    GIT_SSL_CAINFO={override} overrides this remote's CA, so git will not trust "
        f"Slipway's certificate: run `unset GIT_SSL_CAINFO` (or `slipway trust`, then unset it)."
    )
