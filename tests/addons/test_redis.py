"""heroku-redis: real redis-servers, one per add-on."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
import urllib.parse
from pathlib import Path

import pytest

from slipway.addons import (
    AddonSettings,
    InvalidOptions,
    PortInUse,
    RedisProvider,
    ResourceNotFound,
)
from slipway.addons._ports import port_is_free
from slipway.addons._programs import OsUser
from slipway.addons.redis import SERVICE
from slipway.addons.redis import provider as redis_provider
from slipway.addons.redis import supervisor as redis_supervisor
from slipway.addons.redis.resp import RespClient
from tests.addons.helpers import assert_one_sentence, redis_cli

MINI = SERVICE.default_plan
PREMIUM = SERVICE.plans[1]
assert PREMIUM.name == "heroku-redis:premium-0"


def port_of(url: str) -> int:
    port = urllib.parse.urlsplit(url).port
    assert port is not None
    return port


def password_of(url: str) -> str:
    password = urllib.parse.urlsplit(url).password
    assert password
    return password


def pid_of(provider: RedisProvider, resource_id: str) -> int:
    return int((provider.root / resource_id / "redis.pid").read_text())


def wait_until(check: object, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def listener(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock


def test_each_addon_has_its_own_server_and_password(redis: RedisProvider) -> None:
    a = redis.provision("redis-curly-11111", PREMIUM, {})
    b = redis.provision("redis-shaped-22222", MINI, {})
    url_a, url_b = a.config["URL"], b.config["URL"]
    assert url_a.startswith("redis://default:")
    assert urllib.parse.urlsplit(url_a).hostname == "127.0.0.1"
    assert port_of(url_a) != port_of(url_b)
    assert password_of(url_a) != password_of(url_b)
    assert len(password_of(url_a)) >= 32

    assert redis_cli(url_a, "SET", "who", "a") == "OK"
    assert redis_cli(url_b, "SET", "who", "b") == "OK"
    assert redis_cli(url_a, "GET", "who") == "a"
    assert redis_cli(url_b, "GET", "who") == "b"
    # B's password does not open A, and no password opens nothing.
    assert "WRONGPASS" in redis_cli(url_a, "GET", "who", password=password_of(url_b))
    assert "NOAUTH" in redis_cli(url_a, "GET", "who", password="")
    # The app may not reconfigure or stop its server (which may run as root).
    for command in (("CONFIG", "GET", "dir"), ("SHUTDOWN",), ("ACL", "LIST"), ("SAVE",)):
        assert "NOPERM" in redis_cli(url_a, *command)
    assert "not allowed" in redis_cli(url_a, "DEBUG", "SLEEP", "0")
    assert redis_cli(url_a, "PUBLISH", "channel", "hello") == "0"

    directory = redis.root / a.resource_id
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for private in ("redis.conf", "state.json"):
        assert stat.S_IMODE((directory / private).stat().st_mode) == 0o600
    assert password_of(url_a) not in (directory / "redis.conf").read_text()
    state = json.loads((directory / "state.json").read_text())
    with RespClient("127.0.0.1", port_of(url_a)) as admin:
        admin.auth(state["admin_password"], username="slipway")
        assert admin.call("CONFIG", "GET", "bind") == [b"bind", b"127.0.0.1"]
        assert admin.call("CONFIG", "GET", "dir") == [b"dir", str(directory).encode()]
        assert admin.call("CONFIG", "GET", "appendonly") == [b"appendonly", b"yes"]
        assert admin.call("CONFIG", "GET", "maxmemory") == [b"maxmemory", b"52428800"]
    assert redis.config(a.resource_id) == a.config
    assert sorted(redis.resource_ids()) == sorted([a.resource_id, b.resource_id])


def test_data_and_ports_survive_a_platform_restart(
    redis: RedisProvider, data_dir: Path, redis_settings: AddonSettings
) -> None:
    durable = redis.provision("redis-durable-1", PREMIUM, {})
    mini = redis.provision("redis-mini-1", MINI, {})
    for url in (durable.config["URL"], mini.config["URL"]):
        assert redis_cli(url, "SET", "kept", "yes") == "OK"
    redis.stop()
    for url in (durable.config["URL"], mini.config["URL"]):
        assert port_is_free(port_of(url))
    assert (data_dir / "addons" / "redis" / durable.resource_id / "appendonlydir").is_dir()

    again = RedisProvider(data_dir, redis_settings)
    again.start()
    try:
        assert again.config(durable.resource_id) == durable.config  # same port, same password
        assert again.config(mini.resource_id) == mini.config
        for url in (durable.config["URL"], mini.config["URL"]):
            assert redis_cli(url, "GET", "kept") == "yes"
        again.start()  # idempotent
    finally:
        again.stop()


def test_a_killed_platform_leaves_servers_a_new_start_takes_back(
    data_dir: Path, redis_settings: AddonSettings
) -> None:
    """kill -9 of the platform: its redis-servers live on; start() reclaims and restarts them."""
    script = textwrap.dedent(
        f"""
        import json, sys, time
        from pathlib import Path
        from slipway.addons import AddonSettings, RedisProvider
        from slipway.addons.redis import SERVICE
        settings = AddonSettings(redis_ports={redis_settings.redis_ports!r})
        provider = RedisProvider(Path({str(data_dir)!r}), settings)
        out = {{}}
        for plan in SERVICE.plans:
            p = provider.provision("redis-orphan-" + plan.short_name, plan, {{}})
            out[p.resource_id] = p.config["URL"]
        print(json.dumps(out), flush=True)
        time.sleep(600)
        """
    )
    platform = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert platform.stdout is not None
        urls: dict[str, str] = json.loads(platform.stdout.readline())
        for url in urls.values():
            assert redis_cli(url, "SET", "kept", "yes") == "OK"
        provider = RedisProvider(data_dir, redis_settings)
        orphans = {rid: pid_of(provider, rid) for rid in urls}
    finally:
        platform.kill()  # SIGKILL: no chance to stop anything
        platform.wait()
    for url in urls.values():
        assert redis_cli(url, "GET", "kept") == "yes"  # still running, orphaned

    try:
        provider.start()
        for rid, url in urls.items():
            assert provider.config(rid)["URL"] == url
            assert redis_cli(url, "GET", "kept") == "yes"  # mini too: SHUTDOWN SAVE first
            new_pid = pid_of(provider, rid)
            assert new_pid != orphans[rid]
            assert not Path(f"/proc/{orphans[rid]}/cmdline").exists() or (
                Path(f"/proc/{orphans[rid]}/stat").read_text().split(")")[-1].split()[0] == "Z"
            )
    finally:
        for rid in urls:
            provider.deprovision(rid)
        provider.stop()
    assert all(port_is_free(port_of(u)) for u in urls.values())


def test_a_crashed_server_is_restarted_on_its_port(redis: RedisProvider) -> None:
    a = redis.provision("redis-crashy-1", PREMIUM, {})
    url = a.config["URL"]
    redis_cli(url, "SET", "kept", "yes")
    time.sleep(1.1)  # appendfsync everysec
    old_pid = pid_of(redis, a.resource_id)
    os.kill(old_pid, signal.SIGKILL)

    def back() -> bool:
        return redis_cli(url, "GET", "kept") == "yes" and pid_of(redis, a.resource_id) != old_pid

    wait_until(back, timeout=15)


def test_rotate_credentials(
    redis: RedisProvider, data_dir: Path, redis_settings: AddonSettings
) -> None:
    a = redis.provision("redis-rotating-1", MINI, {})
    old = a.config["URL"]
    redis_cli(old, "SET", "kept", "yes")
    new = redis.rotate_credentials(a.resource_id)["URL"]
    assert port_of(new) == port_of(old)
    assert password_of(new) != password_of(old)
    assert "WRONGPASS" in redis_cli(old, "GET", "kept")
    assert redis_cli(new, "GET", "kept") == "yes"
    assert redis.config(a.resource_id) == {"URL": new}
    # The new password is in the config file too: it holds after a restart.
    redis.stop()
    again = RedisProvider(data_dir, redis_settings)
    again.start()
    try:
        assert redis_cli(new, "GET", "kept") == "yes"
        assert "WRONGPASS" in redis_cli(old, "GET", "kept")
        # Rotating a stopped server works as well; the next start uses the new password.
        again.stop()
        newer = again.rotate_credentials(a.resource_id)["URL"]
        again.start()
        assert redis_cli(newer, "GET", "kept") == "yes"
    finally:
        again.stop()


def test_deprovision_stops_the_server_and_removes_its_dir(redis: RedisProvider) -> None:
    a = redis.provision("redis-doomed-1", PREMIUM, {})
    url = a.config["URL"]
    pid = pid_of(redis, a.resource_id)
    redis.deprovision(a.resource_id)
    assert not (redis.root / a.resource_id).exists()
    assert port_is_free(port_of(url))
    wait_until(
        lambda: (
            not Path(f"/proc/{pid}/cmdline").exists()
            or Path(f"/proc/{pid}/cmdline").read_bytes() == b""
        )
    )
    redis.deprovision(a.resource_id)  # idempotent
    with pytest.raises(ResourceNotFound) as info:
        redis.config(a.resource_id)
    assert_one_sentence(info.value.message)


def test_a_taken_port_at_provision_is_skipped(
    data_dir: Path, redis_settings: AddonSettings
) -> None:
    low = redis_settings.redis_ports[0]
    squatter = listener(low)
    provider = RedisProvider(data_dir, AddonSettings(redis_ports=(low, low + 5)))
    try:
        a = provider.provision("redis-skip-1", MINI, {})
        assert port_of(a.config["URL"]) == low + 1
        assert redis_cli(a.config["URL"], "PING") == "PONG"
    finally:
        squatter.close()
        provider.stop()
        for rid in provider.resource_ids():
            provider.deprovision(rid)


def test_a_port_taken_while_redis_starts_is_skipped(
    data_dir: Path, redis_settings: AddonSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race: the port looked free, then redis-server itself fails to bind it."""
    low = redis_settings.redis_ports[0]
    squatter = listener(low)
    offered = iter([low, low + 1])
    monkeypatch.setattr(redis_provider, "pick_port", lambda *args: next(offered))
    monkeypatch.setattr(redis_supervisor, "port_is_free", lambda port: True)
    provider = RedisProvider(data_dir, redis_settings)
    try:
        a = provider.provision("redis-race-1", MINI, {})
        assert port_of(a.config["URL"]) == low + 1
        assert redis_cli(a.config["URL"], "PING") == "PONG"
    finally:
        squatter.close()
        provider.stop()
        for rid in provider.resource_ids():
            provider.deprovision(rid)


