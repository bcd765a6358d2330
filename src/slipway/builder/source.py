"""Unpacking the pushed source safely, and .slugignore."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

from slipway.builder.errors import SourceError

MAX_FILE_BYTES = 1024 * 1024 * 1024


def extract_source(archive: Path, dest: Path, *, max_file_bytes: int = MAX_FILE_BYTES) -> None:
    """Extract a tar (plain or gzip) into dest, refusing anything that could leave dest.

    Absolute paths, `..`, links pointing outside the app and device files end the
    build with one sentence; so does a file over the size limit.
    """
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar.getmembers():
                if member.isfile() and member.size > max_file_bytes:
                    raise SourceError(
                        f"{member.name} is {member.size // (1024 * 1024)} MB, over the "
                        f"{max_file_bytes // (1024 * 1024)} MB limit for one file; remove it "
                        "from the repository."
                    )
                try:
                    tarfile.data_filter(member, str(dest))
                except (tarfile.LinkOutsideDestinationError, tarfile.AbsoluteLinkError) as exc:
                    raise SourceError(
                        f"The symlink {member.name} points outside the app ({member.linkname}); "
                        "make it point inside the repository."
                    ) from exc
                except tarfile.FilterError as exc:
                    raise SourceError(
                        f"{member.name} cannot be part of an app ({exc}); remove it."
                    ) from exc
            tar.extractall(dest, filter="data")
    except tarfile.TarError as exc:
        raise SourceError(f"The source archive cannot be read ({exc}).") from exc
    entries = list(dest.iterdir())
    # Tarballs made by GitHub and `tar czf app.tgz app/` wrap everything in one directory.
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        inner = entries[0]
        for child in list(inner.iterdir()):
            child.rename(dest / child.name)
        inner.rmdir()


def apply_slugignore(build_dir: Path) -> list[str]:
    """Delete what .slugignore names (gitignore-like globs), before compile, as Heroku does."""
    ignore = build_dir / ".slugignore"
    if not ignore.is_file():
        return []
    removed: list[str] = []
    root = build_dir.resolve()
    for raw in ignore.read_text(errors="replace").splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        anchored = pattern.startswith("/") or "/" in pattern.rstrip("/")
        glob = pattern.strip("/")
        matches = root.glob(glob) if anchored else root.rglob(glob)
        for path in sorted(set(matches), reverse=True):
            if not path.resolve().is_relative_to(root) and not path.is_symlink():
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
            removed.append(str(path.relative_to(root)))
    return removed
