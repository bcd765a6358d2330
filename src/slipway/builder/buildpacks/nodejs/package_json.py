"""What the app's package.json says: its scripts, and which of them builds it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..common.output import BuildError


def read_package_json(build_dir: Path) -> dict[str, Any]:
    path = build_dir / "package.json"
    if not path.is_file():
        raise BuildError("No package.json in the app; add one at the top level and push again.")
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BuildError(f"package.json is not valid JSON: {exc}; fix it and push again.") from exc
    if not isinstance(data, dict):
        raise BuildError(
            "package.json is not valid JSON: the top level must be an object; "
            "fix it and push again."
        )
    return data


def scripts_of(package: Mapping[str, Any]) -> dict[str, str]:
    scripts = package.get("scripts")
    if not isinstance(scripts, dict):
        return {}
    return {k: v for k, v in scripts.items() if isinstance(v, str) and v.strip()}


def build_script_name(scripts: Mapping[str, str]) -> str | None:
    """`heroku-postbuild` runs instead of `build`; None when there is neither."""
    for name in ("heroku-postbuild", "build"):
        if name in scripts:
            return name
    return None
