"""The marketplace's providers against real servers: MariaDB, RabbitMQ, memcached, slipway-mail,
and the plan limits of PostgreSQL and Redis.

Each runs on the server the platform would embed under its data dir, and the
MariaDB and RabbitMQ ones also on the machine's own server through an admin URL
(MariaDB root on 127.0.0.1:3306, RabbitMQ's management API on 127.0.0.1:15672).
A "crash of the platform" is a provider object dropped without `stop()`: its
servers keep running, and a new provider on the same data dir must adopt them. The
embedded servers run as the server runs them with a dyno network: on 127.0.0.1 and on
the bridge's address (BRIDGE here), which their URLs name.
"""

from __future__ import annotations

import base64
import datetime as dt
import random
import shutil
import smtplib
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bmemcached
import dkim
import httpx
import psycopg
import pymysql
import pytest
from aiosmtpd.controller import Controller

from slipway.addons import AddonSettings, PostgresProvider, RedisProvider
from slipway.addons.errors import AddonError, ProviderUnavailable
from slipway.addons.mail import SERVICE as MAIL
from slipway.addons.mail import MailProvider
from slipway.addons.memcached import SERVICE as MEMCACHIER
from slipway.addons.memcached import MemcachedProvider
from slipway.addons.mysql import SERVICE as MARIA
from slipway.addons.mysql import MysqlProvider
from slipway.addons.postgres import SERVICE as POSTGRES
from slipway.addons.rabbitmq import SERVICE as AMQP
from slipway.addons.rabbitmq import RabbitProvider
from slipway.addons.redis import SERVICE as REDIS
from slipway.addons.redis.server import HOST
from slipway.tls import TlsFiles, ensure_certificates
from tests.addons.helpers import assert_one_sentence

MACHINE_MARIADB = "mysql://root@127.0.0.1:3306/"
# The dyno bridge's address the embedded servers also listen on and name in their URLs
# (AddonSettings.listen_host): another loopback address here, which Linux routes to lo.
BRIDGE = "127.0.0.2"
MACHINE_RABBITMQ = "http://guest:guest@127.0.0.1:15672/"


def _ports() -> tuple[int, int]:
    base = random.randrange(30000, 39000, 100)
    return base, base + 99


@pytest.fixture(scope="module")
def home() -> Iterator[tuple[Path, TlsFiles]]:
    """A data dir as `slipway server` makes it (0711, outside pytest's 0700 tree, so the
    servers' OS users reach it), with the platform's CA."""
    path = Path(tempfile.mkdtemp(prefix="slipway-market-", dir="/tmp"))
    path.chmod(0o711)
    yield path, ensure_certificates(path / "tls", "localhost", [])
    shutil.rmtree(path, ignore_errors=True)


def _mysql(url: str, **kwargs: Any) -> pymysql.Connection[Any]:
    parts = urllib.parse.urlsplit(url)
    return pymysql.connect(
        host=parts.hostname,
        port=parts.port or 3306,
        user=urllib.parse.unquote(parts.username or ""),
        password=urllib.parse.unquote(parts.password or ""),
        database=parts.path.lstrip("/"),
        autocommit=True,
        connect_timeout=5,
        **kwargs,
    )


# -- jawsdb-maria ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def maria(home: tuple[Path, TlsFiles]) -> Iterator[MysqlProvider]:
    provider = MysqlProvider(home[0], AddonSettings(mysql_ports=_ports(), listen_host=BRIDGE))
    yield provider
    for resource_id in provider.resource_ids():
        provider.deprovision(resource_id)
    provider.stop()


