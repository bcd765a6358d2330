"""The `slipway` people commands, in process against the real API application: signing
in with a password, logout revoking its token, tokens, access, teams, transfers,
accounts and the audit trail."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.harness import InProcessCli, in_process_cli
from tests.conftest import unique_name

PASSWORD = "a long enough password"


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[InProcessCli]:
    yield from in_process_cli(tmp_path)


def test_login_with_a_password_and_logout_revokes_the_token(cli: InProcessCli) -> None:
    made = cli("accounts:create", "dev@example.com", "--password", input=PASSWORD + "\n")
    assert made.exit_code == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    wrong = cli("login", "--email", "dev@example.com", key="", input="nope\n")
    assert wrong.exit_code == 1
    assert "problems with your login credentials" in wrong.stderr
    signed = cli("login", "--email", "DEV@example.com", key="", input=PASSWORD + "\n")
    assert signed.exit_code == 0, signed.stderr
    assert "Logged in as dev@example.com" in signed.stdout
    assert cli("auth:whoami", key="").stdout.strip() == "dev@example.com"
    token = cli("auth:token", key="").stdout.strip()
    assert token.startswith("HRKU-")
    assert token != key
    out = cli("logout", key="")
    assert "the token was revoked" in out.stdout
    assert cli("auth:whoami", key=token).exit_code == 100
    # The account's API key is not a login's: logout with it leaves it working.
    assert cli("login", key="", input=key + "\n").exit_code == 0
    assert "revoked" not in cli("logout", key="").stdout
    assert cli("auth:whoami", key=key).stdout.strip() == "dev@example.com"


def test_tokens_access_teams_and_audit(cli: InProcessCli) -> None:
    key = cli("accounts:create", "bob@example.com").stdout.strip().splitlines()[-1]
    short = cli("authorizations:create", "-d", "CI", "-s", "read", "-e", "600", "--short")
    assert short.exit_code == 0, short.stderr
    ci = short.stdout.strip()
    listed = cli("authorizations", "--json").json
    ci_id = next(a["id"] for a in listed if a["description"] == "CI")
    shown = cli("authorizations:info", ci_id).stdout
    assert "**********" in shown
    assert ci not in shown
    assert "read" in shown
    assert cli("authorizations:revoke", ci_id).exit_code == 0
    assert cli("apps", key=ci).exit_code == 100

    app = unique_name("pc")
    cli("apps:create", app, "--no-remote")
    assert cli("access:add", "bob@example.com", "-a", app).exit_code == 0
    listing = cli("access", "-a", app).stdout
    assert "bob@example.com" in listing
    assert "collaborator" in listing
    assert cli("config:set", "BY=bob", "-a", app, key=key).exit_code == 0
    refused = cli("apps:destroy", "-a", app, "--confirm", app, key=key)
    assert refused.exit_code == 1
    assert "Only the owner" in refused.stderr

    team = unique_name("tm")
    assert cli("teams:create", team).exit_code == 0
    assert cli("members:add", "bob@example.com", "-t", team, "-r", "viewer").exit_code == 0
    assert "viewer" in cli("members", "-t", team).stdout
    last = cli("members:set", cli.admin_email, "-t", team, "-r", "member")
    assert last.exit_code == 1
    assert "no admin left" in last.stderr
    assert team in cli("teams", key=key).stdout

    asked = cli("apps:transfer", "bob@example.com", "-a", app)
    assert asked.exit_code == 0, asked.stderr
    assert app in cli("transfers", key=key).stdout
    assert "is yours now" in cli("transfers:accept", app, key=key).stdout
    assert cli("apps:info", "-a", app, "--json", key=key).json["app"]["owner"]["email"] == (
        "bob@example.com"
    )
    trail = cli("audit", "-a", app, key=key).stdout
    assert "transfer-accepted" in trail
    assert "access-add" in trail
    assert cli("audit", "--sign-ins", key=key).exit_code == 1  # admins only

    invite = cli("accounts:invite", "new@example.com")
    assert invite.exit_code == 0, invite.stderr
    assert "/invitations/" in invite.stdout
    assert cli("accounts:disable", "bob@example.com").exit_code == 0
    assert cli("auth:whoami", key=key).exit_code == 100
    assert "disabled" in cli("accounts").stdout
