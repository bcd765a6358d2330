"""Which package manager installs the app: the lock file decides (pnpm, yarn, else npm).

A yarn or pnpm the machine lacks is installed into the slug's Node.js from the npm
registry, in the version package.json asks for (as Heroku's buildpack does)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..common.output import BuildError, detail, header
from .engines import install_into_slug
from .environment import tool_output

LOCK_OF = {"yarn": "yarn.lock", "pnpm": "pnpm-lock.yaml"}


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


def choose_package_manager(
    build_dir: Path, env: Mapping[str, str], package: Mapping[str, object] | None = None
) -> PackageManager:
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
        install_tool(name, wanted_version(name, package or {}, build_dir), build_dir, env)
    return PackageManager(name, tool_output([name, "--version"], build_dir, env), lock)


def wanted_version(name: str, package: Mapping[str, object], build_dir: Path) -> str:
    """The yarn or pnpm an app asks for, as Heroku reads it: package.json's packageManager
    ("yarn@4.1.0+sha512..."), then engines, then what its lock file implies. Pure."""
    field = package.get("packageManager")
    if isinstance(field, str) and field.startswith(f"{name}@"):
        return field.split("@", 1)[1].split("+", 1)[0]
    engines = package.get("engines")
    if isinstance(engines, dict) and isinstance(engines.get(name), str):
        return str(engines[name])
    if name == "pnpm":
        try:
            lock = (build_dir / "pnpm-lock.yaml").read_text(encoding="utf-8", errors="replace")
        except OSError:
            lock = ""
        found = re.search(r"^lockfileVersion:\s*'?(\d+)", lock, re.M)
        major = int(found[1]) if found else 0
        # lockfileVersion 9 is pnpm 9 and 10; 6 is pnpm 8; 5.4 is pnpm 7.
        return {9: "9", 6: "8", 5: "7"}.get(major, "latest")
    return "1"  # yarn classic, Heroku's default for a yarn.lock


def npm_package(name: str, version: str) -> str:
    """What npm installs for it: Yarn 2 and later are published as @yarnpkg/cli-dist."""
    first = re.search(r"\d+", version)
    if name == "yarn" and first is not None and int(first[0]) >= 2:
        return f"@yarnpkg/cli-dist@{version}"
    return f"{name}@{version}"


def install_tool(name: str, version: str, build_dir: Path, env: Mapping[str, str]) -> None:
    """yarn or pnpm into the slug's Node.js (its bin is on PATH in the build and the dyno),
    from the npm registry, as Heroku's buildpack installs them."""
    spec = npm_package(name, version)
    header(f"Installing {name} {version}")
    if not install_into_slug(spec, build_dir, env):
        raise BuildError(
            f"Could not install {spec} for the app's {LOCK_OF[name]} (see the lines above); "
            f"check packageManager or engines.{name} in package.json, or delete {LOCK_OF[name]} "
            "to use npm."
        )
