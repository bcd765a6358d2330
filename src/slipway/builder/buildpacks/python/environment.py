"""What the buildpack reads from the build, and leaves for what runs after it.

In: the app's files and config vars (ENV_DIR). For its own programs: the environment they
run with, and `ask` for quiet questions. Out: `.profile.d/python.sh` for the dynos and the
`export` file for later buildpacks of the same build.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..common.files import config_var_files, write_export
from ..common.output import BuildError
from ..common.process import CannotRun, capture

VENV_REL = Path(".heroku") / "python"
BUILDPACK_DIR = Path(__file__).absolute().parent
# Config vars that would break the build's own interpreters if they reached pip or Django.
DENIED_CONFIG_VARS = frozenset(
    {"PATH", "PYTHONHOME", "PYTHONPATH", "LD_PRELOAD", "LD_LIBRARY_PATH"}
)


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise BuildError(f"Could not read {path.name} ({exc.strerror}); check the file.") from exc


def read_config(env_dir: Path | None) -> dict[str, str]:
    config: dict[str, str] = {}
    for path in config_var_files(env_dir, DENIED_CONFIG_VARS):
        try:
            config[path.name] = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
    return config


def config_flag(config: Mapping[str, str], name: str) -> bool:
    return config.get(name, "").strip().lower() not in ("", "0", "false", "no")


def base_env(config: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment, plus the app's config vars, minus what breaks interpreters."""
    env = dict(os.environ)
    if config:
        env.update(config)
    for name in ("PYTHONHOME", "PYTHONPATH"):
        env.pop(name, None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def ask(
    cmd: Sequence[str], *, cwd: Path | str, env: Mapping[str, str], timeout: float | None = None
) -> tuple[int, str]:
    """Run cmd quietly; return its exit status and combined output.

    These are questions (does this interpreter run, has it a pip, does Django import), so a
    program that cannot be started answers 127, as in sh, rather than failing the build.
    """
    try:
        done = capture(cmd, cwd=cwd, env=env, timeout=timeout, merged=True)
    except CannotRun as exc:
        return 127, str(exc.reason)
    return done.returncode, done.stdout


def write_env_files(build_dir: Path, bin_dirs: Sequence[Path]) -> None:
    """bin_dirs (inside BUILD_DIR/.heroku/python) first on PATH, in dynos and later buildpacks."""
    profile_d = build_dir / ".profile.d"
    profile_d.mkdir(parents=True, exist_ok=True)
    rel = ":".join(f"$HOME/{d.relative_to(build_dir).as_posix()}" for d in bin_dirs)
    (profile_d / "python.sh").write_text(
        f'export PATH="{rel}:$PATH"\n'
        "export PYTHONUNBUFFERED=true\n"
        "export LANG=${LANG:-C.UTF-8}\n"
        "export WEB_CONCURRENCY=${WEB_CONCURRENCY:-2}\n",
        encoding="utf-8",
    )
    try:
        write_export(BUILDPACK_DIR, *bin_dirs)
    except OSError as exc:
        raise BuildError(
            f"Could not write {BUILDPACK_DIR / 'export'} ({exc.strerror}); "
            "the buildpack directory must be a writable copy."
        ) from exc
