"""The files a buildpack reads and leaves behind: config vars, the export file, removal."""

from __future__ import annotations

import re
import shutil
from collections.abc import Collection, Iterator
from pathlib import Path

CONFIG_VAR_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def config_var_files(env_dir: Path | None, excluded: Collection[str]) -> Iterator[Path]:
    """ENV_DIR's files, one per config var, in name order; odd names and `excluded` left out."""
    if env_dir is None or not env_dir.is_dir():
        return
    for path in sorted(env_dir.iterdir()):
        if path.name in excluded or not CONFIG_VAR_NAME_RE.fullmatch(path.name):
            continue
        if path.is_file():
            yield path


def shell_double_quoted(text: str) -> str:
    """text escaped for the inside of a "..." string of sh."""
    return re.sub(r'([\\"$`])', r"\\\1", text)


def write_export(buildpack_dir: Path, *bin_dirs: Path) -> None:
    """The `export` file later buildpacks of the same build source: bin_dirs first on PATH.

    Raises OSError when the buildpack directory is not writable.
    """
    quoted = ":".join(shell_double_quoted(str(d)) for d in bin_dirs)
    (buildpack_dir / "export").write_text(f'export PATH="{quoted}:$PATH"\n', encoding="utf-8")


def remove(path: Path) -> None:
    """Remove a file, link or directory tree; nothing when there is none."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
