"""The source downloader the server wires into the platform (`builder.fetch`), against a real
HTTP server on loopback: the archive and its SHA-256, a non-200, and the size bound."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from slipway.builder.errors import SourceError
from slipway.builder.fetch import HttpSourceFetcher

BODY = b"not really a tarball, but bytes all the same\n" * 100


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path != "/source.tgz":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_archive_is_written_and_its_sha256_returned(base_url: str, tmp_path: Path) -> None:
    dest = tmp_path / "source.tgz"
    digest = HttpSourceFetcher().fetch(f"{base_url}/source.tgz", dest, 1024 * 1024 * 1024)
    assert dest.read_bytes() == BODY
    assert digest == hashlib.sha256(BODY).hexdigest()


def test_a_non_200_answer_is_one_sentence(base_url: str, tmp_path: Path) -> None:
    url = f"{base_url}/missing.tgz"
    with pytest.raises(SourceError) as raised:
        HttpSourceFetcher().fetch(url, tmp_path / "source.tgz", 1024 * 1024 * 1024)
    assert raised.value.message == f"Could not download the source from {url}: HTTP 404."


def test_an_archive_over_the_bound_is_refused(base_url: str, tmp_path: Path) -> None:
    # The same sentence the platform's 1 GB bound gives, at a bound the test can pass.
    with pytest.raises(SourceError) as raised:
        HttpSourceFetcher().fetch(f"{base_url}/source.tgz", tmp_path / "source.tgz", 1024)
    assert raised.value.message == "The source archive is over 1 KB; make it smaller."
