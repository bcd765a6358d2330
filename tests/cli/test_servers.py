"""`slipway login --api-url` remembers the server: later commands go there without
$SLIPWAY_API_URL, several servers are kept, `--api-url` picks one per command."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support import ServerProcess, slipway_bin


def run(home: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLIPWAY_", "NETRC"))}
    env["HOME"] = str(home)
    env.pop("XDG_CONFIG_HOME", None)
    return subprocess.run(
        [slipway_bin(), *args], env=env, input=input, capture_output=True, text=True, timeout=60
    )


def test_login_remembers_servers_and_the_default(
    sqlite_server: ServerProcess, tmp_home: Path
) -> None:
    first = sqlite_server.url  # http://127.0.0.1:PORT
    second = f"http://localhost:{sqlite_server.port}"  # the same server under another name
    # Before any login, the next command has nowhere to go but the local default.
    assert run(tmp_home, "auth:whoami").returncode != 0
    logged = run(tmp_home, "login", "--api-url", first, input=sqlite_server.api_key + "\n")
    assert logged.returncode == 0, logged.stderr
    assert f"Commands now go to {first}" in logged.stdout
    # Without --api-url or $SLIPWAY_API_URL, the next command goes to that server.
    whoami = run(tmp_home, "auth:whoami")
    assert whoami.returncode == 0, whoami.stderr
    assert whoami.stdout.strip() == "admin@slipway.localhost"
    # A second server, kept without changing the default.
    other = run(
        tmp_home, "login", "--api-url", second, "--no-default", input=sqlite_server.api_key + "\n"
    )
    assert other.returncode == 0, other.stderr
    listed = run(tmp_home, "servers").stdout.splitlines()
    assert listed == [f"* {first}", f"  {second}"]
    assert run(tmp_home, "--api-url", second, "auth:whoami").returncode == 0
    netrc = (tmp_home / ".netrc").read_text()
    assert f"127.0.0.1:{sqlite_server.port}" in netrc
    assert f"localhost:{sqlite_server.port}" in netrc
    # The server list holds no token.
    assert sqlite_server.api_key not in (tmp_home / ".config/slipway/servers.json").read_text()
    # Logging out of the default makes the other one the default.
    assert run(tmp_home, "logout").returncode == 0
    assert run(tmp_home, "servers").stdout.splitlines() == [f"* {second}"]
    assert run(tmp_home, "auth:whoami").returncode == 0
