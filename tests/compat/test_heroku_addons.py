"""The official heroku CLI's addons, addons:create, addons:info and addons:destroy."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.compat.conftest import HerokuCli, HerokuRun
from tests.compat.text import flat
from tests.conftest import unique_name

pytestmark = pytest.mark.heroku_cli


def test_addons_create_list_and_destroy(heroku: HerokuRun) -> None:
    name = unique_name("hka")
    assert heroku("apps:create", name, "--no-remote").returncode == 0
    created = heroku("addons:create", "heroku-redis", "-a", name)
    assert created.returncode == 0, created.stderr
    match = re.search(r"Created (redis-[a-z]+-\d+) as REDIS_TLS_URL, REDIS_URL", created.stdout)
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


def test_attach_detach_rename_upgrade_open_and_wait(cli: HerokuCli) -> None:
    owner, other = unique_name("hko"), unique_name("hkt")
    for name in (owner, other):
        cli.ok("apps:create", name, "--no-remote")
    try:
        created = cli.ok("addons:create", "heroku-postgresql", "-a", owner)
        addon = re.findall(r"Created (postgresql-[a-z]+-\d+) as", created.stdout)[0]
        attached = cli.ok("addons:attach", addon, "-a", other)
        assert f"Attaching {addon} to {other}... done" in attached.stderr
        assert "Setting DATABASE config vars and restarting" in attached.stderr
        cli.ok("addons:attach", addon, "-a", other, "--as", "MAIN_DB")
        config = cli.ok("config", "-a", other, "--json").stdout
        assert '"MAIN_DB_URL": "postgres://' in config
        assert '"DATABASE_URL": "postgres://' in config
        detached = cli.ok("addons:detach", "MAIN_DB", "-a", other)
        assert "Unsetting MAIN_DB config vars and restarting" in detached.stderr
        assert "MAIN_DB_URL" not in cli.ok("config", "-a", other).stdout

        renamed = cli.ok("addons:rename", addon, "main-db")
        assert f"{addon} successfully renamed to main-db." in renamed.stdout
        up = cli.ok("addons:upgrade", "main-db", "standard-0", "-a", owner)
        assert "from heroku-postgresql:essential-0 to heroku-postgresql:standard-0... done" in (
            up.stderr
        )
        assert re.search(r"Plan:\s+Standard 0", cli.ok("pg:info", "-a", owner).stdout)
        down = cli.ok("addons:downgrade", "main-db", "heroku-postgresql:essential-1", "-a", owner)
        assert "to heroku-postgresql:essential-1... done" in down.stderr
        nope = cli("addons:upgrade", "main-db", "gigantic", "-a", owner)
        assert nope.returncode == 2
        assert "The heroku-postgresql service has no plan 'gigantic'; choose one of" in flat(
            nope.stderr
        )
        assert "Error ID: invalid_params" in nope.stderr
        assert "essential-1" in cli.ok("addons", "-a", owner).stdout

        # addons:open: the add-on's page, a signed link the operator opens in a browser.
        page = cli.ok("addons:open", "main-db", "--show-url", "-a", owner).stdout.strip()
        shown = httpx.get(page, timeout=30)
        assert shown.status_code == 200
        assert "main-db (heroku-postgresql:essential-1)" in shown.text
        assert httpx.get(page[:-4] + "0000", timeout=30).status_code == 404
        assert cli.ok("addons:wait", "main-db", "-a", owner).returncode == 0

        # Options after `--`: a value is a string, a bare flag is true.
        redis = cli.ok("addons:create", "heroku-redis", "-a", owner, "--", "--tls")
        assert "as REDIS_TLS_URL, REDIS_URL" in redis.stdout
        assert cli.ok("config:get", "REDIS_URL", "-a", owner).stdout.startswith("rediss://")
        cache = cli.ok(
            "addons:create",
            "heroku-redis",
            "--as",
            "CACHE",
            "-a",
            owner,
            "--",
            "--maxmemory_policy",
            "allkeys-lru",
        )
        assert "as CACHE_TLS_URL, CACHE_URL" in cache.stdout
        flag = cli("addons:create", "heroku-redis", "-a", owner, "--", "--followers")
        assert flag.returncode == 2
        assert "does not take --followers" in flag.stderr

        for args in (
            ("addons:detach", "NOSUCH", "-a", other),
            ("addons:attach", "nosuch-addon", "-a", other),
            ("addons:rename", "nosuch-addon", "x-y"),
        ):
            missing = cli(*args)
            assert missing.returncode == 2, args
            assert "Error ID: not_found" in missing.stderr
    finally:
        for name in (other, owner):
            cli("apps:destroy", "-a", name, "--confirm", name)
