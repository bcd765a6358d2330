"""pip installing the plan (a lock exported by uv or Poetry first) into the slug's own
Python at BUILD_DIR/.heroku/python.

What pip writes is made independent of where it was built (see fix_scripts): the slug runs
at /app, which is where a sandboxed build runs too, but not a build without the sandbox.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from ..common.output import BuildError, detail, header
from ..common.process import stream
from .environment import base_env
from .plan import Plan, pipfile_requirements
from .tools import tool

APP_HOME = "/app"
SCRIPT_MARKER = b".heroku/python/bin/python"
RELOCATED_SHEBANG = b"#!/usr/bin/env python3"


def venv_python(prefix: Path) -> Path:
    return prefix / "bin" / "python"


def pip_env(
    config: Mapping[str, str], cache_dir: Path | None, bin_dirs: list[Path]
) -> dict[str, str]:
    env = base_env(config)
    env["PATH"] = os.pathsep.join([*map(str, bin_dirs), os.environ.get("PATH", os.defpath)])
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
    pip: list[str],
    env: Mapping[str, str],
    cache_dir: Path | None = None,
) -> None:
    if plan.kind == "none":
        header(
            "No requirements.txt, Pipfile.lock, uv.lock, poetry.lock, pyproject.toml or "
            "setup.py found"
        )
        detail("The slug's Python has no packages besides the standard library.")
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
        # uv exports the locked packages; pip installs them into the slug's Python (uv sync
        # wants a virtualenv, and the slug's Python is an installation of its own).
        uv_env = dict(env)
        uv_env["UV_PYTHON_DOWNLOADS"] = "never"
        uv_env.setdefault("UV_NO_PROGRESS", "1")
        uv = str(tool("uv", cache_dir, env))
        export = [uv, "export", "--locked", "--no-dev", "--no-editable", "-o"]
        code = _export_and_install(export, build_dir, pip, env, uv_env)
        failure = (
            "The packages in uv.lock could not be installed; see the lines above "
            "(if uv.lock is out of date, run uv lock and commit it)."
        )
    elif plan.kind == "poetry":
        poetry_env = dict(env)
        poetry_env["POETRY_NO_INTERACTION"] = "1"
        poetry_env["POETRY_VIRTUALENVS_CREATE"] = "false"
        if cache_dir is not None:
            poetry_env["POETRY_CACHE_DIR"] = str(cache_dir / "poetry")
        poetry = str(tool("poetry", cache_dir, env))
        detail("Installing the main group pinned in poetry.lock")
        export = [poetry, "export", "--only", "main", "--without-hashes", "--format"]
        export += ["requirements.txt", "--output"]
        code = _export_and_install(export, build_dir, pip, env, poetry_env)
        failure = (
            "The packages in poetry.lock could not be installed; see the lines above "
            "(if poetry.lock is out of date, run poetry lock and commit it)."
        )
    else:
        code = stream([*pip, "install", "."], cwd=build_dir, env=env)
        failure = "pip could not install this project (pip install .); see the lines above."
    if code != 0:
        raise BuildError(failure)


def _export_and_install(
    export: list[str],
    build_dir: Path,
    pip: list[str],
    env: Mapping[str, str],
    tool_env: Mapping[str, str],
) -> int:
    """The lock's tool exports pinned requirements (its last argument is the file to write);
    pip installs them into the slug's Python (the tools want a virtualenv of their own to
    install into, and the slug's Python is an installation of its own)."""
    with tempfile.TemporaryDirectory(prefix="slipway-lock-") as tmp:
        req = Path(tmp) / "requirements.txt"
        code = stream([*export, str(req)], cwd=build_dir, env=tool_env)
        if code == 0:
            code = stream([*pip, "install", "-r", str(req)], cwd=build_dir, env=env)
    return code


def fix_scripts(prefix: Path, build_dir: Path, bin_dirs: list[Path]) -> None:
    """Make what pip wrote independent of where it was built.

    pip writes scripts with a shebang naming BUILD_DIR/.heroku/python/bin/python3.N, which
    exists neither at /app (unless the build ran there) nor in the next build's BUILD_DIR.
    They become `#!/usr/bin/env python3`, which finds the slug's python because .profile.d
    (and the export file) put its bin first on PATH. Long paths get pip's `#!/bin/sh` +
    `'''exec' "/path/python"` form instead: the second line is a harmless Python string, so
    only the first line changes there too. Editable installs (`-e .`) record BUILD_DIR in
    .pth files; those now say /app.
    """
    entries = [e for d in bin_dirs if d.is_dir() for e in sorted(d.iterdir())]
    for entry in entries:
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
    sites = [
        *prefix.glob("lib/python*/site-packages"),
        *prefix.glob("local/lib/python*/dist-packages"),
    ]
    for site in sites:
        for path in [*site.glob("*.pth"), *site.glob("__editable__*.py"), *site.glob("*.egg-link")]:
            data = path.read_bytes()
            if old in data:
                path.write_bytes(data.replace(old, APP_HOME.encode()))
