"""Running the providers' servers and tools: finding the programs, their environment, and
another OS user to run them as (Slipway as root: postgres refuses to run as root).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from slipway.addons.errors import ProviderUnavailable


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
