"""The slug store: `<data dir>/slugs/<sha256>.tgz`, written once, never changed."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tarfile
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SOFT_LIMIT = 300 * 1024 * 1024
HARD_LIMIT = 1024 * 1024 * 1024


class SlugError(Exception):
    pass


class SlugTooLarge(SlugError):
    pass


@dataclass(frozen=True)
class PackedSlug:
    sha256: str
    size: int
    path: Path

    @property
    def checksum(self) -> str:
        return f"SHA256:{self.sha256}"


def _normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
    # The slug must not carry the build uid: dynos get their own.
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


class SlugStore:
    def __init__(self, root: Path, *, hard_limit: int = HARD_LIMIT) -> None:
        self.root = root
        self.hard_limit = hard_limit
        root.mkdir(parents=True, exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        return self.root / f"{sha256}.tgz"

    def pack(self, build_dir: Path) -> PackedSlug:
        """Compress build_dir into the store; the archive's name is its own sha256."""
        tmp = self.root / f".tmp-{uuid.uuid4().hex}.tgz"
        try:
            # Level 1: a slug is packed on every deploy; speed matters more than bytes.
            with tarfile.open(tmp, "w:gz", compresslevel=1) as tar:
                for entry in sorted(build_dir.iterdir()):
                    tar.add(entry, arcname=entry.name, filter=_normalise)
            size = tmp.stat().st_size
            if size > self.hard_limit:
                raise SlugTooLarge(
                    f"The compiled slug is {size // (1024 * 1024)} MB, over the "
                    f"{self.hard_limit // (1024 * 1024)} MB limit; add large files to .slugignore."
                )
            digest = hashlib.sha256()
            with tmp.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1024 * 1024), b""):
                    digest.update(chunk)
            sha = digest.hexdigest()
            final = self.path_for(sha)
            with tmp.open("rb") as fh:
                os.fsync(fh.fileno())
            tmp.replace(final)
            return PackedSlug(sha, size, final)
        finally:
            tmp.unlink(missing_ok=True)

    def collect(self, keep: Iterable[str]) -> list[str]:
        """Delete every slug whose sha256 is not in `keep`. Returns what was removed."""
        wanted = set(keep)
        removed = []
        for path in self.root.glob("*.tgz"):
            sha = path.name.removesuffix(".tgz")
            if sha not in wanted and not path.name.startswith(".tmp-"):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                removed.append(sha)
        return removed
