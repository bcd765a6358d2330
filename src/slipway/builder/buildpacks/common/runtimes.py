"""The runtimes a build put into the slug, recorded for bin/release to report.

    BUILD_DIR/.heroku/runtimes.json   {"Node.js": "18.20.8", "Python": "3.12.1"}

Each buildpack records its own in compile and reports them in bin/release's `runtimes`
(a Slipway addition to the buildpack API's YAML), so the slug's metadata says what runs it.
"""

from __future__ import annotations

import json
from pathlib import Path

RECORD = Path(".heroku") / "runtimes.json"


def recorded(build_dir: Path) -> dict[str, str]:
    try:
        data = json.loads((build_dir / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def record(build_dir: Path, name: str, version: str) -> None:
    data = recorded(build_dir)
    data[name] = version
    path = build_dir / RECORD
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, sort_keys=True) + "\n", encoding="utf-8")


def release_yaml(
    build_dir: Path,
    names: tuple[str, ...],
    process_types: dict[str, str],
    config_vars: dict[str, str] | None = None,
) -> str:
    """bin/release's answer: default process types, default config vars, these runtimes."""
    lines = ["---"]
    if process_types:
        lines.append("default_process_types:")
        lines += [f"  {name}: {json.dumps(command)}" for name, command in process_types.items()]
    else:
        lines.append("default_process_types: {}")
    if config_vars:
        lines.append("config_vars:")
        lines += [f"  {name}: {json.dumps(value)}" for name, value in config_vars.items()]
    mine = {k: v for k, v in recorded(build_dir).items() if k in names}
    if mine:
        lines.append("runtimes:")
        lines += [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in mine.items()]
    return "\n".join(lines) + "\n"
