"""app.json, Heroku's app manifest (pure): parsed and checked into a `Manifest`.

The fields app setups use: `env` (a value, or `{"value", "description", "required",
"generator": "secret"}`), `formation` (`{"web": {"quantity": 1, "size": "basic"}}`),
`addons` (`"heroku-postgresql"` or `{"plan", "as", "options"}`), `buildpacks`
(`[{"url": ...}]`), `scripts.postdeploy` (a command, or `{"command", "size"}`) and `stack`.
Anything else (name, description, logo, environments ...) is accepted and ignored, as
Heroku ignores what a setup does not use. Every problem is one sentence saying what to change.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from slipway.platform.errors import InvalidParams

ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PROCESS_TYPE_RE = re.compile(r"^[-\w]{1,128}$", re.ASCII)
MAX_MANIFEST_BYTES = 512 * 1024


@dataclass(frozen=True)
class EnvVar:
    name: str
    value: str | None = None
    description: str = ""
    required: bool = True
    generator: str | None = None  # "secret"


@dataclass(frozen=True)
class AddonSpec:
    plan: str
    attachment: str | None = None  # "as"
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FormationSpec:
    type: str
    quantity: int | None = None
    size: str | None = None


@dataclass(frozen=True)
class Postdeploy:
    command: str
    size: str | None = None


@dataclass(frozen=True)
class Manifest:
    env: tuple[EnvVar, ...] = ()
    formation: tuple[FormationSpec, ...] = ()
    addons: tuple[AddonSpec, ...] = ()
    buildpacks: tuple[str, ...] = ()
    postdeploy: Postdeploy | None = None
    stack: str | None = None

    def missing(self, overrides: Mapping[str, str]) -> list[EnvVar]:
        """Required config vars with no value: neither in app.json, generated, nor given."""
        return [
            v
            for v in self.env
            if v.required and v.value is None and v.generator is None and v.name not in overrides
        ]

    def config(self, overrides: Mapping[str, str]) -> dict[str, str]:
        """The config vars the app starts with: values, generated secrets, then overrides."""
        config: dict[str, str] = {}
        for var in self.env:
            if var.generator == "secret":
                config[var.name] = secrets.token_hex(32)
            elif var.value is not None:
                config[var.name] = var.value
        config.update(overrides)
        return config


def _fail(message: str) -> InvalidParams:
    return InvalidParams(message)


def _env(raw: object) -> tuple[EnvVar, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise _fail('app.json "env" must be an object of config var names; fix app.json.')
    found = []
    for name, spec in raw.items():
        if not ENV_NAME_RE.match(name):
            raise _fail(f'app.json "env" names {name!r}, which is not a config var name.')
        if isinstance(spec, str | int | float) and not isinstance(spec, bool):
            found.append(EnvVar(name, str(spec)))
            continue
        if not isinstance(spec, dict):
            raise _fail(f'app.json "env.{name}" must be a string or an object; fix app.json.')
        value = spec.get("value")
        generator = spec.get("generator")
        if generator is not None and generator != "secret":
            raise _fail(
                f'app.json "env.{name}.generator" is {generator!r}; the only generator is "secret".'
            )
        if value is not None and not isinstance(value, str | int | float):
            raise _fail(f'app.json "env.{name}.value" must be a string; fix app.json.')
        required = spec.get("required", True)
        if not isinstance(required, bool):
            raise _fail(f'app.json "env.{name}.required" must be true or false.')
        description = spec.get("description") or ""
        found.append(
            EnvVar(
                name,
                None if value is None else str(value),
                str(description),
                required,
                generator,
            )
        )
    return tuple(found)


def _formation(raw: object) -> tuple[FormationSpec, ...]:
    if raw is None:
        return ()
    if isinstance(raw, list):  # the older form: [{"process": "web", "quantity": 1}]
        raw = {str(e.get("process") or e.get("type")): e for e in raw if isinstance(e, dict)}
    if not isinstance(raw, dict):
        raise _fail('app.json "formation" must map process types to quantity and size.')
    found = []
    for ptype, spec in raw.items():
        if not PROCESS_TYPE_RE.match(ptype) or not isinstance(spec, dict):
            raise _fail(f'app.json "formation.{ptype}" must be an object with quantity/size.')
        quantity = spec.get("quantity")
        if quantity is not None and (not isinstance(quantity, int) or quantity < 0):
            raise _fail(f'app.json "formation.{ptype}.quantity" must be a whole number.')
        size = spec.get("size")
        if size is not None and not isinstance(size, str):
            raise _fail(f'app.json "formation.{ptype}.size" must be a dyno size such as basic.')
        found.append(FormationSpec(ptype, quantity, size))
    return tuple(found)


def _addons(raw: object) -> tuple[AddonSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _fail('app.json "addons" must be a list of plans; fix app.json.')
    found = []
    for item in raw:
        if isinstance(item, str) and item.strip():
            found.append(AddonSpec(item.strip()))
            continue
        if not isinstance(item, dict) or not isinstance(item.get("plan"), str):
            raise _fail('Each of app.json\'s "addons" must be a plan or {"plan": ...}.')
        attachment = item.get("as")
        options = item.get("options") or {}
        if attachment is not None and not isinstance(attachment, str):
            raise _fail(f'app.json gives the add-on {item["plan"]} an "as" that is no name.')
        if not isinstance(options, dict):
            raise _fail(f'app.json "options" of the add-on {item["plan"]} must be an object.')
        found.append(
            AddonSpec(
                item["plan"].strip(), attachment, {str(k): str(v) for k, v in options.items()}
            )
        )
    return tuple(found)


def _buildpacks(raw: object) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _fail('app.json "buildpacks" must be a list of {"url": ...}; fix app.json.')
    urls = []
    for item in raw:
        url = item.get("url") if isinstance(item, dict) else item
        if not isinstance(url, str) or not url.strip():
            raise _fail('Each of app.json\'s "buildpacks" needs a "url"; fix app.json.')
        urls.append(url.strip())
    return tuple(urls)


def _postdeploy(raw: object) -> Postdeploy | None:
    scripts = raw if isinstance(raw, dict) else {}
    if raw is not None and not isinstance(raw, dict):
        raise _fail('app.json "scripts" must be an object; fix app.json.')
    script = scripts.get("postdeploy")
    if script is None:
        return None
    if isinstance(script, str) and script.strip():
        return Postdeploy(script.strip())
    if isinstance(script, dict) and isinstance(script.get("command"), str):
        size = script.get("size")
        return Postdeploy(script["command"].strip(), size if isinstance(size, str) else None)
    raise _fail('app.json "scripts.postdeploy" must be a command; fix app.json.')


def parse_manifest(text: str | bytes) -> Manifest:
    """app.json's text -> Manifest; InvalidParams with one sentence for what is wrong."""
    if len(text) > MAX_MANIFEST_BYTES:
        raise _fail("app.json is over 512 KB; make it smaller.")
    try:
        data: Any = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _fail(f"app.json is not valid JSON ({exc}); fix it and try again.") from exc
    if not isinstance(data, dict):
        raise _fail("app.json must hold a JSON object; fix it and try again.")
    stack = data.get("stack")
    if stack is not None and not isinstance(stack, str):
        raise _fail('app.json "stack" must be a stack name such as heroku-24.')
    return Manifest(
        env=_env(data.get("env")),
        formation=_formation(data.get("formation")),
        addons=_addons(data.get("addons")),
        buildpacks=_buildpacks(data.get("buildpacks")),
        postdeploy=_postdeploy(data.get("scripts")),
        stack=stack,
    )
