from __future__ import annotations

import stat
from pathlib import Path

from slipway.cli import netrc


def test_write_replaces_only_our_machine_and_keeps_others(tmp_path: Path) -> None:
    path = tmp_path / ".netrc"
    path.write_text(
        "machine api.heroku.com\n  login me@x.com\n  password aaa\n"
        "machine 127.0.0.1:5000 login old@x password old\n"
        "machine git.heroku.com login me@x.com password aaa\n"
    )
    netrc.write_entry("127.0.0.1:5000", "admin@x", "HRKU-new", path)
    assert netrc.read_password("127.0.0.1:5000", path) == "HRKU-new"
    assert netrc.read_password("api.heroku.com", path) == "aaa"
    assert netrc.read_password("git.heroku.com", path) == "aaa"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().count("127.0.0.1:5000") == 1


def test_remove_entry(tmp_path: Path) -> None:
    path = tmp_path / ".netrc"
    netrc.write_entry("127.0.0.1:5000", "a@x", "k1", path)
    netrc.write_entry("localhost:6000", "b@x", "k2", path)
    assert netrc.remove_entry("127.0.0.1:5000", path)
    assert netrc.read_password("127.0.0.1:5000", path) is None
    assert netrc.read_password("localhost:6000", path) == "k2"
    assert not netrc.remove_entry("127.0.0.1:5000", path)


def test_missing_or_broken_file_reads_as_no_key(tmp_path: Path) -> None:
    assert netrc.read_password("x", tmp_path / "none") is None
    broken = tmp_path / "broken"
    broken.write_text("machine\n")
    assert netrc.read_password("x", broken) is None
