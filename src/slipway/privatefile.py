"""Writing secrets to disk: a 0600 file, written atomically, never readable by others."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def write_private(path: Path, data: str | bytes, *, uid: int | None = None, gid: int = -1) -> None:
    """Temp file created 0600, fsync, optional chown, rename: no reader ever sees half of it."""
    raw = data.encode() if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        if uid is not None:
            os.chown(tmp, uid, gid)
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def read_or_create(path: Path, make: str) -> str:
    """The stripped content of a private file, written with `make` when it does not exist."""
    if not path.exists():
        write_private(path, make + "\n")
    return path.read_text().strip()
