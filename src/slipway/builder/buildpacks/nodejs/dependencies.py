"""node_modules: installed with the app's package manager (or restored from the cache), then
pruned of devDependencies once the build has run."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..common.files import remove
from ..common.output import BuildError, detail, header
from ..common.process import stream
from .cache import cache_key, restore_cache, save_cache
from .package_json import scripts_of
from .package_managers import PackageManager
from .scripts import ROOT_INSTALL_SCRIPTS, rerun_install_scripts


def install_dependencies(
    pm: PackageManager,
    package: Mapping[str, Any],
    build_dir: Path,
    cache_dir: Path,
    env: Mapping[str, str],
    node_version: str,
) -> None:
    scripts = scripts_of(package)
    node_modules = build_dir / "node_modules"
    if node_modules.exists() or node_modules.is_symlink():
        detail("Warning: node_modules is checked in; ignoring it and installing afresh.")
        remove(node_modules)

    use_cache = env.get("NODE_MODULES_CACHE", "true").lower() != "false"
    cache = cache_dir / "nodejs"
    key = cache_key(build_dir, package, node_version, pm, env)
    install_scripts = [s for s in ROOT_INSTALL_SCRIPTS if s in scripts]
    if use_cache and pm.name != "npm" and install_scripts:
        # Only npm can rerun the app's own install scripts exactly; reinstall instead.
        use_cache = False
    if use_cache and restore_cache(cache, key, build_dir):
        header("Dependencies unchanged; reusing cached node_modules")
        rerun_install_scripts(pm, install_scripts, build_dir, env)
        return

    header("Installing dependencies")
    command = pm.install_command(cache_dir)
    source = f" ({pm.lock_file})" if pm.lock_file else ""
    detail(f"Using {pm.name} {pm.version}{source}: {' '.join(command[:2])}")
    detail(f"NODE_ENV={env['NODE_ENV']}")
    if not use_cache:
        detail("Not using the node_modules cache")
    if stream(command, cwd=build_dir, env=env) != 0:
        files = "package.json" + (f" and {pm.lock_file}" if pm.lock_file else "")
        raise BuildError(
            f"`{' '.join(command[:2])}` failed; check the dependencies in {files} "
            "(see the lines above) and push again."
        )
    if use_cache:
        save_cache(cache, key, build_dir)


def prune(pm: PackageManager, build_dir: Path, env: Mapping[str, str]) -> None:
    header("Pruning devDependencies")
    skip = env.get("NPM_CONFIG_PRODUCTION", env.get("YARN_PRODUCTION", "")).lower() == "false"
    if skip:
        detail("Skipping pruning: NPM_CONFIG_PRODUCTION/YARN_PRODUCTION is false")
        return
    if pm.name != "npm":
        detail(f"Skipping pruning for {pm.name}; devDependencies stay in the slug")
        return
    if not (build_dir / "node_modules").is_dir():
        detail("No node_modules; nothing to prune")
        return
    if stream(["npm", "prune", "--omit=dev"], cwd=build_dir, env=env) != 0:
        raise BuildError("Pruning devDependencies failed; see the lines above.")
