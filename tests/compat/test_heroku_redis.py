"""The official `redis:*` commands: the data API's `/redis/v0`, and redis:cli, which speaks
RESP itself over TLS to the add-on's rediss:// URL (no redis-cli needed)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.compat.conftest import HerokuCli
from tests.compat.text import flat
from tests.conftest import unique_name

pytestmark = pytest.mark.heroku_cli


@pytest.fixture(scope="module")
def redis_app(cli: HerokuCli) -> Iterator[str]:
    name = unique_name("rd")
    cli.ok("apps:create", name, "--no-remote")
    cli.ok("addons:create", "heroku-redis", "-a", name)
    yield name
    cli("apps:destroy", "-a", name, "--confirm", name)


def test_info_cli_and_credentials(cli: HerokuCli, redis_app: str) -> None:
    info = cli.ok("redis:info", "-a", redis_app).stdout
    assert re.search(r"=== redis-\w+-\d+ \(REDIS_TLS_URL, REDIS_URL\)", info)
    assert re.search(r"Plan:\s+Mini", info)
    assert re.search(r"Maxmemory Policy:\s+noeviction", info)
    assert '"resource_url": "rediss://' in cli.ok("redis:info", "--json", "-a", redis_app).stdout
    # The database is named: with it missing, oclif would read stdin for it (10 ms).
    session = cli.ok(
        "redis:cli",
        "REDIS_URL",
        "--confirm",
        redis_app,
        "-a",
        redis_app,
        input="SET greeting hi\nGET greeting\n",
    )
    assert re.search(r"^hi$", session.stdout, re.M), session.stdout
    tls_url = cli.ok("config:get", "REDIS_TLS_URL", "-a", redis_app).stdout.strip()
    assert tls_url.startswith("rediss://default:")
    assert cli.ok("redis:credentials", "-a", redis_app).stdout.strip() == tls_url
    reset = cli.ok("redis:credentials", "--reset", "-a", redis_app)
    assert "Resetting credentials for" in reset.stdout + reset.stderr
    new_url = cli.ok("config:get", "REDIS_TLS_URL", "-a", redis_app).stdout.strip()
    assert new_url != tls_url
    again = cli.ok(
        "redis:cli", "REDIS_URL", "--confirm", redis_app, "-a", redis_app, input="GET greeting\n"
    )
    assert re.search(r"^hi$", again.stdout, re.M)


def test_maxmemory_and_timeout(cli: HerokuCli, redis_app: str) -> None:
    policy = cli.ok("redis:maxmemory", "--policy", "allkeys-lru", "-a", redis_app).stdout
    assert "set to allkeys-lru." in policy
    assert "evict the least recently used keys first" in policy
    assert re.search(
        r"Maxmemory Policy:\s+allkeys-lru", cli.ok("redis:info", "-a", redis_app).stdout
    )
    timeout = cli.ok("redis:timeout", "--seconds", "60", "-a", redis_app).stdout
    assert "set to 60 seconds" in timeout
    bad = cli("redis:maxmemory", "--policy", "sometimes", "-a", redis_app)
    assert bad.returncode != 0
    assert "The maxmemory policy 'sometimes' does not exist; use one of" in flat(bad.stderr)
    assert "Error ID: invalid_params" in bad.stderr
