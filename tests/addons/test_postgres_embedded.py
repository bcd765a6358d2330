"""heroku-postgresql with no admin URL: the embedded cluster the provider creates and runs."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from slipway.addons import AddonSettings, PortInUse, PostgresProvider, ProviderUnavailable
from slipway.addons._programs import OsUser
from slipway.addons.postgres import SERVICE
from tests.addons.helpers import assert_one_sentence


@pytest.fixture
def embedded(data_dir: Path) -> PostgresProvider:
    provider = PostgresProvider(data_dir, AddonSettings())
    try:
        provider.bins.find("initdb", server=True)
        provider.bins.find("pg_ctl", server=True)
    except ProviderUnavailable as exc:
        pytest.skip(exc.message)
    if os.geteuid() == 0 and OsUser.lookup("postgres") is None:
        pytest.skip("running as root needs the postgres OS user for the embedded cluster")
    return provider


def test_embedded_cluster_survives_a_platform_restart(
    embedded: PostgresProvider, data_dir: Path
) -> None:
    provider = embedded
    try:
        a = provider.provision("postgresql-embedded-1", SERVICE.default_plan, {})
        b = provider.provision("postgresql-embedded-2", SERVICE.default_plan, {})
        state = provider.root / "cluster.json"
        port = provider.cluster.port()
        assert f"@127.0.0.1:{port}/" in a.config["URL"]
        low, high = AddonSettings().postgres_ports
        assert low <= port <= high
        for secret in (state, provider.root / "superuser-password"):
            assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        assert (provider.root / "cluster" / "PG_VERSION").exists()
        owner = OsUser.lookup("postgres") if os.geteuid() == 0 else None
        if owner is not None:
            assert (provider.root / "cluster").stat().st_uid == owner.uid

        with psycopg.connect(a.config["URL"]) as conn:
            conn.execute("CREATE TABLE kept (v text)")
            conn.execute("INSERT INTO kept VALUES ('still here')")
            assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
        # Not into B's database, nor the maintenance databases of the cluster.
        for db in (b.resource_id, "postgres", "template1"):
            with pytest.raises(psycopg.OperationalError, match="permission denied"):
                psycopg.connect(make_conninfo(a.config["URL"], dbname=db)).close()

        # Passwords are checked here (scram-sha-256): rotation really retires the old one.
        new_url = provider.rotate_credentials(a.resource_id)["URL"]
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(a.config["URL"]).close()
        psycopg.connect(new_url).close()

        provider.stop()
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(new_url, connect_timeout=2).close()

        # The kept port taken by someone else: one sentence naming it.
        squatter = socket.socket()
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        try:
            with pytest.raises(PortInUse) as info:
                PostgresProvider(data_dir, AddonSettings()).start()
            assert info.value.port == port
            assert str(port) in info.value.message
            assert_one_sentence(info.value.message)
        finally:
            squatter.close()

        # A new provider (the platform restarted) brings the cluster back on the same port.
        provider = PostgresProvider(data_dir, AddonSettings())
        provider.start()
        assert provider.cluster.port() == port
        assert provider.config(a.resource_id) == {"URL": new_url}
        with psycopg.connect(new_url) as conn:
            assert conn.execute("SELECT v FROM kept").fetchall() == [("still here",)]
        provider.start()  # already running: nothing to do

        # Restarted with dynos in their own network: a database made while URLs named
        # 127.0.0.1 is named where dynos reach the cluster now (the platform then makes
        # its apps a release with it, platform/addons/refresh.py).
        provider.stop()
        provider = PostgresProvider(data_dir, AddonSettings(listen_host="127.0.0.2"))
        provider.start()
        moved = provider.config(a.resource_id)["URL"]
        assert moved == new_url.replace("@127.0.0.1:", "@127.0.0.2:")
        with psycopg.connect(moved) as conn:
            assert conn.execute("SELECT v FROM kept").fetchall() == [("still here",)]

        backup = provider.backups.capture_backup(a.resource_id)
        provider.backups.restore_backup(a.resource_id, backup.name)
        with psycopg.connect(new_url) as conn:
            assert conn.execute("SELECT v FROM kept").fetchall() == [("still here",)]

        provider.deprovision(a.resource_id)
        provider.deprovision(b.resource_id)
        assert provider.resource_ids() == []
    finally:
        provider.stop()
    assert not provider.cluster._running(provider.cluster._user())
