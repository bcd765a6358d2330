"""Downloading a build's source archive from a URL (Heroku's `source_blob.url`), bounded.

The platform's `SourceFetcher` port: `slipway server` wires an `HttpSourceFetcher` in, so the
platform itself speaks no HTTP. It checks the checksum the download returns.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx

from slipway.builder.errors import SourceError

TIMEOUT = 60


class HttpSourceFetcher:
    def __init__(self, timeout: float = TIMEOUT) -> None:
        self.timeout = timeout

    def fetch(self, url: str, dest: Path, max_bytes: int) -> str:
        """Write what url serves into dest; return its SHA-256 (hex).

        Raises SourceError with one sentence when the answer is not a 200, the download
        breaks, or it grows past max_bytes.
        """
        digest = hashlib.sha256()
        size = 0
        try:
            with httpx.stream("GET", url, follow_redirects=True, timeout=self.timeout) as response:
                if response.status_code != 200:
                    raise SourceError(
                        f"Could not download the source from {url}: HTTP {response.status_code}."
                    )
                with dest.open("wb") as fh:
                    for chunk in response.iter_bytes():
                        size += len(chunk)
                        if size > max_bytes:
                            raise SourceError(
                                f"The source archive is over {_size(max_bytes)}; make it smaller."
                            )
                        digest.update(chunk)
                        fh.write(chunk)
        except httpx.HTTPError as exc:
            raise SourceError(f"Could not download the source from {url}: {exc}.") from exc
        return digest.hexdigest()


def _size(limit: int) -> str:
    """1073741824 -> "1 GB": the largest unit that divides the limit."""
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if limit >= scale and limit % scale == 0:
            return f"{limit // scale} {unit}"
    return f"{limit} bytes"
