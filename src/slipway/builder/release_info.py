"""What a buildpack's bin/release says about the slug (pure).

Heroku's buildpack API v2 defines `default_process_types` and `config_vars`
(defaults the app gets on its deploy unless it already has them, as Heroku's
Ruby buildpack gives a Rails app `RAILS_ENV` and a `SECRET_KEY_BASE`). Slipway
adds `runtimes`: the language runtimes the buildpack put into the slug and their
versions (`{"Node.js": "18.20.8"}`), which the slug records. Anything else is
ignored, as Heroku ignores it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml

from slipway.builder.procfile import PROCESS_TYPE_RE

# A config var a buildpack may default: a shell variable name.
CONFIG_VAR_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


@dataclass(frozen=True)
class ReleaseInfo:
    default_process_types: dict[str, str] = field(default_factory=dict)
    config_vars: dict[str, str] = field(default_factory=dict)
    runtimes: dict[str, str] = field(default_factory=dict)

    def merged(self, later: ReleaseInfo) -> ReleaseInfo:
        """A later buildpack's answer over an earlier one's, as Heroku merges them."""
        return ReleaseInfo(
            self.default_process_types | later.default_process_types,
            self.config_vars | later.config_vars,
            self.runtimes | later.runtimes,
        )


def _strings(value: object, key_ok: object) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    result: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not callable(key_ok) or not key_ok(key):
            continue
        if isinstance(item, str | int | float) and not isinstance(item, bool):
            result[key] = str(item)
    return result


def parse_release(text: str) -> ReleaseInfo | None:
    """bin/release's YAML -> ReleaseInfo; None when it is not YAML at all."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        return None
    if not isinstance(data, dict):
        return ReleaseInfo()
    types = {
        k: v
        for k, v in _strings(data.get("default_process_types"), PROCESS_TYPE_RE.match).items()
        if v.strip()
    }
    config = _strings(data.get("config_vars"), CONFIG_VAR_NAME_RE.fullmatch)
    runtimes = _strings(data.get("runtimes"), lambda k: 0 < len(k) <= 40)
    return ReleaseInfo(types, config, {k: v[:80] for k, v in runtimes.items()})
