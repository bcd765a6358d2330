"""The heroku/ruby buildpack's phases (Heroku buildpack API v2), as common/launch.py runs them:

    detect  BUILD_DIR                     "Ruby" when there is a Gemfile
    compile BUILD_DIR CACHE_DIR ENV_DIR   checks the Ruby, installs the gems, precompiles assets
    release BUILD_DIR                     default process types, config vars and runtimes

The Ruby is the machine's (the stack's), its version recorded in the slug's metadata.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from ..common import phases
from ..common.output import BuildError, detail, header
from ..common.runtimes import record, release_yaml
from .bundler import bundle_install
from .environment import build_env, read_config, write_runtime_files
from .frameworks import (
    config_var_defaults,
    default_web,
    env_defaults,
    framework,
    precompile_assets,
)
from .gemfile import gemfile_ruby, read_lock
from .versions import bundler_pin, check_ruby, host_ruby, tool_version

RUNTIMES = ("Ruby", "Bundler")


def detect(args: Sequence[Path]) -> int:
    if (args[0] / "Gemfile").is_file():
        print("Ruby", flush=True)
        return 0
    return 1


def compile_app(args: Sequence[Path]) -> int:
    build_dir, cache_dir = args[0], args[1]
    env_dir = args[2] if len(args) > 2 else None
    if not build_dir.is_dir():
        raise BuildError(f"The build directory {build_dir} does not exist; a platform bug.")
    lock = read_lock(build_dir)
    kind = framework(lock, build_dir)
    config = read_config(env_dir)
    env = build_env(build_dir, cache_dir, config, env_defaults(kind))
    ruby = host_ruby(build_dir, env)
    check_ruby(ruby, lock.ruby, gemfile_ruby(build_dir), build_dir, env)
    bundler = tool_version(["bundle", "--version"], build_dir, env, "Bundler").split()[-1]
    header(f"Using Ruby {ruby} and Bundler {bundler}")
    runtime_env = dict(env_defaults(kind))
    pin = bundler_pin(lock.bundler, bundler)
    if pin is not None:
        detail(
            f"Gemfile.lock was bundled with Bundler {lock.bundler}; this machine's Bundler "
            f"{pin} builds the app and its dynos run it (BUNDLER_VERSION={pin})"
        )
        # Set for the build too: Bundler then does not try to fetch the locked version.
        env["BUNDLER_VERSION"] = pin
        runtime_env["BUNDLER_VERSION"] = pin
    if kind:
        header(f"{'Rails' if kind == 'rails' else 'Rack'} app detected")
    bundle_install(build_dir, cache_dir, env, ruby)
    if kind == "rails":
        precompile_assets(build_dir, env)
    write_runtime_files(build_dir, runtime_env)
    record(build_dir, "Ruby", ruby)
    record(build_dir, "Bundler", bundler)
    return 0


def release(args: Sequence[Path]) -> int:
    build_dir = args[0]
    try:
        kind = framework(read_lock(build_dir), build_dir)
    except BuildError:
        kind = None
    web = default_web(kind, build_dir)
    types = {"web": web} if web else {}
    sys.stdout.write(release_yaml(build_dir, RUNTIMES, types, config_var_defaults(kind)))
    sys.stdout.flush()
    return 0


def main(argv: Sequence[str]) -> int:
    return phases.run(
        {"detect": (detect, 1, 1), "compile": (compile_app, 2, 3), "release": (release, 1, 1)},
        argv,
        "Ruby",
    )
