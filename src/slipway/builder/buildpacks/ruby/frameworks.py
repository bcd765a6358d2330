"""Rails and Rack: the environment they run in, assets, and the web process without a Procfile.

Rails (railties in Gemfile.lock): RAILS_ENV and RACK_ENV production, logs to stdout, static
files served by Rails, and a SECRET_KEY_BASE generated once per app (bin/release offers it as
a default config var; the platform sets it only when the app has none). Rack (config.ru):
RACK_ENV production.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path

from ..common.output import BuildError, header
from ..common.process import CannotRun, capture, stream
from .gemfile import Lock

RAILS_ENV = {
    "RAILS_ENV": "production",
    "RACK_ENV": "production",
    "RAILS_LOG_TO_STDOUT": "enabled",
    "RAILS_SERVE_STATIC_FILES": "enabled",
}
RACK_ENV = {"RACK_ENV": "production"}


def framework(lock: Lock, build_dir: Path) -> str | None:
    if lock.has("railties"):
        return "rails"
    if (build_dir / "config.ru").is_file():
        return "rack"
    return None


def env_defaults(kind: str | None) -> dict[str, str]:
    return dict(RAILS_ENV if kind == "rails" else RACK_ENV if kind == "rack" else {})


def config_var_defaults(kind: str | None) -> dict[str, str]:
    defaults = env_defaults(kind)
    if kind == "rails":
        defaults["SECRET_KEY_BASE"] = secrets.token_hex(64)
    return defaults


def default_web(kind: str | None, build_dir: Path) -> str | None:
    if kind == "rails":
        if (build_dir / "bin" / "rails").is_file():
            return "bin/rails server -p $PORT -e $RAILS_ENV"
        return "bundle exec rails server -p $PORT -e $RAILS_ENV"
    if kind == "rack":
        return "bundle exec rackup config.ru -p $PORT"
    return None


def precompile_assets(build_dir: Path, env: Mapping[str, str]) -> None:
    """`rake assets:precompile` when the app has that task (Sprockets, Propshaft ...)."""
    task_env = dict(env)
    # Precompiling needs a secret before the app has its own (the first deploy); never the
    # app's real one in the slug.
    task_env.setdefault("SECRET_KEY_BASE", secrets.token_hex(64))
    task_env["SECRET_KEY_BASE_DUMMY"] = "1"
    try:
        tasks = capture(["bundle", "exec", "rake", "-P"], cwd=build_dir, env=task_env, timeout=300)
    except CannotRun as exc:
        raise BuildError(f"Could not list the app's rake tasks: {exc}") from exc
    if tasks.returncode != 0 or "rake assets:precompile" not in tasks.stdout:
        return
    header("Precompiling assets")
    if stream(["bundle", "exec", "rake", "assets:precompile"], cwd=build_dir, env=task_env) != 0:
        raise BuildError(
            "rake assets:precompile failed (see the lines above); fix the assets and push again."
        )
