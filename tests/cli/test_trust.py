"""`slipway trust` puts the platform's local CA into the system trust store (curl and git
then trust the server with no option or variable) and into browsers' NSS databases, and
`--uninstall` takes it out; `slipway git:remote` says when GIT_SSL_CAINFO would make git
ignore the remote's CA."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import unique_name
from tests.support import ServerProcess, slipway_bin


def test_trust_and_uninstall(sqlite_server: ServerProcess, tmp_home: Path) -> None:
    if os.geteuid() != 0 or shutil.which("certutil") is None:
        pytest.skip("needs root and certutil (libnss3-tools), which ./scripts/test installs")
    env = {**os.environ, "HOME": str(tmp_home), "SLIPWAY_API_URL": sqlite_server.url}
    env.pop("GIT_SSL_CAINFO", None)
    nssdb = tmp_home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{nssdb}", "--empty-password"], check=True)
    git_url = f"https://127.0.0.1:{sqlite_server.git_port}/"

    def curl() -> int:
        return subprocess.run(
            ["curl", "-sS", "-o", "/dev/null", git_url], capture_output=True, timeout=30, env=env
        ).returncode

    def listed() -> str:
        return subprocess.run(
            ["certutil", "-L", "-d", f"sql:{nssdb}"], capture_output=True, text=True, check=True
        ).stdout

    assert curl() == 60  # the local CA is not trusted yet
    try:
        added = subprocess.run([slipway_bin(), "trust"], env=env, capture_output=True, text=True)
        assert added.returncode == 0, added.stderr
        assert "Added the platform's CA to the system trust store." in added.stdout
        assert curl() == 0
        assert f"Slipway CA (127.0.0.1 port {sqlite_server.port})" in listed()
    finally:
        removed = subprocess.run(
            [slipway_bin(), "trust", "--uninstall"], env=env, capture_output=True, text=True
        )
    assert removed.returncode == 0, removed.stderr
    assert curl() == 60
    assert "Slipway CA" not in listed()


def test_git_remote_says_when_git_ssl_cainfo_overrides_the_remotes_ca(
    sqlite_server: ServerProcess, tmp_home: Path, tmp_path: Path
) -> None:
    other_ca = tmp_path / "bundle.pem"
    other_ca.write_text("")
    env = {
        **os.environ,
        "HOME": str(tmp_home),
        "SLIPWAY_API_URL": sqlite_server.url,
        "SLIPWAY_API_KEY": sqlite_server.api_key,
        "GIT_SSL_CAINFO": str(other_ca),
    }
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    name = unique_name("gsc")
    made = subprocess.run(
        [slipway_bin(), "apps:create", name], cwd=repo, env=env, capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr
    expected = f"GIT_SSL_CAINFO={other_ca} overrides this remote's CA"
    assert expected in made.stderr
    assert "unset GIT_SSL_CAINFO" in made.stderr
    env.pop("GIT_SSL_CAINFO")
    again = subprocess.run(
        [slipway_bin(), "git:remote", "-a", name], cwd=repo, env=env, capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr
    assert "GIT_SSL_CAINFO" not in again.stderr
