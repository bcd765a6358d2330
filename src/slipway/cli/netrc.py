"""~/.netrc: where Heroku's CLI keeps its API key, keyed by the API's host:port.

Slipway writes the same entry (`machine 127.0.0.1:5000 login EMAIL password KEY`),
so the official heroku CLI pointed at the same API finds the key too.
"""

from __future__ import annotations

import netrc as stdlib_netrc
import os
import shlex
from pathlib import Path


def netrc_path() -> Path:
    return Path(os.environ.get("NETRC") or Path.home() / ".netrc")


def read_password(machine: str, path: Path | None = None) -> str | None:
    path = path or netrc_path()
    if not path.exists():
        return None
    try:
        entry = stdlib_netrc.netrc(str(path)).authenticators(machine)
    except (stdlib_netrc.NetrcParseError, OSError):
        return None
    return entry[2] if entry else None


def _entries_without(text: str, machine: str) -> str:
    """Drop the `machine <machine>` entry (up to the next machine/default) from netrc text."""
    tokens = shlex.split(text, comments=True, posix=True)
    kept: list[str] = []
    skipping = False
    for i, token in enumerate(tokens):
        is_start = token in ("machine", "default") and (i == 0 or tokens[i - 1] != "password")
        if is_start:
            skipping = token == "machine" and i + 1 < len(tokens) and tokens[i + 1] == machine
        if not skipping:
            kept.append(token)
    lines: list[str] = []
    for token in kept:
        if token in ("machine", "default"):
            lines.append(token)
        elif lines:
            lines[-1] += " " + shlex.quote(token)
    return "\n".join(lines) + ("\n" if lines else "")


def write_entry(machine: str, login: str, password: str, path: Path | None = None) -> Path:
    path = path or netrc_path()
    existing = path.read_text() if path.exists() else ""
    content = _entries_without(existing, machine)
    content += f"machine {machine}\n  login {login}\n  password {password}\n"
    fd = os.open(path.with_suffix(".slipway-tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(content)
    path.with_suffix(".slipway-tmp").replace(path)
    path.chmod(0o600)
    return path


def remove_entry(machine: str, path: Path | None = None) -> bool:
    path = path or netrc_path()
    if not path.exists():
        return False
    existing = path.read_text()
    content = _entries_without(existing, machine)
    if content == existing:
        return False
    path.write_text(content)
    return True
