"""The app's gems: Bundler in deployment mode into vendor/bundle, cached per app between builds.

    BUILD_DIR/vendor/bundle          the installed gems (BUNDLE_PATH)
    BUILD_DIR/.bundle/config         the settings `bundle exec` reads in the dyno
    CACHE_DIR/ruby/bundle            vendor/bundle of the last build (for this Ruby)
    CACHE_DIR/ruby/ruby-version      the Ruby that cache was built with

When the gem sources cannot be reached, Bundler installs from the gems already on the build
machine (`bundle install --local`), frozen to Gemfile.lock, and the dyno finds them where
the machine keeps them (the stack's gems, like the stack's Ruby).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from pathlib import Path

from ..common.files import remove
from ..common.output import BuildError, detail, header
from ..common.process import stream
from .environment import write_bundle_config

UNREACHABLE_RE = re.compile(
    r"Could not reach host|Could not fetch specs|network|getaddrinfo|Temporary failure in "
    r"name resolution|Failed to open TCP connection|Could not find gem .* in locally installed",
    re.I,
)


def _settings(env: Mapping[str, str], deployment: bool) -> dict[str, str]:
    settings = {"BUNDLE_WITHOUT": env.get("BUNDLE_WITHOUT") or "development:test"}
    if deployment:
        settings |= {"BUNDLE_DEPLOYMENT": "true", "BUNDLE_PATH": "vendor/bundle"}
    else:
        settings |= {"BUNDLE_FROZEN": "true"}
    settings["BUNDLE_BIN"] = "vendor/bundle/bin"
    return settings


def _restore(cache: Path, build_dir: Path, ruby: str) -> None:
    try:
        same = (cache / "ruby-version").read_text(encoding="utf-8").strip() == ruby
    except OSError:
        same = False
    if same and (cache / "bundle").is_dir() and not (build_dir / "vendor" / "bundle").exists():
        shutil.copytree(cache / "bundle", build_dir / "vendor" / "bundle", symlinks=True)
        detail("Restored the gems of the last build from the cache")


def _save(cache: Path, build_dir: Path, ruby: str) -> None:
    source = build_dir / "vendor" / "bundle"
    try:
        remove(cache / "ruby-version")
        remove(cache / "bundle.new")
        if not source.is_dir():
            remove(cache / "bundle")
            return
        cache.mkdir(parents=True, exist_ok=True)
        shutil.copytree(source, cache / "bundle.new", symlinks=True)
        remove(cache / "bundle")
        (cache / "bundle.new").rename(cache / "bundle")
        (cache / "ruby-version").write_text(ruby + "\n", encoding="utf-8")
    except OSError as exc:
        detail(f"Warning: could not cache the gems ({exc}); the next build installs again.")


def bundle_install(build_dir: Path, cache_dir: Path, env: Mapping[str, str], ruby: str) -> str:
    """Install the locked gems; "deployment" or "local" (the machine's gems)."""
    cache = cache_dir / "ruby"
    header("Installing dependencies using bundler")
    _restore(cache, build_dir, ruby)
    settings = _settings(env, deployment=True)
    write_bundle_config(build_dir, settings)
    detail(f"Running: bundle install --jobs=4 --retry=0 (without {settings['BUNDLE_WITHOUT']})")
    said: list[str] = []
    code = stream(["bundle", "install", "--jobs=4", "--retry=0"], cwd=build_dir, env=env, keep=said)
    if code == 0:
        stream(["bundle", "clean"], cwd=build_dir, env=env)
        _save(cache, build_dir, ruby)
        return "deployment"
    if not any(UNREACHABLE_RE.search(line) for line in said):
        raise BuildError(
            "bundle install failed; check the gems in Gemfile and Gemfile.lock (see the lines "
            "above) and push again."
        )
    header("The gem sources cannot be reached; installing from the gems on this machine")
    detail("Running: bundle install --local")
    remove(build_dir / "vendor" / "bundle")
    write_bundle_config(build_dir, _settings(env, deployment=False))
    # Bundler refuses to run unless it could write gems somewhere: a GEM_HOME of the build's
    # own (it writes nothing there when the machine has every gem), never the slug's.
    local_env = dict(env, GEM_HOME=str(cache / "gem-home"))
    if stream(["bundle", "install", "--local"], cwd=build_dir, env=local_env) != 0:
        raise BuildError(
            "The gem sources cannot be reached and this machine lacks gems Gemfile.lock names "
            "(see the lines above); lock the versions the machine has, or let the build reach "
            "the gem sources."
        )
    return "local"
