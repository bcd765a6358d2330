"""The official heroku CLI's domains and maintenance commands."""

from __future__ import annotations

import pytest

from tests.compat.conftest import HerokuRun
from tests.conftest import unique_name

pytestmark = pytest.mark.heroku_cli


def test_domains_and_maintenance(heroku: HerokuRun) -> None:
    name = unique_name("hkd")
    assert heroku("apps:create", name, "--no-remote").returncode == 0
    host = f"www.{name}.example.com"
    added = heroku("domains:add", host, "-a", name)
    assert added.returncode == 0, added.stderr
    listed = heroku("domains", "-a", name)
    assert listed.returncode == 0, listed.stderr
    assert f"{name}.localhost" in listed.stdout
    assert host in listed.stdout
    removed = heroku("domains:remove", host, "-a", name)
    assert removed.returncode == 0, removed.stderr
    assert host not in heroku("domains", "-a", name).stdout
    assert heroku("maintenance:on", "-a", name).returncode == 0
    assert heroku("maintenance", "-a", name).stdout.strip() == "on"
    assert heroku("maintenance:off", "-a", name).returncode == 0
    assert heroku("maintenance", "-a", name).stdout.strip() == "off"
    heroku("apps:destroy", "-a", name, "--confirm", name)