def test_mariadb_embedded_database_per_add_on(maria: MysqlProvider, home: tuple[Path, Any]) -> None:
    one = maria.provision("jawsdb-one", MARIA.default_plan, {})
    two = maria.provision("jawsdb-two", MARIA.default_plan, {})
    url = one.config["URL"]
    assert url.startswith("mysql://")
    assert f"@{BRIDGE}:" in url
    with _mysql(url) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE notes (body VARCHAR(20))")
        cur.execute("INSERT INTO notes VALUES ('kept')")
    # The platform's own side (backups, the provider) still reaches it on 127.0.0.1.
    with _mysql(url.replace(f"@{BRIDGE}:", "@127.0.0.1:")) as conn, conn.cursor() as cur:
        cur.execute("SELECT body FROM notes")
        assert cur.fetchall() == (("kept",),)
    # Another add-on's user cannot reach this database, nor any other.
    other_db = urllib.parse.urlsplit(url).path.lstrip("/")
    with _mysql(two.config["URL"]) as conn, conn.cursor() as cur:
        with pytest.raises(pymysql.err.OperationalError, match="denied"):
            cur.execute(f"SELECT * FROM `{other_db}`.notes")
        cur.execute("SHOW DATABASES")
        assert other_db not in {row[0] for row in cur.fetchall()}
    # TLS with the platform's CA, the server's name (the bridge address) verified.
    ca = home[0] / "addons" / "mysql" / "server" / "tls" / "ca.crt"
    parts = urllib.parse.urlsplit(url)
    tls = subprocess.run(
        [
            "mariadb", "--no-defaults", f"-h{parts.hostname}", f"-P{parts.port}",
            f"-u{parts.username}", "--ssl", "--ssl-verify-server-cert", f"--ssl-ca={ca}",
            "-NBe", "SHOW STATUS LIKE 'Ssl_version'", parts.path.lstrip("/"),
        ],
        env={"MYSQL_PWD": urllib.parse.unquote(parts.password or ""), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert tls.returncode == 0, tls.stderr
    assert "TLSv1" in tls.stdout

    # The plan's connection limit holds, and changes live.
    held = [_mysql(url) for _ in range(9)]  # with the one below: kitefin's 10
    try:
        extra = _mysql(url)
        with pytest.raises(pymysql.err.OperationalError, match="max_user_connections"):
            _mysql(url)
        changed = maria.change_plan(one.resource_id, MARIA.plan("leopard"))  # type: ignore[arg-type]
        assert changed.message == "The limit of 15 connections applies now; no restart was needed."
        assert not changed.restarted
        more = _mysql(url)
        more.close()
        extra.close()
    finally:
        for conn in held:
            conn.close()

    # Backups: mariadb-dump, restored through a scratch database.
    backup = maria.backups.capture_backup(one.resource_id)
    assert backup.name == "b001"
    assert b"INSERT INTO `notes`" in maria.backups.backup_path(one.resource_id, "b001").read_bytes()
    with _mysql(url) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM notes")
    maria.backups.restore_backup(one.resource_id, "b001")
    with _mysql(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT body FROM notes")
        assert cur.fetchall() == (("kept",),)
    assert [b.name for b in maria.backups.list_backups(one.resource_id)] == ["b001"]

    # New credentials; the old ones stop working.
    rotated = maria.rotate_credentials(one.resource_id)["URL"]
    with pytest.raises(pymysql.err.OperationalError, match="Access denied"):
        _mysql(url)
    # A crash of the platform: a new provider adopts the running server, data intact.
    assert maria.embedded._daemon is not None
    maria.embedded._daemon.release()
    adopted = MysqlProvider(home[0], maria.settings)
    adopted.start()
    assert adopted.embedded._daemon is not None
    assert adopted.embedded._daemon.pid() == maria.embedded._daemon.pid()
    with _mysql(rotated) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM notes")
        assert cur.fetchone() == (1,)
    # A clean restart keeps it too.
    adopted.stop()
    adopted.start()
    with _mysql(rotated) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM notes")
        assert cur.fetchone() == (1,)

    # addons:destroy leaves nothing: no database, no user, no backups, no state.
    adopted.deprovision(one.resource_id)
    with pytest.raises(pymysql.err.OperationalError, match="Access denied"):
        _mysql(rotated)
    assert not (home[0] / "addons" / "mysql" / "backups" / one.resource_id).exists()
    assert one.resource_id not in adopted.resource_ids()
    adopted.deprovision(two.resource_id)
    adopted.stop()


@pytest.fixture(scope="module")
def machine_mariadb() -> str:
    try:
        pymysql.connect(host="127.0.0.1", port=3306, user="root", connect_timeout=3).close()
    except pymysql.err.MySQLError as exc:
        pytest.skip(f"the machine's MariaDB (root@127.0.0.1:3306) does not answer: {exc}")
    return MACHINE_MARIADB


def test_mariadb_admin_url_name_clash_and_a_server_that_is_down(
    machine_mariadb: str, tmp_path: Path
) -> None:
    provider = MysqlProvider(tmp_path, AddonSettings(mysql_admin_url=machine_mariadb))
    name = f"clash_{random.randrange(10**6)}"
    made = provider.provision("jawsdb-a", MARIA.default_plan, {"database": name})
    try:
        with _mysql(made.config["URL"]) as conn, conn.cursor() as cur:
            cur.execute("SELECT DATABASE()")
            assert cur.fetchone() == (name,)
        with pytest.raises(AddonError) as clash:
            provider.provision("jawsdb-b", MARIA.default_plan, {"database": name})
        assert clash.value.id == "conflict"
        assert clash.value.message == (
            f"The MariaDB server at 127.0.0.1:3306 already has a database called {name}; "
            "choose another --database."
        )
        assert provider.resource_ids() == [made.resource_id]
    finally:
        provider.deprovision(made.resource_id)
    down = MysqlProvider(tmp_path, AddonSettings(mysql_admin_url="mysql://root@127.0.0.1:1/"))
    with pytest.raises(ProviderUnavailable) as refused:
        down.provision("jawsdb-c", MARIA.default_plan, {})
    assert_one_sentence(refused.value.message)
    assert refused.value.message.startswith("Could not reach the MariaDB server at 127.0.0.1:1:")
    assert down.resource_ids() == []
    assert not list((tmp_path / "addons" / "mysql" / "resources").glob("*.json"))


# -- cloudamqp ---------------------------------------------------------------------------


def _api(broker_api: str, user: str, password: str) -> httpx.Client:
    return httpx.Client(base_url=broker_api + "/api", auth=(user, password), timeout=10)


def _login(url: str) -> tuple[str, str, str]:
    parts = urllib.parse.urlsplit(url)
    return (
        urllib.parse.unquote(parts.username or ""),
        urllib.parse.unquote(parts.password or ""),
        urllib.parse.unquote(parts.path.lstrip("/")),
    )


@pytest.fixture(scope="module")
def machine_rabbitmq() -> str:
    try:
        answer = httpx.get("http://127.0.0.1:15672/api/overview", auth=("guest", "guest"))
    except httpx.HTTPError as exc:
        pytest.skip(f"the machine's RabbitMQ management API does not answer: {exc}")
    if answer.status_code != 200:
        pytest.skip(f"the machine's RabbitMQ management API answers {answer.status_code}")
    return MACHINE_RABBITMQ


def test_rabbitmq_admin_url_vhost_per_add_on_with_enforced_limits(
    machine_rabbitmq: str, tmp_path: Path
) -> None:
    provider = RabbitProvider(tmp_path, AddonSettings(rabbitmq_admin_url=machine_rabbitmq))
    one = provider.provision("cloudamqp-one", AMQP.default_plan, {})
    two = provider.provision("cloudamqp-two", AMQP.default_plan, {})
    try:
        user, password, vhost = _login(one.config["URL"])
        assert one.config["URL"].startswith("amqp://")
        assert ":5672/" in one.config["URL"]
        with _api("http://127.0.0.1:15672", user, password) as api:
            assert api.get("/vhosts").json()[0]["name"] == vhost  # its own vhost only
            assert len(api.get("/vhosts").json()) == 1
            _, _, other = _login(two.config["URL"])
            assert api.get(f"/queues/{other}").status_code in (401, 403)
            limits = api.get(f"/vhost-limits/{vhost}").json()[0]["value"]
            assert limits == {"max-connections": 20, "max-queues": 100}
            for n in range(100):
                made = api.put(f"/queues/{vhost}/q{n}", json={"durable": True})
                assert made.status_code in (201, 204), made.text
            over = api.put(f"/queues/{vhost}/q100", json={"durable": True})
            assert over.status_code >= 400
            assert "queue limit in vhost" in over.json()["reason"]
            change = provider.change_plan(one.resource_id, AMQP.plan("tiger"))  # type: ignore[arg-type]
            assert "1000 queues apply now; no restart was needed" in change.message
            assert api.put(f"/queues/{vhost}/q100", json={"durable": True}).status_code == 201
        page = provider.open_page(one.resource_id)
        assert page.url == "http://127.0.0.1:15672/"
        login = base64.b64decode(urllib.parse.unquote(page.cookies["auth"])).decode()
        assert login == f"{user}:{password}"
        assert httpx.get("http://127.0.0.1:15672/").status_code == 200
        info = dict(provider.info(one.resource_id))
        assert info["Queues"] == "101/1000"
    finally:
        provider.deprovision(one.resource_id)
        provider.deprovision(two.resource_id)
    gone = httpx.get("http://127.0.0.1:15672/api/vhosts", auth=("guest", "guest")).json()
    assert vhost not in {v["name"] for v in gone}
    down = RabbitProvider(
        tmp_path, AddonSettings(rabbitmq_admin_url="http://guest:guest@127.0.0.1:1/")
    )
    with pytest.raises(ProviderUnavailable) as refused:
        down.provision("cloudamqp-down", AMQP.default_plan, {})
    assert_one_sentence(refused.value.message)
    assert down.resource_ids() == []


def test_rabbitmq_embedded_keeps_messages_across_restarts(home: tuple[Path, Any]) -> None:
    settings = AddonSettings(rabbitmq_ports=_ports(), listen_host=BRIDGE)
    provider = RabbitProvider(home[0], settings)
    made = provider.provision("cloudamqp-embedded", AMQP.default_plan, {})
    try:
        user, password, vhost = _login(made.config["URL"])
        api_url = provider.embedded.broker().api
        amqp = urllib.parse.urlsplit(made.config["URL"])
        assert (amqp.hostname, amqp.port) == (BRIDGE, provider.embedded.ports()[0])
        # AMQP answers there (and on 127.0.0.1): the protocol header gets connection.start.
        for host in (BRIDGE, "127.0.0.1"):
            with socket.create_connection((host, amqp.port), timeout=5) as conn:
                conn.sendall(b"AMQP\x00\x00\x09\x01")
                assert conn.recv(7)[:3] == b"\x01\x00\x00", host  # a method frame, channel 0
        with _api(api_url, user, password) as api:
            assert api.put(f"/queues/{vhost}/jobs", json={"durable": True}).status_code == 201
            sent = api.post(
                f"/exchanges/{vhost}/amq.default/publish",
                json={
                    "properties": {"delivery_mode": 2},
                    "routing_key": "jobs",
                    "payload": "durable hello",
                    "payload_encoding": "string",
                },
            )
            assert sent.json() == {"routed": True}
        # Not the machine's RabbitMQ: another node, other ports.
        assert provider.embedded.node().startswith("slipway-")
        provider.stop()
        again = RabbitProvider(home[0], settings)
        again.start()
        with _api(api_url, user, password) as api:
            got = api.post(
                f"/queues/{vhost}/jobs/get",
                json={"count": 1, "ackmode": "ack_requeue_false", "encoding": "auto"},
            )
            assert [m["payload"] for m in got.json()] == ["durable hello"]
        again.deprovision(made.resource_id)
        assert again.resource_ids() == []
        again.stop()
    finally:
        provider.stop()
        RabbitProvider(home[0], settings).embedded.stop()


# -- memcachier --------------------------------------------------------------------------


def _cache(config: dict[str, str], password: str | None = None) -> Any:
    return bmemcached.Client(
        [config["SERVERS"]], config["USERNAME"], password or config["PASSWORD"], socket_timeout=3
    )


def test_memcached_sasl_per_add_on_survives_restarts(home: tuple[Path, Any]) -> None:
    if shutil.which("memcached") is None or shutil.which("saslpasswd2") is None:
        pytest.skip("memcached and saslpasswd2 are not installed (memcached, sasl2-bin)")
    settings = AddonSettings(memcached_ports=_ports(), listen_host=BRIDGE)
    provider = MemcachedProvider(home[0], settings)
    one = provider.provision("memcachier-one", MEMCACHIER.default_plan, {})
    two = provider.provision("memcachier-two", MEMCACHIER.default_plan, {})
    try:
        assert set(one.config) == {"SERVERS", "USERNAME", "PASSWORD"}
        assert one.config["SERVERS"].startswith(f"{BRIDGE}:")
        assert _cache(one.config).set("greeting", "hello")
        assert _cache(one.config).get("greeting") == "hello"
        on_loopback = dict(one.config, SERVERS=one.config["SERVERS"].replace(BRIDGE, "127.0.0.1"))
        assert _cache(on_loopback).get("greeting") == "hello"
        # Its own credentials only: the other add-on's, or a wrong password, are refused.
        wrong = dict(one.config, USERNAME=two.config["USERNAME"], PASSWORD=two.config["PASSWORD"])
        with pytest.raises(bmemcached.exceptions.MemcachedException, match="Auth failure"):
            _cache(wrong).get("greeting")
        with pytest.raises(bmemcached.exceptions.MemcachedException, match="Auth failure"):
            _cache(one.config, password="nope").get("greeting")
        # memcached saves its cache only after its first seconds of uptime.
        time.sleep(2.5)
        # A crash of the platform: the running memcached is adopted, cache intact.
        for daemon in provider.servers.daemons():
            daemon.release()
        adopted = MemcachedProvider(home[0], settings)
        adopted.start()
        assert _cache(one.config).get("greeting") == "hello"
        # A clean restart: the cache is saved on stop and read back at start.
        adopted.stop()
        restarted = MemcachedProvider(home[0], settings)
        restarted.start()
        assert _cache(one.config).get("greeting") == "hello"
        change = restarted.change_plan(one.resource_id, MEMCACHIER.plan("100"))  # type: ignore[arg-type]
        assert change.restarted
        assert "it was restarted with 100 MB" in change.message
        stats = next(iter(_cache(one.config).stats().values()))
        assert int(stats["limit_maxbytes"]) == 100 * 1024 * 1024
        rotated = restarted.rotate_credentials(one.resource_id)
        with pytest.raises(bmemcached.exceptions.MemcachedException, match="Auth failure"):
            _cache(one.config).get("greeting")
        assert _cache(rotated).set("k", "v")
        restarted.deprovision(one.resource_id)
        restarted.deprovision(two.resource_id)
        assert restarted.resource_ids() == []
        assert not (home[0] / "addons" / "memcached" / one.resource_id).exists()
        restarted.stop()
    finally:
        provider.stop()
        # Whatever a failure above left running: a fresh provider adopts it and removes it.
        cleaner = MemcachedProvider(home[0], settings)
        for resource_id in cleaner.resource_ids():
            cleaner.deprovision(resource_id)


# -- slipway-mail ------------------------------------------------------------------------


class Smarthost:
    """The operator's smarthost: a plain aiosmtpd that keeps what it is relayed."""

    def __init__(self) -> None:
        self.got: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.got.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


@pytest.fixture
def mail(home: tuple[Path, TlsFiles]) -> Iterator[tuple[MailProvider, Smarthost, TlsFiles]]:
    sink = Smarthost()
    low, _ = _ports()
    relay = Controller(sink, hostname="127.0.0.1", port=low + 50)
    relay.start()
    provider = MailProvider(
        home[0],
        AddonSettings(
            smtp_ports=(low, low + 40),
            smtp_relay=f"smtp://127.0.0.1:{low + 50}",
            listen_host=BRIDGE,
        ),
    )
    yield provider, sink, home[1]
    for resource_id in provider.resource_ids():
        provider.deprovision(resource_id)
    provider.stop()
    relay.stop()
    (home[0] / "addons" / "mail" / "server.json").unlink(missing_ok=True)


def _submit(config: dict[str, str], ca: Path | None) -> smtplib.SMTP:
    assert ca is not None
    client = smtplib.SMTP(config["SERVER"], int(config["PORT"]), timeout=10)
    client.starttls(context=ssl.create_default_context(cafile=str(ca)))
    client.login(config["LOGIN"], config["PASSWORD"])
    return client


MESSAGE = b"From: App <app@example.com>\r\nTo: bob@example.org\r\nSubject: Hello\r\n\r\nHi Bob.\r\n"


def test_mail_starttls_auth_dkim_inbox_and_relay(
    mail: tuple[MailProvider, Smarthost, TlsFiles],
) -> None:
    provider, sink, tls = mail
    made = provider.provision("mail-one", MAIL.default_plan, {})
    config = made.config
    assert config["URL"].startswith("smtp://")
    assert config["URL"].endswith(f"@{BRIDGE}:{config['PORT']}")
    assert config["SERVER"] == BRIDGE
    with smtplib.SMTP("127.0.0.1", int(config["PORT"]), timeout=10) as loopback:
        assert loopback.ehlo()[0] == 250
    assert MAIL.attachments == ("SMTP", "MAILGUN_SMTP")
    # AUTH only after STARTTLS, and only with the add-on's own password.
    with smtplib.SMTP(config["SERVER"], int(config["PORT"]), timeout=10) as plain:
        plain.ehlo()
        assert not plain.has_extn("auth")
    with smtplib.SMTP(config["SERVER"], int(config["PORT"]), timeout=10) as client:
        client.starttls(context=ssl.create_default_context(cafile=str(tls.ca_cert)))
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login(config["LOGIN"], "wrong")
    with _submit(config, tls.ca_cert) as client:
        client.sendmail("app@example.com", ["bob@example.org"], MESSAGE)
        with pytest.raises(smtplib.SMTPRecipientsRefused) as bad:
            client.sendmail("app@example.com", ["bob.example.org"], MESSAGE)
        code, text = bad.value.recipients["bob.example.org"]
        assert code == 553
        assert text.decode().startswith("5.1.3 The recipient address <bob.example.org> is not")
        big = MESSAGE + (b"x" * 998 + b"\r\n") * 1100  # over the starter plan's 1 MB
        with pytest.raises(smtplib.SMTPDataError) as over:
            client.sendmail("app@example.com", ["bob@example.org"], big)
        assert over.value.smtp_code == 552
        assert b"over this plan's 1,048,576" in over.value.smtp_error
    deadline = time.monotonic() + 10
    while not sink.got and time.monotonic() < deadline:
        time.sleep(0.05)
    [(sender, recipients, relayed)] = sink.got
    assert (sender, recipients) == ("app@example.com", ["bob@example.org"])
    record = provider.dkim_record("example.com").encode()
    assert relayed.startswith(b"DKIM-Signature:")
    assert dkim.verify(relayed, dnsfunc=lambda name, timeout=5: record)
    [kept] = provider.inbox.list_messages(made.resource_id)
    assert (kept.subject, kept.recipients, kept.status) == (
        "Hello",
        ("bob@example.org",),
        "relayed",
    )
    assert provider.inbox.message(made.resource_id, kept.id).raw == relayed


def test_mail_plan_rate_and_the_newest_1000(
    mail: tuple[MailProvider, Smarthost, TlsFiles], monkeypatch: pytest.MonkeyPatch
) -> None:
    provider, _, tls = mail
    monkeypatch.setattr("slipway.addons.mail.inbox.INBOX_SIZE", 30)
    made = provider.provision("mail-rate", MAIL.default_plan, {})
    with _submit(made.config, tls.ca_cert) as client:
        for _ in range(100):  # the starter plan's hourly limit
            client.sendmail("app@example.com", ["bob@example.org"], MESSAGE)
        with pytest.raises(smtplib.SMTPDataError) as limited:
            client.sendmail("app@example.com", ["bob@example.org"], MESSAGE)
        assert limited.value.smtp_code == 451
        assert b"sent 100 messages in the last hour" in limited.value.smtp_error
        change = provider.change_plan(made.resource_id, MAIL.plan("basic"))  # type: ignore[arg-type]
        assert "1,000 messages an hour" in change.message
        client.sendmail("app@example.com", ["bob@example.org"], MESSAGE)
    assert len(provider.inbox.list_messages(made.resource_id, limit=1000)) == 30
    provider.deprovision(made.resource_id)
    assert not (provider.root / made.resource_id).exists()


# -- heroku-postgresql and heroku-redis plans --------------------------------------------


def test_postgres_connection_and_row_limits(pg: PostgresProvider) -> None:
    made = pg.provision("postgresql-rows", POSTGRES.default_plan, {})
    url = made.config["URL"]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (v int)")
        conn.execute("INSERT INTO t SELECT generate_series(1, 10001)")
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    warned = pg.enforce_limits(made.resource_id, now)
    assert warned is not None
    assert warned.startswith("Warning: postgresql-rows has more than 10,000")
    assert pg.enforce_limits(made.resource_id, now + dt.timedelta(days=6)) is None
    revoked = pg.enforce_limits(made.resource_id, now + dt.timedelta(days=7, seconds=1))
    assert revoked is not None
    assert "INSERT privileges were revoked" in revoked
    with psycopg.connect(url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO t VALUES (0)")
        conn.execute("DELETE FROM t WHERE v > 9000")  # making room still works
    restored = pg.enforce_limits(made.resource_id, now + dt.timedelta(days=8))
    assert restored == "postgresql-rows is back under 10,000 rows; INSERT privileges were restored."
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO t SELECT generate_series(1, 2000)")
    pg.enforce_limits(made.resource_id, now + dt.timedelta(days=9))
    pg.enforce_limits(made.resource_id, now + dt.timedelta(days=17))
    # Upgrading lifts the row limit at once, and the connection limit changes live.
    change = pg.change_plan(made.resource_id, POSTGRES.plan("standard-0"))  # type: ignore[arg-type]
    assert change.message.startswith("The limit of 120 connections applies now")
    assert "INSERT privileges were restored" in change.message
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO t VALUES (0)")
        role = urllib.parse.urlsplit(url).username
        limit = conn.execute("SELECT rolconnlimit FROM pg_roles WHERE rolname = %s", [role])
        assert limit.fetchone() == (120,)
    pg.deprovision(made.resource_id)


def test_redis_plan_change_is_live(redis: RedisProvider) -> None:
    made = redis.provision("redis-plan", REDIS.default_plan, {})
    change = redis.change_plan(made.resource_id, REDIS.plan("premium-0"))  # type: ignore[arg-type]
    assert change.message.startswith("The limits of 50 MB and 40 clients apply now")
    state = redis.servers.load(made.resource_id)
    with redis.servers.admin(state) as client:
        assert client.call("CONFIG", "GET", "maxmemory") == [b"maxmemory", b"52428800"]
        assert client.call("CONFIG", "GET", "appendonly") == [b"appendonly", b"yes"]
    assert (
        "maxmemory 50mb" in (redis.servers.directory(made.resource_id) / "redis.conf").read_text()
    )
    assert HOST == "127.0.0.1"
