"""The app's own scripts: heroku-prebuild, the build (heroku-postbuild or build), heroku-cleanup,
and npm's install scripts, run again when a cached node_modules stands in for an install."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from ..common.output import BuildError, detail, header
from ..common.process import stream
from .package_managers import PackageManager

# Scripts of the app itself that npm runs on `npm ci` / `npm install`, in npm's order.
ROOT_INSTALL_SCRIPTS = (
    "preinstall",
    "install",
    "postinstall",
    "prepublish",
    "preprepare",
    "prepare",
    "postprepare",
)


def run_script(
    pm: PackageManager, script: str, build_dir: Path, env: Mapping[str, str], title: str
) -> None:
    header(title)
    _run(pm, script, build_dir, env, alone=False)


def rerun_install_scripts(
    pm: PackageManager, scripts: Sequence[str], build_dir: Path, env: Mapping[str, str]
) -> None:
    """npm ran these on install; they may write outside node_modules, so run them again."""
    for script in scripts:
        _run(pm, script, build_dir, env, alone=True)


def _run(
    pm: PackageManager, script: str, build_dir: Path, env: Mapping[str, str], *, alone: bool
) -> None:
    detail(f"Running {script}")
    if stream(pm.run_script(script, alone=alone), cwd=build_dir, env=env) != 0:
        raise BuildError(f"The {script} script failed; see the lines above.")
