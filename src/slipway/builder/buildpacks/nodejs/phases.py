"""The heroku/nodejs buildpack's phases (Heroku buildpack API v2), as common/launch.py runs them:

detect  BUILD_DIR                     -> prints "Node.js", exit 0 when package.json exists
compile BUILD_DIR CACHE_DIR ENV_DIR   -> installs dependencies, runs the build, prunes
release BUILD_DIR                     -> YAML with the default process types
"""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence
from pathlib import Path

from ..common.output import BuildError, error, header
from ..common.runtimes import release_yaml
from .dependencies import install_dependencies, prune
from .engines import RUNTIME_NAME, install_node, install_npm
from .environment import build_env, host_env, read_env_dir, write_runtime_files
from .package_json import build_script_name, read_package_json, scripts_of
from .package_managers import choose_package_manager
from .scripts import run_script


def compile_app(build_dir: Path, cache_dir: Path, env_dir: Path | None) -> None:
    if not build_dir.is_dir():
        raise BuildError(f"The build directory {build_dir} does not exist; this is a platform bug.")
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BuildError(f"Cannot create the cache directory {cache_dir}: {exc.strerror}.") from exc
    package = read_package_json(build_dir)
    config = read_env_dir(env_dir)
    header("Installing Node.js")
    version = install_node(package, build_dir, cache_dir, host_env(config))
    header(f"Using Node.js {version}")
    env = build_env(build_dir, cache_dir, config)
    install_npm(package, build_dir, env)

    pm = choose_package_manager(build_dir, env, package)
    scripts = scripts_of(package)
    if "heroku-prebuild" in scripts:
        run_script(pm, "heroku-prebuild", build_dir, env, "Prebuild")
    install_dependencies(pm, package, build_dir, cache_dir, env, version)
    build = build_script_name(scripts)
    if build is not None:
        run_script(pm, build, build_dir, env, "Build")
    prune(pm, build_dir, env)
    if "heroku-cleanup" in scripts:
        run_script(pm, "heroku-cleanup", build_dir, env, "Cleanup")
    write_runtime_files(build_dir)


def detect(build_dir: Path) -> int:
    if (build_dir / "package.json").is_file():
        print("Node.js", flush=True)
        return 0
    return 1


def default_web(build_dir: Path, package: dict[str, object]) -> str | None:
    """`npm start` when package.json has a start script, else `node MAIN` (its main file)."""
    if "start" in scripts_of(package):
        return "npm start"
    main = package.get("main")
    candidates = [main] if isinstance(main, str) and main.strip() else []
    # npm's own defaults: main is index.js; `npm start` without a script runs server.js.
    for name in [*candidates, "index.js", "server.js"]:
        path = (build_dir / name).resolve()
        if path.is_relative_to(build_dir.resolve()) and path.is_file():
            return f"node {path.relative_to(build_dir.resolve()).as_posix()}"
    return None


def release(build_dir: Path) -> str:
    try:
        package = read_package_json(build_dir)
    except BuildError:
        package = {}
    web = default_web(build_dir, package)
    return release_yaml(build_dir, (RUNTIME_NAME,), {"web": web} if web else {})


USAGE = (
    "usage: launch.py BUILDPACK_DIR detect BUILD_DIR | compile BUILD_DIR CACHE_DIR [ENV_DIR]"
    " | release BUILD_DIR"
)


def main(argv: Sequence[str]) -> int:
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="replace")
    phase, args = (argv[0], list(argv[1:])) if argv else ("", [])
    try:
        if phase == "detect" and len(args) == 1:
            return detect(Path(args[0]))
        if phase == "release" and len(args) == 1:
            sys.stdout.write(release(Path(args[0])))
            sys.stdout.flush()
            return 0
        if phase == "compile" and len(args) in (2, 3):
            env_dir = Path(args[2]).absolute() if len(args) == 3 else None
            compile_app(Path(args[0]).absolute(), Path(args[1]).absolute(), env_dir)
            return 0
        print(USAGE, file=sys.stderr, flush=True)
        return 2
    except BuildError as exc:
        error(str(exc))
        return 1
    except KeyboardInterrupt:
        error("The build was interrupted.")
        return 130
    except Exception as exc:  # never a traceback: one line saying what broke
        error(
            f"The Node.js buildpack hit an internal error ({type(exc).__name__}: {exc}); report it."
        )
        return 1
