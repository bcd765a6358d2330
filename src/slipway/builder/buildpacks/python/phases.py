"""The heroku/python buildpack's phases (Heroku buildpack API v2), as common/launch.py runs them:

    detect  BUILD_DIR
    compile BUILD_DIR CACHE_DIR ENV_DIR
    release BUILD_DIR

Layout produced by compile:

    BUILD_DIR/.heroku/python      a virtualenv holding the app's dependencies; it is relocatable
                                  (see install.fix_scripts) because the slug runs at /app
    BUILD_DIR/.profile.d/python.sh  puts that virtualenv first on PATH when a dyno starts
    <buildpack>/export            puts it first on PATH for later buildpacks of the same build
    CACHE_DIR/python/venv, key    a copy of the virtualenv and the hash of what it was built
                                  from; an unchanged app reuses it and runs no pip at all
"""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence
from pathlib import Path

from ..common.files import remove
from ..common.output import BuildError, detail, error, header
from .cache import cache_key, restore_cache, save_cache
from .django_steps import collectstatic, find_wsgi_project
from .environment import VENV_REL, read_config, write_env_files
from .install import create_venv, fix_scripts, install, outside_pip, pip_env, venv_python
from .interpreters import choose_interpreter
from .plan import make_plan

DETECT_FILES = (
    "requirements.txt",
    "Pipfile",
    "Pipfile.lock",
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "uv.lock",
    "poetry.lock",
    "runtime.txt",
    ".python-version",
)


def detect(args: Sequence[str]) -> int:
    if args and any((Path(args[0]) / name).is_file() for name in DETECT_FILES):
        print("Python", flush=True)
        return 0
    print("no", flush=True)
    return 1


def compile_app(args: Sequence[str]) -> int:
    if not args:
        raise BuildError("compile needs BUILD_DIR [CACHE_DIR [ENV_DIR]]; the caller is broken.")
    build_dir = Path(args[0]).resolve()
    cache_dir = Path(args[1]).absolute() if len(args) > 1 and args[1] else None
    env_dir = Path(args[2]).absolute() if len(args) > 2 and args[2] else None
    if not build_dir.is_dir():
        raise BuildError(f"The build directory {build_dir} does not exist; the caller is broken.")
    config = read_config(env_dir)

    interpreter, note = choose_interpreter(build_dir)
    header(f"Using Python {interpreter.version_text}")
    if note:
        detail(note)

    plan = make_plan(build_dir)
    key = cache_key(build_dir, interpreter, plan)
    venv = build_dir / VENV_REL
    remove(venv)
    if cache_dir is not None and restore_cache(cache_dir, venv, key):
        header("Requirements unchanged; reusing the cached environment")
    else:
        own_pip = create_venv(interpreter, venv)
        env = pip_env(config, cache_dir, venv)
        if plan.kind in ("none", "uv"):
            pip: list[str] = []
        elif own_pip:
            pip = [str(venv_python(venv)), "-I", "-m", "pip"]
        else:
            pip = outside_pip(interpreter, venv)
        install(plan, build_dir, venv, pip, env)
        fix_scripts(venv, build_dir)
        if cache_dir is not None:
            save_cache(cache_dir, venv, key)

    write_env_files(build_dir)
    collectstatic(build_dir, venv, config)
    return 0


def release(args: Sequence[str]) -> int:
    if not args:
        raise BuildError("release needs BUILD_DIR; the caller is broken.")
    build_dir = Path(args[0])
    venv = build_dir / VENV_REL
    web = None
    if (build_dir / "manage.py").is_file():
        has_gunicorn = any(venv.glob("lib/python*/site-packages/gunicorn/__init__.py"))
        project = find_wsgi_project(build_dir) if has_gunicorn else None
        if project:
            web = f"gunicorn {project}.wsgi"
    print("---")
    if web:
        print("default_process_types:")
        print(f"  web: {web}")
    else:
        print("default_process_types: {}")
    sys.stdout.flush()
    return 0


PHASES = {"detect": detect, "compile": compile_app, "release": release}


def main(argv: Sequence[str]) -> int:
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="backslashreplace")
    if not argv or argv[0] not in PHASES:
        error(
            f"usage: launch.py BUILDPACK_DIR {{{'|'.join(PHASES)}}} BUILD_DIR [CACHE_DIR ENV_DIR]"
        )
        return 2
    try:
        return PHASES[argv[0]](argv[1:])
    except BuildError as exc:
        error(str(exc))
    except KeyboardInterrupt:
        error("The build was interrupted; run it again.")
    except Exception as exc:
        error(
            f"The Python buildpack failed unexpectedly ({type(exc).__name__}: {exc}); "
            "build again, and report a bug if it keeps happening."
        )
    return 1
