"""A DynoManager on a scripted clock and fake processes (see `fakes.py`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.runtime.fakes import Harness, running_manager


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    with running_manager(tmp_path) as harness:
        yield harness
