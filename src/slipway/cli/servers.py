"""The servers a person has logged in to, and the default one, in ~/.config/slipway/servers.json.

`slipway login --api-url URL` remembers URL (and makes it the default unless told
not to); later commands use `--api-url` / `$SLIPWAY_API_URL` when given, else that
default, else the local server. The file holds no secret: tokens stay in ~/.netrc.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from slipway.privatefile import write_private


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "slipway" / "servers.json"


def _load() -> dict[str, object]:
    try:
        data = json.loads(config_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def default_server() -> str | None:
    value = _load().get("default")
    return value if isinstance(value, str) and value else None


def known_servers() -> list[str]:
    servers = _load().get("servers")
    return [s for s in servers if isinstance(s, str)] if isinstance(servers, list) else []


def remember(url: str, *, make_default: bool) -> Path:
    url = url.rstrip("/")
    data = _load()
    servers = [s for s in known_servers() if s != url] + [url]
    data["servers"] = servers
    if make_default or not default_server():
        data["default"] = url
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private(path, json.dumps(data, indent=2) + "\n")
    return path


def forget(url: str) -> None:
    url = url.rstrip("/")
    data = _load()
    if url not in known_servers():
        return
    data["servers"] = [s for s in known_servers() if s != url]
    if data.get("default") == url:
        rest = data["servers"]
        data["default"] = rest[-1] if isinstance(rest, list) and rest else None
    write_private(config_path(), json.dumps(data, indent=2) + "\n")
