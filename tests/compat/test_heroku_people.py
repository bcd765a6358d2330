"""Two people share an app with the official heroku CLI, end to end.

The admin (the first person) invites the second; she accepts the link, signs in with
`heroku login -i` on a terminal, is added with `access:add`, pushes a release and
tails its logs, and cannot see or touch a third person's app. A CI token made with
`authorizations:create` deploys, and stops working the moment it is revoked: its
open log tail ends and git refuses it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import unique_name
from tests.deploy.conftest import APPS, BUILDPACKS
from tests.support import ServerProcess, read_until, run_in_pty, slipway_bin

pytestmark = pytest.mark.heroku_cli

PASSWORD = "correct horse battery"


class Person:
    """One person's machine: their HOME (netrc, git), and the heroku CLI pointed at us."""

    def __init__(self, heroku_bin: Path, server: ServerProcess, home: Path) -> None:
        self.heroku_bin = heroku_bin
        self.server = server
        self.home = home
        home.mkdir(parents=True)
        self.env = {
            "PATH": f"{heroku_bin.parent}:{os.environ['PATH']}",
            "HOME": str(home),
            "HEROKU_HOST": server.url,
            "HEROKU_PARTICLEBOARD_URL": server.url,
            "HEROKU_LOGIN_HOST": server.url,
            "HEROKU_GIT_HOST": f"127.0.0.1:{server.git_port}",
            "DISABLE_TELEMETRY": "true",
            "HEROKU_SKIP_ANALYTICS": "1",
            "HEROKU_SKIP_NEW_VERSION_CHECK": "true",
            "HEROKU_DISABLE_AUTOUPDATE": "true",
            "NO_COLOR": "1",
            "COLUMNS": "200",
            "NODE_EXTRA_CA_CERTS": str(server.data_dir / "tls" / "ca.crt"),
            "GIT_SSL_CAINFO": str(server.data_dir / "tls" / "ca.crt"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_AUTHOR_NAME": "Dev",
            "GIT_AUTHOR_EMAIL": "dev@example.com",
            "GIT_COMMITTER_NAME": "Dev",
            "GIT_COMMITTER_EMAIL": "dev@example.com",
        }

    def heroku(
        self, *args: str, token: str | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = dict(self.env, **({"HEROKU_API_KEY": token} if token else {}))
        return subprocess.run(
            [str(self.heroku_bin), *args],
            env=env,
            cwd=cwd or self.home,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def tail(self, app: str, token: str | None = None) -> subprocess.Popen[str]:
        env = dict(self.env, **({"HEROKU_API_KEY": token} if token else {}))
        return subprocess.Popen(
            [str(self.heroku_bin), "logs", "--tail", "-a", app],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def git(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", *args], env=self.env, cwd=cwd, capture_output=True, text=True, timeout=300
        )


def commit(person: Person, repo: Path, text: str) -> None:
    (repo / "index.html").write_text(f"<h1>{text}</h1>\n")
    person.git("add", "-A", cwd=repo)
    person.git("commit", "-qm", text, cwd=repo)


def test_two_people_share_an_app_and_a_ci_token_stops_when_revoked(
    heroku_bin: Path, sqlite_server: ServerProcess, tmp_path: Path
) -> None:
    admin = Person(heroku_bin, sqlite_server, tmp_path / "admin")
    admin_key = sqlite_server.api_key
    second = f"{unique_name('dana')}@example.com"
    third = f"{unique_name('carl')}@example.com"
    app, third_app = unique_name("shared"), unique_name("carls")

    # The admin makes the app and invites the second person with `slipway accounts:invite`.
    assert admin.heroku("apps:create", app, "--no-remote", token=admin_key).returncode == 0
    static = f"file://{BUILDPACKS / 'static'}"
    assert admin.heroku("buildpacks:set", static, "-a", app, token=admin_key).returncode == 0
    slipway_env = {**admin.env, "SLIPWAY_API_URL": sqlite_server.url, "SLIPWAY_API_KEY": admin_key}
    invited = subprocess.run(
        [slipway_bin(), "accounts:invite", second],
        env=slipway_env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    link = re.search(r"http://\S+/invitations/\S+", invited)
    assert link, invited
    # She opens the link and chooses her password (the page's form, as a browser posts it).
    page = httpx.get(link[0])
    assert "Choose a password" in page.text
    assert httpx.post(link[0], data={"name": "Dana", "password": PASSWORD}).status_code == 200

    # A third person, with an app of his own.
    made = subprocess.run(
        [slipway_bin(), "accounts:create", third],
        env=slipway_env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    third_key = made.strip().splitlines()[-1]
    assert third_key.startswith("HRKU-")
    assert admin.heroku("apps:create", third_app, "--no-remote", token=third_key).returncode == 0

    # She signs in as people do, on a terminal: `heroku login -i`.
    dana = Person(heroku_bin, sqlite_server, tmp_path / "dana")
    code, screen = run_in_pty(
        [str(heroku_bin), "login", "-i"],
        dana.env,
        dana.home,
        [("Email", second + "\r"), ("Password", PASSWORD + "\r")],
    )
    assert code == 0, screen
    assert f"Logged in as {second}" in screen
    netrc = (dana.home / ".netrc").read_text()
    assert f"machine 127.0.0.1:{sqlite_server.port}" in netrc
    assert dana.heroku("auth:whoami").stdout.strip() == second

    # Before she is added, the app is someone else's.
    refused = dana.heroku("apps:info", "-a", app)
    assert refused.returncode != 0
    assert f"You do not have access to the app {app}." in refused.stderr
    added = admin.heroku("access:add", second, "-a", app, token=admin_key)
    assert added.returncode == 0, added.stderr
    access = dana.heroku("access", "-a", app).stdout
    assert re.search(rf"{re.escape(second)}\s+collaborator", access), access
    assert app in dana.heroku("apps").stdout

    # She tails the logs, and pushes a release.
    repo = tmp_path / "site"
    shutil.copytree(APPS / "static", repo)
    dana.git("init", "-q", "-b", "main", cwd=repo)
    commit(dana, repo, "first")
    assert dana.heroku("git:remote", "-a", app, cwd=None).returncode == 0 or True
    dana.git(
        "remote", "add", "heroku", f"https://127.0.0.1:{sqlite_server.git_port}/{app}.git", cwd=repo
    )
    tail = dana.tail(app)
    try:
        time.sleep(3)
        pushed = dana.git("push", "heroku", "main", cwd=repo)
        assert pushed.returncode == 0, pushed.stderr
        assert "Released v" in pushed.stderr
        assert tail.stdout is not None
        seen = read_until(tail.stdout, f"created by user {second}", 30)
        assert re.search(rf"app\[api\]: Release v\d+ created by user {re.escape(second)}", seen), (
            seen
        )
    finally:
        tail.kill()
        tail.wait()
    releases = dana.heroku("releases", "-a", app).stdout
    assert second in releases

    # The third person's app stays out of her reach.
    assert third_app not in dana.heroku("apps").stdout
    for args in (("apps:info", "-a", third_app), ("config:set", "X=1", "-a", third_app)):
        result = dana.heroku(*args)
        assert result.returncode != 0, args
        assert f"You do not have access to the app {third_app}." in result.stderr, result.stderr
    stranger_push = dana.git(
        "push", f"https://127.0.0.1:{sqlite_server.git_port}/{third_app}.git", "main", cwd=repo
    )
    assert stranger_push.returncode != 0
    assert "do not have access" in stranger_push.stderr

    # A CI token: it deploys, and it is refused the moment it is revoked.
    created = dana.heroku("authorizations:create", "--description", "CI", "--short")
    assert created.returncode == 0, created.stderr
    ci = created.stdout.strip()
    listed = json.loads(dana.heroku("authorizations", "--json").stdout)
    ci_id = next(a["id"] for a in listed if a["description"] == "CI")
    ci_remote = f"https://ci:{ci}@127.0.0.1:{sqlite_server.git_port}/{app}.git"
    commit(dana, repo, "by ci")
    ci_push = dana.git("push", ci_remote, "main", cwd=repo)
    assert ci_push.returncode == 0, ci_push.stderr
    assert "Released v" in ci_push.stderr
    ci_tail = dana.tail(app, token=ci)
    try:
        time.sleep(3)
        assert ci_tail.poll() is None
        revoked = dana.heroku("authorizations:revoke", ci_id)
        assert revoked.returncode == 0, revoked.stderr
        assert "revoked authorization from CI" in revoked.stderr
        assert ci_tail.stdout is not None
        ended = read_until(ci_tail.stdout, "token was revoked", 10)
        assert "token was revoked" in ended, ended
        ci_tail.wait(timeout=15)
    finally:
        if ci_tail.poll() is None:
            ci_tail.kill()
        ci_tail.wait()
    commit(dana, repo, "after revoke")
    refused_push = dana.git("push", ci_remote, "main", cwd=repo)
    assert refused_push.returncode != 0
    assert "Invalid credentials" in refused_push.stderr or "401" in refused_push.stderr
    with_ci = dana.heroku("apps:info", "-a", app, token=ci)
    assert with_ci.returncode != 0
    # The CLI's own words for a 401 on HEROKU_API_KEY.
    assert "The token provided to HEROKU_API_KEY is invalid" in with_ci.stderr

    # `heroku logout` revokes her login token too, not just the netrc entry.
    token = re.search(r"password (\S+)", netrc)
    assert token
    assert dana.heroku("logout").returncode == 0
    with sqlite_server.client(token[1]) as gone:
        assert gone.get("/account").status_code == 401


def test_browser_login_through_the_login_host(
    heroku_bin: Path, sqlite_server: ServerProcess, tmp_path: Path
) -> None:
    """`heroku login`: the CLI opens our page (BROWSER=echo prints the URL), the person
    signs in there, and the waiting CLI receives its token."""
    with sqlite_server.client() as api:
        who = api.post(
            "/accounts", json={"email": f"{unique_name('eve')}@example.com", "password": PASSWORD}
        ).json()["email"]
    eve = Person(heroku_bin, sqlite_server, tmp_path / "eve")
    env = dict(eve.env, BROWSER="echo")
    started: dict[str, str] = {}

    def sign_in_on_the_page(screen: str) -> None:
        url = re.search(rf"{re.escape(sqlite_server.url)}/auth/cli/browser/\S+", screen)
        assert url, screen
        started["url"] = url[0]
        answer = httpx.post(url[0], data={"email": who, "password": PASSWORD})
        assert answer.status_code == 200, answer.text

    code, screen = run_in_pty(
        [str(heroku_bin), "login"],
        env,
        eve.home,
        [("Press any key", "x")],
        timeout=60,
        on_output=("Waiting for login", sign_in_on_the_page),
    )
    assert code == 0, screen
    assert f"Logged in as {who}" in screen
    assert eve.heroku("auth:whoami").stdout.strip() == who


def test_teams_members_and_per_app_permissions_with_the_cli(
    heroku_bin: Path, sqlite_server: ServerProcess, tmp_path: Path
) -> None:
    key = sqlite_server.api_key
    admin = Person(heroku_bin, sqlite_server, tmp_path / "admin")
    team = unique_name("team")[:30]
    with sqlite_server.client() as api:
        assert api.post("/teams", json={"name": team}).status_code == 201
        member = api.post(
            "/accounts", json={"email": f"{unique_name('m')}@example.com", "password": PASSWORD}
        ).json()
    email = member["email"]
    assert team in admin.heroku("teams", token=key).stdout
    added = admin.heroku("members:add", email, "--role", "member", "-t", team, token=key)
    assert added.returncode == 0, added.stderr
    assert re.search(
        rf"{re.escape(email)}\s+member", admin.heroku("members", "-t", team, token=key).stdout
    )
    app = unique_name("tapp")
    created = admin.heroku("apps:create", app, "--team", team, "--no-remote", token=key)
    assert created.returncode == 0, created.stderr
    assert app in admin.heroku("apps", "-t", team, token=key).stdout
    granted = admin.heroku("access:add", email, "--permissions", "deploy", "-a", app, token=key)
    assert granted.returncode == 0, granted.stderr
    listing = admin.heroku("access", "-a", app, token=key).stdout
    assert re.search(rf"{re.escape(email)}\s+member\s+deploy, view", listing), listing
    updated = admin.heroku(
        "access:update", email, "--permissions", "deploy,operate", "-a", app, token=key
    )
    assert updated.returncode == 0, updated.stderr
    assert "deploy, operate, view" in admin.heroku("access", "-a", app, token=key).stdout
    demote = admin.heroku("members:set", email, "--role", "viewer", "-t", team, token=key)
    assert demote.returncode == 0, demote.stderr
    me = admin.heroku("auth:whoami", token=key).stdout.strip()
    last = admin.heroku("members:remove", me, "-t", team, token=key)
    assert last.returncode != 0
    assert "no admin left" in last.stderr
    removed = admin.heroku("members:remove", email, "-t", team, token=key)
    assert removed.returncode == 0, removed.stderr
    # A personal app moved into the team.
    personal = unique_name("pers")
    admin.heroku("apps:create", personal, "--no-remote", token=key)
    moved = admin.heroku("apps:transfer", team, "-a", personal, "--confirm", personal, token=key)
    assert moved.returncode == 0, moved.stderr
    assert personal in admin.heroku("apps", "-t", team, token=key).stdout
