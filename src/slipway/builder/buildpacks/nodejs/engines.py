"""The installed Node.js, checked against what package.json asks for in engines.node.

Slipway builds with the machine's node; it does not download one. A range it cannot parse
is reported and ignored, as is a non-string; a range the installed version is outside of
fails the build.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..common.output import BuildError, detail
from .environment import tool_output
from .semver import parse_version, satisfies


def node_version(build_dir: Path, env: Mapping[str, str]) -> str:
    raw_version = tool_output(["node", "--version"], build_dir, env)
    try:
        return str(parse_version(raw_version))
    except ValueError as exc:
        raise BuildError(f"`node --version` printed {raw_version!r}; reinstall Node.js.") from exc


def check_engines(package: Mapping[str, Any], node_version: str) -> None:
    engines = package.get("engines")
    wanted = engines.get("node") if isinstance(engines, dict) else None
    if wanted is None:
        detail("engines.node is not set in package.json; using the installed Node.js")
        return
    if not isinstance(wanted, str):
        detail(f"Warning: engines.node must be a string, not {json.dumps(wanted)}; ignoring it.")
        return
    detail(f"engines.node (package.json): {wanted}")
    try:
        ok = satisfies(node_version, wanted)
    except ValueError:
        detail(f'Warning: cannot understand engines.node "{wanted}"; ignoring it.')
        return
    if not ok:
        raise BuildError(
            f'package.json asks for Node.js "{wanted}" (engines.node) but this machine has '
            f"{node_version}; change engines.node or install that Node.js version."
        )
