"""The heroku/python buildpack's phases (Heroku buildpack API v2), as common/launch.py runs them:

    detect  BUILD_DIR
    compile BUILD_DIR CACHE_DIR ENV_DIR
    release BUILD_DIR

Layout produced by compile:

    BUILD_DIR/.heroku/python      the app's own Python (interpreter and standard library,
                                  copied: runtime.py) with the app's packages installed into it
    BUILD_DIR/.profile.d/python.sh  puts its bin first on PATH when a dyno starts
    <buildpack>/export            puts it first on PATH for later buildpacks of the same build
    CACHE_DIR/python/runtime, key a copy of .heroku/python and the hash of what it was built
                                  from; an unchanged app reuses it and runs no pip at all
"""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence
from pathlib import Path

from ..common.files import remove
from ..common.output import BuildError, detail, error, header
from ..common.runtimes import record, release_yaml
from .cache import cache_key, restore_cache, save_cache
from .django_steps import collectstatic, find_wsgi_project
from .environment import VENV_REL, read_config, write_env_files
from .install import fix_scripts, install, pip_env, venv_python
from .interpreters import choose_interpreter
from .plan import make_plan
from .runtime import bootstrap_pip, copy_interpreter, scripts_dir

RUNTIME_NAME = "Python"

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
    prefix = build_dir / VENV_REL
    remove(prefix)
    if cache_dir is not None and restore_cache(cache_dir, prefix, key):
        header("Requirements unchanged; reusing the cached environment")
        bin_dirs = _bin_dirs(prefix)
    else:
        header(f"Installing Python {interpreter.version_text} into the slug")
        copy_interpreter(interpreter, prefix)
        python = venv_python(prefix)
        bin_dirs = _bin_dirs(prefix)
        env = pip_env(config, cache_dir, bin_dirs)
        if plan.kind != "none":
            bootstrap_pip(python, prefix)
        install(plan, build_dir, [str(python), "-I", "-m", "pip"], env, cache_dir)
        fix_scripts(prefix, build_dir, bin_dirs)
        if cache_dir is not None:
            save_cache(cache_dir, prefix, key)

    write_env_files(build_dir, bin_dirs)
    record(build_dir, RUNTIME_NAME, interpreter.version_text)
    collectstatic(build_dir, prefix, config)
    return 0


def _bin_dirs(prefix: Path) -> list[Path]:
    """The Python's bin, and where pip puts commands when that is elsewhere (Debian)."""
    scripts = scripts_dir(venv_python(prefix))
    return [prefix / "bin"] + ([scripts] if scripts != prefix / "bin" else [])


def release(args: Sequence[str]) -> int:
    if not args:
        raise BuildError("release needs BUILD_DIR; the caller is broken.")
    build_dir = Path(args[0])
    web = default_web(build_dir)
    sys.stdout.write(release_yaml(build_dir, (RUNTIME_NAME,), {"web": web} if web else {}))
    sys.stdout.flush()
    return 0


def default_web(build_dir: Path) -> str | None:
    """Django without a Procfile: gunicorn PROJECT.wsgi when gunicorn is installed, else
    Django's own server on $PORT."""
    if not (build_dir / "manage.py").is_file():
        return None
    prefix = build_dir / VENV_REL
    sites = ("lib/python*/site-packages", "local/lib/python*/dist-packages")
    has_gunicorn = any(any(prefix.glob(f"{s}/gunicorn/__init__.py")) for s in sites)
    project = find_wsgi_project(build_dir)
    if has_gunicorn and project:
        return f"gunicorn {project}.wsgi"
    return "python manage.py runserver 0.0.0.0:$PORT"


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
