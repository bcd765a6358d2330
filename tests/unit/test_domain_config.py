"""`slipway server --domain`: the settings it derives, and its refusals in one sentence."""

from __future__ import annotations

import click
import pytest

from slipway.server.config import ServerConfig, parse_domain
from slipway.server.parts import check_public_ports, platform_services


def test_a_domain_makes_the_router_the_front_door() -> None:
    config = ServerConfig(domain="example.com", https_port=8443, http_port=8080)
    assert config.public_api_url == "https://api.example.com:8443"
    assert config.git_host == "git.example.com:8443"
    assert config.apps_base_domain == "example.com"
    assert config.router_bind == "0.0.0.0"  # noqa: S104 (the public front door)
    assert config.router_ports == (8080, 8443)
    assert config.api_url == "http://127.0.0.1:5000"  # the API itself stays on loopback
    assert platform_services(config) == (
        ("api.example.com", "127.0.0.1:5000", True),
        ("git.example.com", "127.0.0.1:5443", True),
        ("dashboard.example.com", "127.0.0.1:5000", True),
    )
    standard = ServerConfig(domain="example.com", apps_domain="apps.example.com")
    assert standard.public_api_url == "https://api.example.com"
    assert standard.apps_base_domain == "apps.example.com"
    local = ServerConfig()
    assert local.router_bind == "127.0.0.1"
    assert local.public_api_url == local.api_url


def test_bad_domains_and_addresses_are_one_sentence() -> None:
    assert parse_domain("Example.COM.") == "example.com"
    for bad in ("https://example.com", "example", "example.com:443", "-a.example.com"):
        with pytest.raises(ValueError, match=r"is not a domain name; give one like example\.com"):
            parse_domain(bad)
    config = ServerConfig(domain="example.com", router_host="10.255.254.253", http_port=18080)
    with pytest.raises(click.ClickException, match=r"has no address 10\.255\.254\.253"):
        check_public_ports(config)
