"""Where the PostgreSQL programs are: the configured dir, the newest installed version, $PATH."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from slipway.addons.errors import ProviderUnavailable


class PgBinaries:
    """Finds PostgreSQL programs: the configured dir, the newest installed version, then $PATH."""

    def __init__(self, bin_dir: Path | None) -> None:
        self.bin_dir = bin_dir

    def _dirs(self) -> list[Path]:
        if self.bin_dir is not None:
            return [self.bin_dir]

        def version(path: Path) -> tuple[int, ...]:
            digits = re.findall(r"\d+", path.parent.name)
            return tuple(int(d) for d in digits)

        found = [
            *Path("/usr/lib/postgresql").glob("*/bin"),
            *Path("/usr").glob("pgsql-*/bin"),
        ]
        return sorted(found, key=version, reverse=True)

    def find(self, name: str, *, server: bool = False) -> str:
        for directory in self._dirs():
            candidate = directory / name
            if os.access(candidate, os.X_OK):
                return str(candidate)
        on_path = None if self.bin_dir is not None else shutil.which(name)
        if on_path:
            return on_path
        package = "postgresql" if server else "postgresql-client"
        tail = ", or pass --postgres-admin-url" if server else ""
        raise ProviderUnavailable(
            f"The PostgreSQL program {name} was not found; install the {package} package{tail}."
        )
