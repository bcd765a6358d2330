"""The official heroku CLI's addons, addons:create, addons:info and addons:destroy."""

from __future__ import annotations

import re

import pytest

from tests.compat.conftest import HerokuRun
from tests.conftest import unique_name

pytestmark = pytest.mark.heroku_cli


def test_addons_create_list_and_destroy(heroku: HerokuRun) -> None:
    name = unique_name("hka")
    assert heroku("apps:create", name, "--no-remote").returncode == 0
    created = heroku("addons:create", "heroku-redis", "-a", name)
    assert created.returncode == 0, created.stderr
    match = re.search(r"Created (redis-[a-z]+-\d+) as REDIS_URL", created.stdout + created.stderr)
    assert match, created.stdout + created.stderr
    addon = match.group(1)
    listed = heroku("addons", "-a", name)
    assert listed.returncode == 0, listed.stderr
    assert addon in listed.stdout
    assert "heroku-redis:mini" in listed.stdout or "mini" in listed.stdout
    assert "created" in listed.stdout
    config = heroku("config:get", "REDIS_URL", "-a", name)
    assert config.stdout.startswith("redis://default:")
    info = heroku("addons:info", addon, "-a", name)
    assert info.returncode == 0, info.stderr
    assert f"{name}::REDIS" in info.stdout
    unknown = heroku("addons:create", "heroku-nosuchthing", "-a", name)
    assert unknown.returncode != 0
    assert "heroku-nosuchthing" in unknown.stderr
    destroyed = heroku("addons:destroy", addon, "-a", name, "--confirm", name)
    assert destroyed.returncode == 0, destroyed.stderr
    assert addon not in heroku("addons", "-a", name).stdout
    assert heroku("config:get", "REDIS_URL", "-a", name).stdout.strip() == ""
    heroku("apps:destroy", "-a", name, "--confirm", name)
