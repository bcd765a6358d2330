"""Which Node.js runs the app: engines.node resolved, the release put into the slug.

    BUILD_DIR/.heroku/node/bin/node, bin/npm, lib/node_modules/npm

The platform resolves and fetches it outside the sandbox and names the directory in
SLIPWAY_NODE_HOME (read-only); a build without that does it itself, caching each
version in CACHE_DIR/node-runtimes. Without engines.node the app gets the newest
release of the build machine's own Node.js major.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..common.files import remove
from ..common.output import BuildError, detail, header
from ..common.process import stream
from ..common.runtimes import record
from .environment import tool_output
from .runtime import NodeRuntime, Registry, fetch, installed, package_name, resolve

NODE_REL = Path(".heroku") / "node"
RUNTIME_NAME = "Node.js"
SUPPLIED_ENV = "SLIPWAY_NODE_HOME"


def wanted_range(package: Mapping[str, Any], host_env: Mapping[str, str], cwd: Path) -> str:
    """engines.node, or the machine's own Node.js major when it says nothing usable."""
    engines = package.get("engines")
    wanted = engines.get("node") if isinstance(engines, dict) else None
    if isinstance(wanted, str) and wanted.strip():
        return wanted.strip()
    if wanted is not None:
        detail(f"Warning: engines.node must be a string, not {json.dumps(wanted)}; ignoring it.")
    host = tool_output(["node", "--version"], cwd, host_env)
    match = re.match(r"v?(\d+)\.", host)
    if match is None:
        raise BuildError(f"`node --version` printed {host!r}; reinstall Node.js.")
    return f"{match.group(1)}.x"


def supplied_runtime(env: Mapping[str, str]) -> NodeRuntime | None:
    home = env.get(SUPPLIED_ENV)
    if not home:
        return None
    node = Path(home) / "bin" / "node"
    if not node.is_file():
        raise BuildError(f"{SUPPLIED_ENV} names {home}, which holds no bin/node; a platform bug.")
    version = Path(home).name.split("-linux-")[0]
    return NodeRuntime(version, Path(home))


def install_node(
    package: Mapping[str, Any], build_dir: Path, cache_dir: Path, host_env: Mapping[str, str]
) -> str:
    """Put the Node.js the app asks for into the slug; its version."""
    runtime = supplied_runtime(host_env)
    wanted = None
    if runtime is None:
        wanted = wanted_range(package, host_env, build_dir)
        registry = Registry(host_env, build_dir)
        arch = package_name()
        root = cache_dir / "node-runtimes"
        version = resolve(registry, arch, wanted, installed(root, arch))
        runtime = fetch(registry, arch, version, root)
    dest = build_dir / NODE_REL
    remove(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(runtime.home, dest, symlinks=True)
    if wanted is not None:
        detail(f"Resolved engines.node {wanted!r} to {runtime.version}")
    record(build_dir, RUNTIME_NAME, runtime.version)
    return runtime.version


def install_npm(package: Mapping[str, Any], build_dir: Path, env: Mapping[str, str]) -> None:
    """The npm engines.npm asks for, into the slug's Node.js, when the one there does not
    satisfy it (Heroku's buildpack does the same; without engines.npm the npm that came with
    the slug's Node.js stays)."""
    engines = package.get("engines")
    wanted = engines.get("npm") if isinstance(engines, dict) else None
    if not isinstance(wanted, str) or not wanted.strip():
        return
    current = tool_output(["npm", "--version"], build_dir, env).strip()
    try:
        satisfied = Registry(env, build_dir).max_satisfying([current], wanted) is not None
    except ValueError:
        raise BuildError(
            f"engines.npm in package.json is {wanted!r}, which is not a version range; "
            "use one such as 10.x."
        ) from None
    if satisfied:
        detail(f"npm {current} satisfies engines.npm {wanted!r}")
        return
    header(f"Installing npm {wanted} (engines.npm)")
    if not install_into_slug(f"npm@{wanted}", build_dir, env):
        raise BuildError(
            f"Could not install npm {wanted!r} (engines.npm; see the lines above); check the "
            "range in package.json."
        )
    detail(f"Using npm {tool_output(['npm', '--version'], build_dir, env).strip()}")


def install_into_slug(spec: str, build_dir: Path, env: Mapping[str, str]) -> bool:
    """`npm install --global SPEC` into the slug's Node.js, whose bin is on PATH in the
    build and in the dyno (npm itself, yarn, pnpm); whether it worked."""
    command = ["npm", "install", "--global", "--prefix", str(build_dir / NODE_REL)]
    return stream([*command, "--no-audit", spec], cwd=build_dir, env=env) == 0
