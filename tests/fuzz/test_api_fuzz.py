"""A short schemathesis run against the served OpenAPI schema of a real server: no 5xx,
and every error shaped {"id", "message"}. The long run (thousands of requests per
operation) is `bench/fuzz.py`; this one is what CI can afford on every push."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from bench.fuzz import fuzz

from tests.support import ServerProcess


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[ServerProcess]:
    root = Path(tempfile.mkdtemp(prefix="slipway-fuzz-"))
    server = ServerProcess(root / "data", extra_args=("--rate-limit", "1000000", "--no-router"))
    yield server.start()
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.fuzz
def test_generated_requests_get_no_5xx_and_heroku_shaped_errors(
    fuzz_server: ServerProcess, tmp_path: Path
) -> None:
    report = fuzz(fuzz_server.url, fuzz_server.api_key, tmp_path, max_examples=1, max_time=25)
    print(f"\n{report.summary()}")
    assert report.requests > 500, report.output[-3000:]
    assert report.statuses[201] > 0, "the fuzzer created things, not only errors"
    assert not report.server_errors, report.server_errors[:10]
    assert not report.badly_shaped, report.badly_shaped[:10]
