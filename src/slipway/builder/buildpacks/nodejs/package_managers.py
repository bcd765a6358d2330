"""Which package manager installs the app: the lock file decides (pnpm, yarn, else npm)."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..common.output import BuildError, detail
from .environment import tool_output


@dataclass(frozen=True)
class PackageManager:
    name: str  # npm, yarn or pnpm
    version: str
    lock_file: str | None  # the lock file that chose it (npm may have none)

    def run_script(self, script: str, *, alone: bool = False) -> list[str]:
        if self.name == "npm" and alone:
            # --ignore-scripts: only this script, without its pre/post companions.
            return ["npm", "run", "--ignore-scripts", script]
        return [self.name, "run", script]

    def install_command(self, cache_dir: Path) -> list[str]:
        if self.name == "pnpm":
            store = str(cache_dir / "pnpm-store")
            return ["pnpm", "install", "--frozen-lockfile", "--prod=false", "--store-dir", store]
        if self.name == "yarn":
            if self.version.startswith("1."):
                return ["yarn", "install", "--frozen-lockfile", "--production=false"]
            return ["yarn", "install", "--immutable"]
        if self.lock_file is not None:
            return ["npm", "ci", "--include=dev"]
        return ["npm", "install", "--include=dev"]


def choose_package_manager(build_dir: Path, env: Mapping[str, str]) -> PackageManager:
    locks = [
        name
        for name in ("pnpm-lock.yaml", "yarn.lock", "package-lock.json", "npm-shrinkwrap.json")
        if (build_dir / name).is_file()
    ]
    lock = locks[0] if locks else None
    name = {"pnpm-lock.yaml": "pnpm", "yarn.lock": "yarn"}.get(lock or "", "npm")
    if len(locks) > 1 and not set(locks) <= {"package-lock.json", "npm-shrinkwrap.json"}:
        detail(f"Warning: several lock files ({', '.join(locks)}); using {lock} and {name}.")
    if name != "npm" and shutil.which(name, path=env.get("PATH")) is None:
        raise BuildError(
            f"The app has {lock} but {name} is not installed on this machine; "
            f"install {name} or delete {lock} to use npm."
        )
    return PackageManager(name, tool_output([name, "--version"], build_dir, env), lock)
