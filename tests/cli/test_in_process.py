"""Fast `slipway` command tests, in process against the real API application.

The same commands run as a subprocess against a real server in
`test_slipway_cli.py`; these cover the wording, exit codes and JSON of the
API-only commands without a process or a socket per call.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.harness import InProcessCli, in_process_cli
from tests.conftest import unique_name


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[InProcessCli]:
    yield from in_process_cli(tmp_path)


def test_whoami_and_no_key(cli: InProcessCli) -> None:
    assert cli("auth:whoami").stdout.strip() == cli.admin_email
    refused = cli("auth:whoami", key="")
    assert refused.exit_code == 100
    assert "not logged in" in refused.stderr
    bad = cli("apps", key="HRKU-not-a-key")
    assert bad.exit_code == 100
    assert "not accepted" in bad.stderr


def test_apps_create_info_rename_destroy(cli: InProcessCli) -> None:
    name = unique_name("ip")
    created = cli("apps:create", name)
    assert created.exit_code == 0, created.stderr
    assert f"http://{name}.localhost:8080/" in created.stdout
    assert [a["name"] for a in cli("apps", "--json").json] == [name]
    assert cli("apps:info", "-a", name, "--json").json["app"]["owner"]["email"] == cli.admin_email
    new = unique_name("ip")
    assert cli("apps:rename", new, "-a", name).exit_code == 0
    gone = cli("apps:info", "-a", name)
    assert gone.exit_code == 1
    assert "Couldn't find that app." in gone.stderr
    assert cli("destroy", "-a", new, "--confirm", new).exit_code == 0
    assert cli("apps", "--json").json == []


def test_config_values_round_trip(cli: InProcessCli) -> None:
    name = unique_name("ip")
    cli("apps:create", name)
    values = ["A=1", "MULTI=line one\nline two", "UNICODE=h\u00e9llo \u2603", "EQ=a=b=c"]
    result = cli("config:set", *values, "-a", name)
    assert result.exit_code == 0, result.stderr
    assert "done, v2" in result.stderr
    assert cli("config", "-a", name, "--json").json == {
        "A": "1",
        "MULTI": "line one\nline two",
        "UNICODE": "h\u00e9llo \u2603",
        "EQ": "a=b=c",
    }
    assert cli("config:get", "UNICODE", "-a", name).stdout == "h\u00e9llo \u2603\n"
    assert "done, v3" in cli("config:unset", "A", "EQ", "-a", name).stderr
    assert sorted(cli("config", "-a", name, "--json").json) == ["MULTI", "UNICODE"]


def test_releases_and_rollback(cli: InProcessCli) -> None:
    name = unique_name("ip")
    cli("apps:create", name)
    cli("config:set", "A=1", "-a", name)
    cli("config:set", "A=2", "-a", name)
    listed = cli("releases", "-a", name, "--json").json
    assert [r["version"] for r in listed] == [3, 2, 1]
    assert [r["description"] for r in listed][:2] == ["Set A config vars"] * 2
    rollback = cli("releases:rollback", "v2", "-a", name)
    assert "to v2... done, v4" in rollback.stderr
    assert cli("config:get", "A", "-a", name).stdout == "1\n"
    info = cli("releases:info", "-a", name, "--json").json
    assert (info["version"], info["description"]) == (4, "Rollback to v2")
    missing = cli("releases:rollback", "v99", "-a", name)
    assert missing.exit_code == 1
    assert "Couldn't find that release" in missing.stderr


def test_domains_and_maintenance(cli: InProcessCli) -> None:
    name = unique_name("ip")
    cli("apps:create", name)
    added = cli("domains:add", "www.example.org", "-a", name)
    assert added.exit_code == 0, added.stderr
    listed = cli("domains", "-a", name)
    assert "www.example.org" in listed.stdout
    assert f"{name}.localhost" in listed.stdout
    assert {d["hostname"] for d in cli("domains", "-a", name, "--json").json} == {
        f"{name}.localhost",
        "www.example.org",
    }
    taken = cli("domains:add", "www.example.org", "-a", name)
    assert taken.exit_code == 1
    assert "Traceback" not in taken.stderr
    assert cli("domains:remove", "www.example.org", "-a", name).exit_code == 0
    assert cli("maintenance", "-a", name).stdout.strip() == "off"
    assert cli("maintenance:on", "-a", name).exit_code == 0
    assert cli("maintenance", "-a", name).stdout.strip() == "on"
    assert cli("maintenance:off", "-a", name).exit_code == 0


def test_errors_are_one_sentence_with_exit_code_1(cli: InProcessCli) -> None:
    name = unique_name("ip")
    cli("apps:create", name)
    cases = [
        (("config:set", "NOEQUALS", "-a", name), "KEY=value"),
        (("config:set", "BAD-NAME=1", "-a", name), "invalid"),
        (("apps:create", "Bad_Name"), "is invalid"),
        (("apps:create", name), "already taken"),
        (("ps:scale", "web=two", "-a", name), "is invalid"),
        (("apps:info", "-a", "no-such-app-x"), "Couldn't find that app."),
    ]
    for args, needle in cases:
        result = cli(*args)
        assert result.exit_code == 1, args
        assert needle in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert re.search(r"Error: ", cli("config", "-a", "no-such-app-x").stderr)
