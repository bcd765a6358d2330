"""What the Ruby buildpack reads (config vars) and leaves behind (.profile.d, export, .bundle)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ..common.files import config_var_files, write_export

BUILDPACK_DIR = Path(__file__).absolute().parent
EXCLUDED_CONFIG_VARS = frozenset({"PATH", "LD_PRELOAD", "LD_LIBRARY_PATH", "GEM_HOME", "GEM_PATH"})


def read_config(env_dir: Path | None) -> dict[str, str]:
    config: dict[str, str] = {}
    for path in config_var_files(env_dir, EXCLUDED_CONFIG_VARS):
        try:
            config[path.name] = path.read_text(encoding="utf-8", errors="replace").rstrip("\n")
        except OSError:
            continue
    return config


def build_env(
    build_dir: Path, cache_dir: Path, config: Mapping[str, str], defaults: Mapping[str, str]
) -> dict[str, str]:
    """The machine's environment, the framework's defaults, then the app's config vars."""
    env = dict(os.environ)
    env.update(defaults)
    env.update(config)
    env["BUNDLE_USER_HOME"] = str(cache_dir / "ruby" / "bundler-home")
    env["BUNDLE_SILENCE_ROOT_WARNING"] = "1"
    env["BUNDLE_APP_CONFIG"] = str(build_dir / ".bundle")
    env["BUNDLE_GEMFILE"] = str(build_dir / "Gemfile")
    env["LANG"] = env.get("LANG") or "C.UTF-8"
    env["PATH"] = os.pathsep.join(
        [str(build_dir / "bin"), str(build_dir / "vendor" / "bundle" / "bin"), os.environ["PATH"]]
    )
    return env


def write_bundle_config(build_dir: Path, settings: Mapping[str, str]) -> None:
    """.bundle/config: how `bundle exec` finds the gems in the dyno as in the build."""
    lines = ["---", *(f'{key}: "{value}"' for key, value in settings.items())]
    path = build_dir / ".bundle" / "config"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_runtime_files(build_dir: Path, env_defaults: Mapping[str, str]) -> None:
    profile_d = build_dir / ".profile.d"
    profile_d.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Added by the heroku/ruby buildpack; sourced at dyno start with HOME=/app.",
        'export PATH="$HOME/bin:$HOME/vendor/bundle/bin:$PATH"',
        "export LANG=${LANG:-C.UTF-8}",
        'export BUNDLE_APP_CONFIG="$HOME/.bundle"',
        *(f'export {k}="${{{k}:-{v}}}"' for k, v in env_defaults.items()),
    ]
    (profile_d / "ruby.sh").write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_export(BUILDPACK_DIR, build_dir / "bin", build_dir / "vendor" / "bundle" / "bin")
