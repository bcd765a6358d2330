"""The virtualenv at BUILD_DIR/.heroku/python, and pip (or uv) installing the plan into it.

The virtualenv is relocatable (see fix_scripts) because the slug runs at /app, not where it
was built.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from ..common.files import remove
from ..common.output import BuildError, detail, header
from ..common.process import stream
from .environment import ask, base_env
from .interpreters import Interpreter
from .plan import Plan, pipfile_requirements

APP_HOME = "/app"
SCRIPT_MARKER = b".heroku/python/bin/python"
RELOCATED_SHEBANG = b"#!/usr/bin/env python3"
PIP_MIN_FOR_PYTHON_OPTION = (22, 3)


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def create_venv(interpreter: Interpreter, venv: Path) -> bool:
    """Create the virtualenv; True if it has its own pip.

    Route chosen: `<interpreter> -m venv`, which on this Debian machine works because
    python3-venv ships ensurepip with a bundled pip wheel, so the venv gets its own pip, needs
    no network to bootstrap and installs with `venv/bin/python -m pip`. Where ensurepip is
    missing (Debian without python3-venv), `-m venv` fails; then the venv is made
    `--without-pip` and packages go in through an outside pip's `--python` option
    (see outside_pip).
    """
    venv.parent.mkdir(parents=True, exist_ok=True)
    env = base_env()
    # -I keeps the app's files (cwd, PYTHON* variables) out of the interpreter's sys.path.
    code, out = ask([interpreter.path, "-I", "-m", "venv", str(venv)], cwd=venv.parent, env=env)
    if code == 0 and venv_python(venv).exists():
        return True
    remove(venv)
    code2, out2 = ask(
        [interpreter.path, "-I", "-m", "venv", "--without-pip", str(venv)],
        cwd=venv.parent,
        env=env,
    )
    if code2 == 0 and venv_python(venv).exists():
        detail("This Python has no ensurepip (python3-venv), so the environment has no pip;")
        detail("packages are installed with an outside pip instead.")
        return False
    detail(out.strip() or out2.strip())
    raise BuildError(
        f"Could not create a virtualenv with {interpreter.path} -m venv; "
        "install the python3-venv package for that Python on the build machine."
    )


def pip_version(python: str) -> tuple[int, ...] | None:
    code, out = ask([python, "-I", "-m", "pip", "--version"], cwd="/", env=base_env())
    match = re.match(r"pip (\d+)\.(\d+)", out.strip()) if code == 0 else None
    return None if match is None else tuple(int(p) for p in match.groups())


def outside_pip(interpreter: Interpreter, venv: Path) -> list[str]:
    """A pip from outside the venv that can install into it (pip >= 22.3 has --python)."""
    for python in dict.fromkeys([interpreter.path, sys.executable]):
        version = pip_version(python)
        if version is not None and version >= PIP_MIN_FOR_PYTHON_OPTION:
            return [python, "-I", "-m", "pip", "--python", str(venv_python(venv))]
    raise BuildError(
        f"Python {interpreter.version_text} has neither ensurepip nor a pip of version 22.3 or "
        "later, so nothing can be installed; install python3-venv or python3-pip on the "
        "build machine."
    )


def pip_env(config: Mapping[str, str], cache_dir: Path | None, venv: Path) -> dict[str, str]:
    env = base_env(config)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', os.defpath)}"
    env["VIRTUAL_ENV"] = str(venv)
    if cache_dir is not None:
        env["PIP_CACHE_DIR"] = str(cache_dir / "pip")
        env["UV_CACHE_DIR"] = str(cache_dir / "uv")
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    env["PIP_PROGRESS_BAR"] = "off"
    env["PIP_ROOT_USER_ACTION"] = "ignore"
    return env


def install(
    plan: Plan,
    build_dir: Path,
    venv: Path,
    pip: list[str],
    env: Mapping[str, str],
) -> None:
    if plan.kind == "none":
        header("No requirements.txt, Pipfile.lock, uv.lock, pyproject.toml or setup.py found")
        detail("The environment has no packages besides the standard library.")
        return
    header(f"Installing requirements with {plan.tool}")
    if plan.kind == "requirements":
        code = stream([*pip, "install", "-r", "requirements.txt"], cwd=build_dir, env=env)
        failure = "pip could not install the packages in requirements.txt; see the lines above."
    elif plan.kind == "pipfile":
        lines, _ = pipfile_requirements(build_dir)
        detail(
            f"Installing the {sum(not x.startswith('-') for x in lines)} packages pinned in "
            "Pipfile.lock (default)"
        )
        with tempfile.TemporaryDirectory(prefix="slipway-pipfile-") as tmp:
            req = Path(tmp) / "requirements.txt"
            req.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
            code = stream([*pip, "install", "-r", str(req)], cwd=build_dir, env=env)
        failure = "pip could not install the packages pinned in Pipfile.lock; see the lines above."
    elif plan.kind == "uv":
        uv_env = dict(env)
        uv_env["UV_PROJECT_ENVIRONMENT"] = str(venv)
        uv_env["UV_PYTHON"] = str(venv_python(venv))
        uv_env["UV_PYTHON_DOWNLOADS"] = "never"
        uv_env.setdefault("UV_NO_PROGRESS", "1")
        cmd = ["uv", "sync", "--locked", "--no-dev", "--no-editable"]
        code = stream(cmd, cwd=build_dir, env=uv_env)
        failure = (
            "uv sync --locked could not install the packages in uv.lock; see the lines above "
            "(if uv.lock is out of date, run uv lock and commit it)."
        )
    else:
        code = stream([*pip, "install", "."], cwd=build_dir, env=env)
        failure = "pip could not install this project (pip install .); see the lines above."
    if code != 0:
        raise BuildError(failure)


def fix_scripts(venv: Path, build_dir: Path) -> None:
    """Make the venv independent of where it was built.

    pip writes scripts with a shebang naming BUILD_DIR/.heroku/python/bin/python, which exists
    neither at /app nor in the next build's BUILD_DIR. They become `#!/usr/bin/env python3`,
    which finds the venv's python because .profile.d (and the export file) put the venv's bin
    first on PATH. Long paths get pip's `#!/bin/sh` + `'''exec' "/path/python"` form instead:
    the second line is a harmless Python string, so only the first line changes there too.
    Editable installs (`-e .`) record BUILD_DIR in .pth files; those now say /app.
    bin/python itself is a symlink to the system interpreter, the same at build and run time.
    """
    bin_dir = venv / "bin"
    for entry in sorted(bin_dir.iterdir()) if bin_dir.is_dir() else []:
        if entry.is_symlink() or not entry.is_file():
            continue
        with entry.open("rb") as handle:
            head = handle.read(4096)
        if not head.startswith(b"#!"):
            continue
        lines = head.split(b"\n", 2)
        first = lines[0]
        second = lines[1] if len(lines) > 1 else b""
        relocate = SCRIPT_MARKER in first or (
            first.strip() == b"#!/bin/sh"
            and second.startswith(b"'''exec'")
            and SCRIPT_MARKER in second
        )
        if relocate:
            data = entry.read_bytes()
            entry.write_bytes(RELOCATED_SHEBANG + data[len(first) :])
    old = str(build_dir).encode()
    for site in venv.glob("lib/python*/site-packages"):
        for path in [*site.glob("*.pth"), *site.glob("__editable__*.py"), *site.glob("*.egg-link")]:
            data = path.read_bytes()
            if old in data:
                path.write_bytes(data.replace(old, APP_HOME.encode()))
