"""The tools a lock file needs (uv for uv.lock, Poetry for poetry.lock), installed by the build.

Heroku's Python buildpack installs them itself, so an app that commits only its
lock file deploys; this one does the same, from the package index pip reaches,
into a virtualenv of the build machine's python3 under CACHE_DIR/python-tools/NAME,
kept between builds. A tool the machine has on PATH is used as it is. Neither
goes into the slug: they only turn the lock into pinned requirements.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from ..common.files import remove
from ..common.output import BuildError, detail, header
from ..common.process import stream

# What each tool is made of: Poetry 2 exports through its plugin.
PACKAGES = {"uv": ["uv"], "poetry": ["poetry", "poetry-plugin-export"]}
LOCKS = {"uv": "uv.lock", "poetry": "poetry.lock"}


def tool(name: str, cache_dir: Path | None, env: Mapping[str, str]) -> Path:
    """The `name` command: the machine's, or one this build installs (once per cache)."""
    found = shutil.which(name)
    if found is not None:
        return Path(found)
    root = (
        cache_dir / "python-tools"
        if cache_dir is not None
        else Path(tempfile.mkdtemp(prefix="slipway-tools-"))
    )
    home = root / name
    command = home / "bin" / name
    if command.is_file():
        return command
    header(f"Installing {name} to read {LOCKS[name]}")
    remove(home)
    home.parent.mkdir(parents=True, exist_ok=True)
    made = subprocess.run(
        [sys.executable, "-m", "venv", str(home)], capture_output=True, text=True, check=False
    )
    if made.returncode != 0:
        raise BuildError(
            f"Could not make a virtualenv for {name} ({made.stderr.strip()}); install "
            f"python3-venv on the build machine, or commit a requirements.txt."
        )
    pip = [str(home / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    if stream([*pip, *PACKAGES[name]], cwd=root, env=env) != 0 or not command.is_file():
        remove(home)
        raise BuildError(
            f"{name} could not be installed from the package index (see the lines above); "
            f"let the build reach it, or commit a requirements.txt made from {LOCKS[name]}."
        )
    detail(f"Installed {' and '.join(PACKAGES[name])} for this app's builds")
    return command
