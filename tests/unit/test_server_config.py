"""`slipway server`'s command line is derived from the settings declared on the parts."""

from __future__ import annotations

from pathlib import Path

import pytest

from slipway.options import from_flags
from slipway.server.command import server_command
from slipway.server.config import ServerConfig


def _config(*args: str) -> ServerConfig:
    ctx = server_command.make_context("server", list(args))
    return from_flags(ServerConfig, ctx.params)


def test_defaults_are_the_parts_own() -> None:
    config = _config()
    assert config == ServerConfig(data_dir=config.data_dir, router_workers=config.router_workers)
    assert (config.port, config.git_port, config.rendezvous_port) == (5000, 5443, 5444)
    assert config.runtime.boot_timeout == 60.0
    assert config.runtime.idle_after == 30 * 60.0
    assert config.runtime.cycle_interval == 24 * 3600.0
    assert config.deploy.keep_releases == 10
    assert config.platform.eco_quota_hours == 1000.0
    assert config.addons.postgres_admin_url is None


def test_flags_reach_the_nested_options_in_their_units() -> None:
    config = _config(
        "--data-dir=/tmp/sw",
        "--idle-after=0.5",
        "--dyno-cycle-hours=0",
        "--boot-timeout=5",
        "--restart-backoff=0.1",
        "--keep-releases=3",
        "--max-dynos-per-app=7",
        "--postgres-admin-url=postgresql://postgres@db/postgres",
        "--no-router",
        "--router-option=--request-timeout=2",
        "--router-option=--idle-timeout=3",
    )
    assert config.data_dir == Path("/tmp/sw")
    assert config.runtime.idle_after == 30.0
    assert config.runtime.cycle_interval == 0.0
    assert config.runtime.boot_timeout == 5.0
    assert config.runtime.backoff_base == 0.1
    assert config.deploy.keep_releases == 3
    assert config.platform.max_dynos_per_app == 7
    assert config.addons.postgres_admin_url == "postgresql://postgres@db/postgres"
    assert config.run_router is False
    assert config.router_args == ("--request-timeout=2", "--idle-timeout=3")


def test_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLIPWAY_STORE", "postgresql://u@h/db")
    monkeypatch.setenv("SLIPWAY_POSTGRES_ADMIN_URL", "postgresql://a@h/postgres")
    config = _config()
    assert config.store_url == "postgresql://u@h/db"
    assert config.addons.postgres_admin_url == "postgresql://a@h/postgres"


def test_the_dashboard_host_goes_to_the_api_listener_on_loopback() -> None:
    from slipway.server.parts import platform_services

    assert platform_services(_config("--port=5001")) == (
        ("dashboard.localhost", "127.0.0.1:5001", False),
    )
    assert platform_services(_config("--host=0.0.0.0", "--base-domain=sw.test")) == (
        ("dashboard.sw.test", "127.0.0.1:5000", False),
    )