def test_a_kept_port_taken_at_start_is_named(
    redis: RedisProvider, data_dir: Path, redis_settings: AddonSettings
) -> None:
    a = redis.provision("redis-squatted-1", MINI, {})
    b = redis.provision("redis-fine-1", MINI, {})
    port = port_of(a.config["URL"])
    redis.stop()
    squatter = listener(port)
    again = RedisProvider(data_dir, redis_settings)
    try:
        with pytest.raises(PortInUse) as info:
            again.start()
        assert info.value.port == port
        assert f"Port {port}" in info.value.message
        assert "redis-squatted-1" in info.value.message
        assert_one_sentence(info.value.message)
        assert redis_cli(b.config["URL"], "PING") == "PONG"  # the others still started
    finally:
        squatter.close()
    again.start()
    try:
        assert redis_cli(a.config["URL"], "PING") == "PONG"
    finally:
        again.stop()


def test_info_and_cli_command(redis: RedisProvider) -> None:
    a = redis.provision("redis-info-1", PREMIUM, {"maxmemory_policy": "allkeys-lru"})
    rows = dict(redis.info(a.resource_id))
    assert rows["Plan"] == "Premium 0"
    assert rows["Status"] == "Available"
    assert rows["Port"] == str(port_of(a.config["URL"]))
    assert rows["Version"][0].isdigit()
    assert rows["Memory"].endswith("of 50 MB")
    assert rows["Clients"] == "0/40"
    assert "AOF" in rows["Persistence"]
    assert rows["Maxmemory Policy"] == "allkeys-lru"
    argv, env = redis.cli_command(a.resource_id)
    password = password_of(a.config["URL"])
    assert all(password not in arg for arg in argv)
    assert env == {"REDISCLI_AUTH": password}
    out = subprocess.run(
        [*argv, "PING"], env={**os.environ, **env}, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "PONG"
    redis.stop()
    assert dict(redis.info(a.resource_id))["Status"].startswith("Unavailable")


def test_bad_options_are_refused_before_anything_starts(redis: RedisProvider) -> None:
    for options in ({"maxmemory_policy": "sometimes"}, {"tls": "yes"}):
        with pytest.raises(InvalidOptions) as info:
            redis.provision("redis-bad-1", MINI, options)
        assert_one_sentence(info.value.message)
    assert redis.resource_ids() == []
    assert not redis.root.exists() or list(redis.root.iterdir()) == []


def test_redis_can_run_as_an_unprivileged_os_user(
    data_dir: Path, redis_settings: AddonSettings
) -> None:
    if os.geteuid() != 0:
        pytest.skip("only Slipway running as root switches redis-servers to another user")
    user = OsUser.lookup("redis")
    if user is None:
        pytest.skip("there is no redis OS user (Debian's redis-server package makes one)")
    provider = RedisProvider(
        data_dir, AddonSettings(redis_ports=redis_settings.redis_ports, redis_os_user="redis")
    )
    try:
        a = provider.provision("redis-unprivileged-1", PREMIUM, {})
        assert redis_cli(a.config["URL"], "SET", "k", "v") == "OK"
        pid = pid_of(provider, a.resource_id)
        status = Path(f"/proc/{pid}/status").read_text()
        uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
        assert uid_line.split()[1:] == [str(user.uid)] * 4
        directory = provider.root / a.resource_id
        assert directory.stat().st_uid == user.uid
        assert (directory / "state.json").stat().st_uid == 0  # the passwords stay root's
        provider.stop()
        provider.start()
        assert redis_cli(a.config["URL"], "GET", "k") == "v"
    finally:
        provider.stop()
        for rid in provider.resource_ids():
            provider.deprovision(rid)
