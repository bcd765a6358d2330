"""The official CLI and git from another machine, against the platform on a real domain.

The "laptop" is a network namespace whose only route is the veth to the test host; its
/etc/hosts names the test domain's hosts, it has no resolver. There a user logs in with
`slipway login --api-url https://api.DOMAIN`, takes `slipway heroku-env`, creates an app
with the official CLI, pushes with git, reaches the app over HTTPS with a certificate
Pebble issued through the router's own HTTP-01 answer, tails its logs and runs a shell.
Every program runs under `strace -e trace=connect`: the test fails if any of them tried
to connect anywhere but the test host (a Heroku host, a resolver, the npm registry).
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from tests.certs import testhost
from tests.certs.conftest import DOMAIN
from tests.certs.pebble import Pebble
from tests.certs.tls_client import eventually, served_fingerprint
from tests.compat.terminal import Terminal
from tests.conftest import unique_name
from tests.support import ServerProcess, read_until, slipway_bin

pytestmark = pytest.mark.heroku_cli


class Laptop:
    """Programs run on the other host, each traced."""

    def __init__(self, host: testhost.TestHost, root: Path, env: dict[str, str]) -> None:
        self.host = host
        self.root = root
        self.env = env
        self.traces: list[Path] = []

    def trace(self) -> Path:
        path = self.root / f"trace-{len(self.traces)}.log"
        self.traces.append(path)
        return path

    def argv(self, *argv: str) -> list[str]:
        return self.host.argv(list(argv), self.trace())

    def run(
        self, *argv: str, cwd: Path | None = None, input: str | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*argv),
            env=self.env,
            cwd=cwd or self.root,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def ok(self, *argv: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        result = self.run(*argv, **kwargs)  # type: ignore[arg-type]
        assert result.returncode == 0, (
            f"{argv}: {result.returncode}\n{result.stdout}\n{result.stderr}"
        )
        return result

    def connections(self) -> list[tuple[str, int]]:
        return [c for trace in self.traces for c in testhost.connects(trace)]


def test_the_official_cli_and_git_from_another_machine(
    test_host: testhost.TestHost | None,
    domain_server: ServerProcess,
    pebble: Pebble,
    heroku_bin: Path,
    tmp_path: Path,
) -> None:
    if test_host is None:
        pytest.skip(f"no second host here: {testhost.available()}")
    https = domain_server.router_tls_port
    api_url = f"https://api.{DOMAIN}:{https}"
    app = unique_name("far")
    test_host.add_hosts(f"api.{DOMAIN}", f"git.{DOMAIN}", f"dashboard.{DOMAIN}", f"{app}.{DOMAIN}")
    # The laptop trusts Pebble's root as it would Let's Encrypt's (its system trust store).
    pebble_roots = pebble.roots()
    roots = tmp_path / "roots.pem"
    roots.write_text(pebble_roots)
    home = tmp_path / "home"
    home.mkdir()
    laptop = Laptop(
        test_host,
        tmp_path,
        {
            "PATH": f"{heroku_bin.parent}:{Path(slipway_bin()).parent}:{os.environ['PATH']}",
            "HOME": str(home),
            "SSL_CERT_FILE": str(roots),
            "NODE_EXTRA_CA_CERTS": str(roots),
            "GIT_SSL_CAINFO": str(roots),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_AUTHOR_NAME": "Dev",
            "GIT_AUTHOR_EMAIL": "dev@example.com",
            "GIT_COMMITTER_NAME": "Dev",
            "GIT_COMMITTER_EMAIL": "dev@example.com",
            "NO_COLOR": "1",
            "COLUMNS": "200",
        },
    )

    # The platform's hosts get their certificates when the server first starts.
    def certified(name: str) -> str:
        return served_fingerprint(https, name, pebble_roots, testhost.SERVER_ADDRESS)

    for name in (f"api.{DOMAIN}", f"git.{DOMAIN}"):
        eventually(functools.partial(certified, name), 60, f"{name}'s certificate")
    logged = laptop.ok("slipway", "login", "--api-url", api_url, input=domain_server.api_key + "\n")
    assert f"Commands now go to {api_url}" in logged.stdout
    exports = laptop.ok("slipway", "heroku-env").stdout
    for line in exports.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        laptop.env[key] = subprocess.run(
            ["sh", "-c", f"printf %s {value}"], capture_output=True, text=True, check=True
        ).stdout
    assert laptop.env["HEROKU_HOST"] == f"{api_url}/localhost"
    assert laptop.env["HEROKU_GIT_HOST"] == f"git.{DOMAIN}:{https}"

    repo = tmp_path / "site"
    repo.mkdir()
    (repo / "requirements.txt").write_text("")
    (repo / "Procfile").write_text("web: python3 -m http.server $PORT\n")
    (repo / "index.html").write_text("<h1>far away</h1>\n")
    for args in (("init", "-q", "-b", "main"), ("add", "-A"), ("commit", "-qm", "initial")):
        subprocess.run(["git", *args], cwd=repo, env=laptop.env, check=True, capture_output=True)

    assert laptop.ok("heroku", "auth:whoami").stdout.strip() == "admin@slipway.localhost"
    created = laptop.ok("heroku", "apps:create", app, cwd=repo)
    assert f"https://git.{DOMAIN}:{https}/{app}.git" in created.stdout + created.stderr
    # The wrapper: the same environment, kept out of the shell (a clean one here).
    bare = {k: v for k, v in laptop.env.items() if not k.startswith(("HEROKU_", "DISABLE_"))}
    listed = subprocess.run(
        laptop.argv("slipway", "heroku", "apps"),
        env=bare,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert app in listed.stdout
    pushed = laptop.run("git", "push", "heroku", "main", cwd=repo, timeout=600)
    assert pushed.returncode == 0, pushed.stderr
    assert f"https://{app}.{DOMAIN}:{https}/ deployed to Slipway" in pushed.stderr

    def page() -> str:
        got = laptop.run("curl", "-sS", "--cacert", str(roots), f"https://{app}.{DOMAIN}:{https}/")
        return got.stdout if "far away" in got.stdout else ""

    eventually(page, 60, "the app over HTTPS with Pebble's certificate")
    issuer = laptop.ok(
        "sh",
        "-c",
        f"curl -sS -o /dev/null -w '%{{certs}}' --cacert {roots} https://{app}.{DOMAIN}:{https}/"
        " | grep -i -m1 issuer",
    )
    assert "Pebble" in issuer.stdout

    tail = subprocess.Popen(
        laptop.argv("heroku", "logs", "--tail", "-a", app),
        env=laptop.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert tail.stdout is not None
        page()
        seen = read_until(tail.stdout, "heroku[router]", 30)
        assert "heroku[router]" in seen, seen
    finally:
        os.killpg(tail.pid, signal.SIGTERM)
        tail.wait(10)

    term = Terminal(
        laptop.argv("heroku", "run", "bash", "-a", app), {**laptop.env, "TERM": "xterm"}
    )
    term.expect("$ ", timeout=60)
    term.send("echo on-$DYNO-$((6*7))\r")
    assert "on-run." in term.expect("-42")
    term.send("exit 4\r")
    assert term.wait() == 4

    connected = laptop.connections()
    assert connected, "strace recorded no connection at all"
    elsewhere = sorted({c for c in connected if c[0] != testhost.SERVER_ADDRESS})
    assert not elsewhere, f"connections to other hosts: {elsewhere}"
    ports = {port for _, port in connected}
    assert {https, domain_server.rendezvous_port} <= ports
    shutil.rmtree(repo, ignore_errors=True)
