"""The providers' own files: private directories, 0600 files written atomically, JSON state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slipway import privatefile

if TYPE_CHECKING:
    from slipway.addons._programs import OsUser


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
