"""The node_modules cache: the last build's node_modules, reused when its inputs are unchanged.

    CACHE_DIR/nodejs/node_modules   a copy of node_modules
    CACHE_DIR/nodejs/key            the hash of what it was installed from

The key covers Node.js and the package manager's versions, the stack, package.json's
dependency fields, the lock file, the install settings files and config vars.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..common.files import remove
from ..common.output import detail
from .package_managers import PackageManager

# package.json fields that decide what ends up in node_modules (part of the cache key).
DEPENDENCY_FIELDS = (
    "dependencies",
    "devDependencies",
    "optionalDependencies",
    "peerDependencies",
    "bundleDependencies",
    "bundledDependencies",
    "overrides",
    "resolutions",
    "workspaces",
    "pnpm",
    "packageManager",
)

# Files next to package.json that change how the package manager installs.
INSTALL_CONFIG_FILES = (
    ".npmrc",
    ".yarnrc",
    ".yarnrc.yml",
    "pnpm-workspace.yaml",
    ".pnpmfile.cjs",
)


CACHE_FORMAT = "slipway-nodejs-cache-v1"


def cache_key(
    build_dir: Path,
    package: Mapping[str, Any],
    node_version: str,
    pm: PackageManager,
    env: Mapping[str, str],
) -> str:
    digest = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    add("format", CACHE_FORMAT.encode())
    add("node", node_version.encode())
    add("package-manager", f"{pm.name} {pm.version}".encode())
    add("stack", env.get("STACK", "").encode())
    fields = {k: package[k] for k in DEPENDENCY_FIELDS if k in package}
    add("package.json", json.dumps(fields, sort_keys=True).encode())
    for name in (pm.lock_file, *INSTALL_CONFIG_FILES):
        if name is not None and (build_dir / name).is_file():
            add(name, (build_dir / name).read_bytes())
    # Install settings given as config vars (npm_config_*, YARN_*, PNPM_*).
    for name in sorted(env):
        if (
            name.lower().startswith(("npm_config_", "yarn_", "pnpm_"))
            and name != "npm_config_cache"
        ):
            add(f"env:{name}", env[name].encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def restore_cache(cache: Path, key: str, build_dir: Path) -> bool:
    """Copy cached node_modules into the app when the key matches; False when it does not."""
    key_file, cached = cache / "key", cache / "node_modules"
    try:
        if not (key_file.is_file() and cached.is_dir()):
            return False
        if key_file.read_text(encoding="utf-8").strip() != key:
            return False
        shutil.copytree(cached, build_dir / "node_modules", symlinks=True)
    except OSError as exc:
        detail(f"Warning: could not reuse cached node_modules ({exc}); installing instead.")
        remove(build_dir / "node_modules")
        return False
    return True


def save_cache(cache: Path, key: str, build_dir: Path) -> None:
    """Replace the cache with a copy of node_modules; the key is written last."""
    source = build_dir / "node_modules"
    key_file, cached, staging = cache / "key", cache / "node_modules", cache / "node_modules.new"
    try:
        cache.mkdir(parents=True, exist_ok=True)
        remove(key_file)
        remove(staging)
        if not source.is_dir():
            remove(cached)
            return
        detail("Caching node_modules for the next build")
        shutil.copytree(source, staging, symlinks=True)
        remove(cached)
        staging.rename(cached)
        key_file.write_text(key + "\n", encoding="utf-8")
    except OSError as exc:
        detail(f"Warning: could not cache node_modules ({exc}); the next build installs again.")
