"""Add-ons speak TLS as Heroku's do: Postgres with sslmode=require (and verify-full for a
client that trusts the platform's CA), Redis on REDIS_TLS_URL (rediss://); plain clients
still connect. Plan changes and Redis settings, in place, on the real servers.

The machine's PostgreSQL has `ssl = off`, so the named-server case goes through the
provider's TLS front; the embedded cluster speaks TLS itself.
"""

from __future__ import annotations

import os
import socket
import ssl
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from slipway.addons import AddonSettings, PostgresProvider, ProviderUnavailable, RedisProvider
from slipway.addons._programs import OsUser
from slipway.addons.errors import InvalidOptions
from slipway.addons.postgres import SERVICE
from slipway.addons.redis.resp import RespClient
from slipway.addons.redis.service import PLANS as REDIS_PLANS
from slipway.tls import TlsFiles, ensure_certificates, ensure_host_certificate
from tests.addons.helpers import assert_one_sentence, redis_cli

ESSENTIAL_0, _, STANDARD_0 = SERVICE.plans
MINI, PREMIUM = REDIS_PLANS


@pytest.fixture(scope="module")
def addon_tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A platform CA and the add-on certificate it signs, as `slipway server` makes them."""
    tls_dir = tmp_path_factory.mktemp("tls")
    ensure_certificates(tls_dir, "localhost", [])
    return ensure_host_certificate(tls_dir, "addons", ["127.0.0.1", "localhost"])


def _settings(tls: TlsFiles, **more: object) -> AddonSettings:
    return AddonSettings(tls_cert=tls.cert, tls_key=tls.key, **more)  # type: ignore[arg-type]


def _verified(url: str, ca: Path) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(url, sslmode="verify-full", sslrootcert=str(ca), connect_timeout=5)


def _assert_tls_and_plain(url: str, ca: Path) -> None:
    with _verified(url, ca) as conn:
        assert conn.pgconn.ssl_in_use
        conn.execute("CREATE TABLE IF NOT EXISTS t (v int)")
        conn.execute("INSERT INTO t VALUES (1)")
    # Clients that do not ask for TLS keep working (DATABASE_URL as it is).
    with psycopg.connect(url, sslmode="disable", connect_timeout=5) as conn:
        assert not conn.pgconn.ssl_in_use
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (1,)
    # A client that trusts nothing in particular but requires TLS (Heroku's apps).
    with psycopg.connect(url, sslmode="require", connect_timeout=5) as conn:
        assert conn.pgconn.ssl_in_use


@pytest.fixture
def named(data_dir: Path, pg_admin_url: str, addon_tls: TlsFiles) -> Iterator[PostgresProvider]:
    provider = PostgresProvider(data_dir, _settings(addon_tls, postgres_admin_url=pg_admin_url))
    provider.start()
    yield provider
    for resource_id in provider.resource_ids():
        provider.deprovision(resource_id)
    provider.stop()


def test_a_named_server_without_tls_is_reached_through_the_tls_front(
    named: PostgresProvider, addon_tls: TlsFiles, pg_admin_url: str, data_dir: Path
) -> None:
    with psycopg.connect(pg_admin_url) as admin:
        if admin.execute("SHOW ssl").fetchone() != ("off",):
            pytest.skip("the machine's PostgreSQL speaks TLS itself: no front is needed")
    a = named.provision("postgresql-front-1", ESSENTIAL_0, {})
    url = urllib.parse.urlsplit(a.config["URL"])
    assert url.port == named.resources.front.port() != 5432
    assert addon_tls.ca_cert is not None
    _assert_tls_and_plain(a.config["URL"], addon_tls.ca_cert)
    # The front comes back on its kept port after a platform restart.
    named.stop()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(a.config["URL"], connect_timeout=2).close()
    named.start()
    with _verified(a.config["URL"], addon_tls.ca_cert) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (1,)
    # Garbage instead of PostgreSQL's startup packet is dropped, not relayed.
    with socket.create_connection(("127.0.0.1", int(url.port or 0)), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert sock.recv(100) == b""
    # Restarted with dynos in their own network, for a database made while URLs named
    # 127.0.0.1: its URL names where dynos reach the front now.
    named.stop()
    moved = PostgresProvider(
        data_dir, _settings(addon_tls, postgres_admin_url=pg_admin_url, listen_host="127.0.0.2")
    )
    moved.start()
    try:
        now = moved.config(a.resource_id)["URL"]
        assert now == a.config["URL"].replace("@127.0.0.1:", "@127.0.0.2:")
        with psycopg.connect(now, sslmode="require", connect_timeout=5) as conn:
            assert conn.pgconn.ssl_in_use
            assert conn.execute("SELECT count(*) FROM t").fetchone() == (1,)
    finally:
        moved.stop()
    named.start()  # for the fixture's clean-up


def test_plans_change_in_place(named: PostgresProvider, pg_admin_url: str) -> None:
    a = named.provision("postgresql-plan-1", ESSENTIAL_0, {})
    role = urllib.parse.urlsplit(a.config["URL"]).username
    with psycopg.connect(a.config["URL"]) as conn:
        conn.execute("CREATE TABLE kept (v text)")
        conn.execute("INSERT INTO kept VALUES ('still here')")
    change = named.change_plan(a.resource_id, STANDARD_0)
    assert change.config is None
    assert not change.restarted
    assert change.message.startswith("The limit of 120 connections applies now")
    with psycopg.connect(pg_admin_url) as admin:
        limit = admin.execute("SELECT rolconnlimit FROM pg_roles WHERE rolname = %s", [role])
        assert limit.fetchone() == (120,)
    with psycopg.connect(a.config["URL"]) as conn:
        assert conn.execute("SELECT v FROM kept").fetchone() == ("still here",)
    assert dict(named.info(a.resource_id))["Plan"] == "Standard 0"


def test_postgres_version_option(named: PostgresProvider, pg_admin_url: str) -> None:
    with psycopg.connect(pg_admin_url) as admin:
        major = str(admin.info.server_version // 10000)
    ok = named.provision("postgresql-version-1", ESSENTIAL_0, {"version": major})
    assert ok.config["URL"].startswith("postgres://")
    with pytest.raises(InvalidOptions) as info:
        named.provision("postgresql-version-2", ESSENTIAL_0, {"version": "9"})
    assert_one_sentence(info.value.message)
    assert f"--version {major}" in info.value.message
    with pytest.raises(InvalidOptions) as bare:
        named.provision("postgresql-version-3", ESSENTIAL_0, {"followers": "true"})
    assert "--followers" in bare.value.message
    assert len(named.resource_ids()) == 1


def test_the_embedded_cluster_speaks_tls(data_dir: Path, addon_tls: TlsFiles) -> None:
    provider = PostgresProvider(data_dir, _settings(addon_tls))
    try:
        provider.bins.find("initdb", server=True)
    except ProviderUnavailable as exc:
        pytest.skip(exc.message)
    if os.geteuid() == 0 and OsUser.lookup("postgres") is None:
        pytest.skip("running as root needs the postgres OS user for the embedded cluster")
    try:
        a = provider.provision("postgresql-embedded-tls-1", ESSENTIAL_0, {})
        assert addon_tls.ca_cert is not None
        _assert_tls_and_plain(a.config["URL"], addon_tls.ca_cert)
    finally:
        for resource_id in provider.resource_ids():
            provider.deprovision(resource_id)
        provider.stop()


@pytest.fixture
def tls_redis(
    data_dir: Path, redis_settings: AddonSettings, addon_tls: TlsFiles
) -> Iterator[RedisProvider]:
    settings = AddonSettings(
        redis_ports=redis_settings.redis_ports, tls_cert=addon_tls.cert, tls_key=addon_tls.key
    )
    provider = RedisProvider(data_dir, settings)
    yield provider
    for resource_id in provider.resource_ids():
        provider.deprovision(resource_id)
    provider.stop()


def _rediss(url: str, ca: Path, *command: str) -> object:
    parts = urllib.parse.urlsplit(url)
    assert parts.scheme == "rediss"
    context = ssl.create_default_context(cafile=str(ca))
    raw = socket.create_connection((parts.hostname or "", parts.port or 0), timeout=5)
    sock = context.wrap_socket(raw, server_hostname=parts.hostname)
    with RespClient.over(sock) as client:
        client.auth(parts.password or "", username=parts.username or "default")
        return client.call(*command)


def test_redis_offers_a_tls_url(tls_redis: RedisProvider, addon_tls: TlsFiles) -> None:
    assert addon_tls.ca_cert is not None
    a = tls_redis.provision("redis-tls-1", MINI, {})
    assert a.config["URL"].startswith("redis://default:")
    assert a.config["TLS_URL"].startswith("rediss://default:")
    assert _rediss(a.config["TLS_URL"], addon_tls.ca_cert, "SET", "k", "v") == "OK"
    assert redis_cli(a.config["URL"], "GET", "k") == "v"
    # `-- --tls`: REDIS_URL itself is the TLS one.
    b = tls_redis.provision("redis-tls-2", MINI, {"tls": "true"})
    assert b.config["URL"] == b.config["TLS_URL"]
    assert _rediss(b.config["URL"], addon_tls.ca_cert, "PING") == "PONG"


def test_redis_plans_and_settings_change_live(
    tls_redis: RedisProvider, addon_tls: TlsFiles
) -> None:
    a = tls_redis.provision("redis-plan-1", MINI, {})
    assert redis_cli(a.config["URL"], "SET", "k", "kept") == "OK"
    assert tls_redis.change_plan(a.resource_id, PREMIUM).config is None
    state = tls_redis.servers.load(a.resource_id)
    with tls_redis.servers.admin(state) as admin:
        assert admin.call("CONFIG", "GET", "maxmemory") == [b"maxmemory", b"52428800"]
        assert admin.call("CONFIG", "GET", "appendonly") == [b"appendonly", b"yes"]
    assert redis_cli(a.config["URL"], "GET", "k") == "kept"

    settings = tls_redis.update_settings(
        a.resource_id, {"maxmemory_policy": "allkeys-lru", "timeout": "60"}
    )
    assert settings["maxmemory_policy"].value == "allkeys-lru"
    assert "least recently used" in settings["maxmemory_policy"].choices["allkeys-lru"]
    assert settings["timeout"].value == "60"
    with tls_redis.servers.admin(state) as admin:
        assert admin.call("CONFIG", "GET", "maxmemory-policy")[1] == b"allkeys-lru"  # type: ignore[index]
        assert admin.call("CONFIG", "GET", "timeout") == [b"timeout", b"60"]
    # Kept across a restart of the platform (redis.conf is rendered from the state).
    tls_redis.stop()
    tls_redis.start()
    with tls_redis.servers.admin(state) as admin:
        assert admin.call("CONFIG", "GET", "maxmemory-policy")[1] == b"allkeys-lru"  # type: ignore[index]
    for bad in ({"maxmemory_policy": "sometimes"}, {"timeout": "-1"}, {"colour": "red"}):
        with pytest.raises(InvalidOptions) as info:
            tls_redis.update_settings(a.resource_id, bad)
        assert_one_sentence(info.value.message)
    assert tls_redis.get_settings(a.resource_id)["timeout"].value == "60"
