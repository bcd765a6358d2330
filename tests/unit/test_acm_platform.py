"""ACM's issuing loop in process, with a scripted clock and a CA that answers as told:
which hosts it asks for, back-off after failures, what a user's or the operator's
certificate spares, a wildcard domain, an app that turns ACM off. (Against a real CA,
Pebble, over HTTP-01 through the router: tests/certs/test_acme.py.)"""

from __future__ import annotations

import dataclasses
import datetime as dt
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from slipway.certs.acme_client import Issued
from slipway.platform import accounts, apps, domains, views
from slipway.platform.acm import hosts, plan
from slipway.platform.acm.manager import AcmOptions, CertificateManager
from slipway.platform.settings import PlatformSettings
from slipway.platform.tx import Platform
from slipway.store import Store
from slipway.store.engine import sqlite_url
from slipway.tls import ensure_certificates, issue_certificate

START = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.at = START

    def now(self) -> dt.datetime:
        return self.at

    def monotonic(self) -> float:
        return (self.at - START).total_seconds()


class ScriptedCA:
    """Issues certificates from a local CA, or fails with the next scripted reason."""

    responder = "127.0.0.1:1"

    def __init__(self, tmp: Path) -> None:
        self.ca = ensure_certificates(tmp / "ca", "example.com", [])
        self.asked: list[str] = []
        self.failures: list[str] = []

    def issue(self, hostname: str) -> Issued:
        self.asked.append(hostname)
        if self.failures:
            return Issued(error=self.failures.pop(0))
        assert self.ca.ca_cert is not None
        cert, key = issue_certificate(
            self.ca.ca_cert, self.ca.ca_cert.parent / "ca.key", [hostname]
        )
        return Issued(cert_pem=cert.decode(), key_pem=key.decode())


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def platform(tmp_path: Path, clock: Clock) -> Iterator[Platform]:
    store = Store(sqlite_url(tmp_path / "acm.db"))
    store.migrate()
    settings = dataclasses.replace(
        PlatformSettings(),
        base_domain="apps.example.com",
        platform_domain="example.com",
        acme=True,
        operator_cert_names=("*.example.com",),  # covers api., git., dashboard.
    )
    yield Platform(store, settings, clock=clock)
    store.dispose()


@pytest.fixture
def admin(platform: Platform) -> views.Actor:
    with platform.tx() as tx:
        made = accounts.bootstrap_admin(tx, "admin@example.com")
    assert made is not None
    return views.Actor(made[0])


def test_hosts_are_issued_backed_off_and_spared(
    platform: Platform, admin: views.Actor, clock: Clock, tmp_path: Path
) -> None:
    ca = ScriptedCA(tmp_path)
    manager = CertificateManager(platform, ca, tmp_path / "served", AcmOptions(retry_min=60))
    with platform.tx() as tx:
        apps.create_app(tx, admin, "shop")
        domains.add_domain(tx, admin, "shop", "www.shop.example.org")
        domains.add_domain(tx, admin, "shop", "*.wild.example.org")
    ca.failures = ["The certificate authority is rate limiting requests for x (too many)."]
    assert manager.run_once(clock.now()) == 1
    # The operator's wildcard covers the platform's hosts: only the app's own and its
    # custom domain were asked for; the wildcard domain never is.
    assert sorted(ca.asked) == ["shop.apps.example.com", "www.shop.example.org"]
    with platform.tx() as tx:
        listed = {d.hostname: d for d in domains.list_domains(tx, admin, "shop")}
    failing = listed[ca.asked[0]]
    assert failing.acm_status == plan.FAILING
    assert failing.acm_status_reason is not None
    assert failing.acm_status_reason.startswith("The certificate authority is rate limiting")
    assert listed[ca.asked[1]].acm_status == plan.ISSUED
    assert listed["*.wild.example.org"].acm_status == plan.FAILED
    assert listed["*.wild.example.org"].acm_status_reason == hosts.WILDCARD_REASON
    # Backing off: not asked again before the minute is up, then issued.
    ca.asked.clear()
    clock.at += dt.timedelta(seconds=30)
    manager.run_once(clock.now())
    assert ca.asked == []
    clock.at += dt.timedelta(seconds=31)
    assert manager.run_once(clock.now()) == 1
    # Both certificates are in the router's files (0600) and its table entries (written on
    # each CertificatesChanged once the manager is started; here, by hand).
    manager.write_files()
    entries = manager.router_entries()
    assert sorted(n for e in entries for n in e["names"]) == sorted(
        ["shop.apps.example.com", "www.shop.example.org"]
    )
    for entry in entries:
        assert stat.S_IMODE(Path(entry["key"]).stat().st_mode) == 0o600
        assert "PRIVATE KEY" in Path(entry["key"]).read_text()
    # Nothing is due until renewal time (two thirds into the local CA's long life), not
    # even for a manager made afresh on the same store (a restart re-issues nothing).
    ca.asked.clear()
    clock.at += dt.timedelta(days=10)
    manager.run_once(clock.now())
    restarted = CertificateManager(platform, ca, tmp_path / "served-again")
    restarted.run_once(clock.now())
    assert ca.asked == []
    restarted.write_files()
    assert len(restarted.router_entries()) == 2

    # certs:auto:disable: the app's hosts and their certificates go.
    with platform.tx() as tx:
        hosts.set_acm(tx, admin, "shop", False)
    manager.run_once(clock.now())
    manager.write_files()
    assert manager.router_entries() == []
    with platform.tx() as tx:
        assert {d.acm_status for d in domains.list_domains(tx, admin, "shop")} == {None}


def test_a_users_certificate_spares_its_names(
    platform: Platform, admin: views.Actor, clock: Clock, tmp_path: Path
) -> None:
    ca = ScriptedCA(tmp_path)
    manager = CertificateManager(platform, ca, tmp_path / "served")
    own = ensure_certificates(tmp_path / "own", "example.org", [])
    assert own.ca_cert is not None
    cert, key = issue_certificate(
        own.ca_cert, own.ca_cert.parent / "ca.key", ["www.blog.example.org"]
    )
    with platform.tx() as tx:
        apps.create_app(tx, admin, "blog")
        domains.add_domain(tx, admin, "blog", "www.blog.example.org")
        added = hosts.add_endpoint(tx, admin, "blog", cert.decode(), key.decode())
    assert added.domains == ("www.blog.example.org",)
    manager.run_once(clock.now())
    assert ca.asked == ["blog.apps.example.com"]
    manager.write_files()
    assert {n for e in manager.router_entries() for n in e["names"]} == {
        "blog.apps.example.com",
        "www.blog.example.org",
    }
