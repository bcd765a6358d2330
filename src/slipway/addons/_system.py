"""Small shared helpers: private files, random names, free ports, running as another OS user."""

from __future__ import annotations

import json
import os
import pwd
import re
import secrets
import shutil
import socket
import string
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slipway import privatefile
from slipway.addons.errors import ProviderUnavailable, ResourceNotFound

_ALPHABET = string.ascii_lowercase + string.digits
_RESOURCE_ID = re.compile(r"^[a-z][a-z0-9-]{2,62}$")


def random_name(prefix: str, length: int = 12) -> str:
    """Heroku-style random identifier: `prefix` + lowercase letters and digits."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_password() -> str:
    """64 hex characters (256 bits): safe in URLs, config files and SQL literals."""
    return secrets.token_hex(32)


def check_resource_id(resource_id: str, service: str) -> str:
    """Refuse anything that could not be one of our ids (and so never reaches a path)."""
    if not _RESOURCE_ID.match(resource_id):
        raise ResourceNotFound(f"There is no {service} resource called {resource_id!r}.")
    return resource_id


def private_dir(path: Path, mode: int = 0o700) -> Path:
    """Create `path` (and missing parents) with `mode`; an existing directory keeps its mode."""
    if path.is_dir():
        return path
    if not path.parent.exists():
        private_dir(path.parent, mode)
    try:
        path.mkdir()
    except FileExistsError:
        return path
    path.chmod(mode)
    return path


def write_private(path: Path, text: str, owner: OsUser | None = None) -> None:
    """A 0600 file written atomically (see slipway.privatefile), owned by `owner` if given."""
    if owner is None:
        privatefile.write_private(path, text)
    else:
        privatefile.write_private(path, text, uid=owner.uid, gid=owner.gid)


def write_json(path: Path, data: dict[str, Any]) -> None:
    write_private(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path} does not hold a JSON object")
    return data


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on host:port now (SO_REUSEADDR, like the servers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def pick_port(ports: tuple[int, int], exclude: set[int], what: str) -> int:
    """The first port in the inclusive range that is free now and not in `exclude`."""
    low, high = ports
    for port in range(low, high + 1):
        if port not in exclude and port_is_free(port):
            return port
    raise ProviderUnavailable(
        f"No free port is left for {what} between {low} and {high}; "
        "free one or widen the range in the server settings."
    )


def which(name: str) -> str | None:
    if os.sep in name:
        return name if os.access(name, os.X_OK) else None
    return shutil.which(name)


@dataclass(frozen=True)
class OsUser:
    """Another OS user a server runs as (Slipway as root: postgres refuses to run as root)."""

    name: str
    uid: int
    gid: int
    home: str

    @staticmethod
    def lookup(name: str) -> OsUser | None:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            return None
        return OsUser(entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir)

    def argv(self) -> list[str]:
        """A prefix that runs a command as this user. setpriv execs (keeps the pid)."""
        setpriv = shutil.which("setpriv")
        if setpriv:
            return [setpriv, f"--reuid={self.uid}", f"--regid={self.gid}", "--init-groups", "--"]
        runuser = shutil.which("runuser")
        if runuser:
            return [runuser, "-u", self.name, "--"]
        raise ProviderUnavailable(
            f"Neither setpriv nor runuser is installed, so Slipway (running as root) cannot "
            f"run a server as {self.name}; install util-linux."
        )

    def chown(self, path: Path) -> None:
        os.chown(path, self.uid, self.gid)

    def can_reach(self, path: Path) -> bool:
        """Whether this user can search every directory down to `path` (and `path`)."""
        result = subprocess.run(
            [*self.argv(), "test", "-x", str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        return result.returncode == 0

    def env(self) -> dict[str, str]:
        return {"HOME": self.home, "USER": self.name, "LOGNAME": self.name}


def make_searchable(*paths: Path) -> None:
    """Let other users traverse (not list) these directories: 0700 -> 0711."""
    for path in paths:
        path.chmod(path.stat().st_mode | 0o011)


def blocking_ancestor(path: Path, user: OsUser) -> Path:
    """The highest directory on the way to `path` that `user` cannot search."""
    for ancestor in reversed(path.parents):
        if not user.can_reach(ancestor):
            return ancestor
    return path


def is_root() -> bool:
    return os.geteuid() == 0


def base_env() -> dict[str, str]:
    """The platform's environment without libpq/redis-cli variables that would override ours."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PG") and k not in ("REDISCLI_AUTH", "REDISCLI_CLUSTER_YES")
    }
