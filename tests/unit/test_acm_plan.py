"""ACM's pure rules: when a certificate is due, the back-off, wildcard coverage; the
checks on certificates users bring; the ACME client's answer when its CA is down."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from slipway.certs.acme_client import AcmeIssuer, retry_after
from slipway.certs.responder import ChallengeResponder
from slipway.platform.acm import plan
from slipway.platform.acm.pem import check_pair
from slipway.platform.errors import InvalidParams
from slipway.tls import ensure_certificates
from tests.support import free_port

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def state(**kw: object) -> plan.HostState:
    base: dict[str, object] = {
        "hostname": "a.example.com",
        "status": plan.ISSUED,
        "attempts": 0,
        "next_attempt_at": None,
    }
    return plan.HostState(**{**base, **kw})  # type: ignore[arg-type]


def test_a_host_without_a_certificate_is_due_at_once() -> None:
    assert plan.due([state(status=plan.PENDING)], NOW) == ["a.example.com"]


def test_ninety_day_certificates_renew_thirty_days_before_expiry() -> None:
    issued = state(not_before=NOW - 59 * DAY, not_after=NOW + 31 * DAY)
    assert not plan.is_due(issued, NOW)
    assert plan.is_due(issued, NOW + DAY)


def test_short_lived_certificates_renew_after_two_thirds_of_their_life() -> None:
    minute = dt.timedelta(seconds=60)
    issued = state(not_before=NOW, not_after=NOW + minute)
    assert not plan.is_due(issued, NOW + minute / 2)
    assert plan.is_due(issued, NOW + minute * 2 / 3)


def test_failures_back_off_doubling_up_to_a_day() -> None:
    base = dt.timedelta(minutes=5)
    waits = [plan.backoff(n, base) for n in range(1, 8)]
    assert waits[:3] == [base, 2 * base, 4 * base]
    assert all(w <= DAY for w in waits)
    assert plan.after_failure(plan.MAX_ATTEMPTS - 1) == plan.FAILING
    assert plan.after_failure(plan.MAX_ATTEMPTS) == plan.FAILED
    backing_off = state(status=plan.FAILING, attempts=2, next_attempt_at=NOW + base)
    assert not plan.is_due(backing_off, NOW)
    assert plan.is_due(backing_off, NOW + base)


def test_wildcards_cover_one_label() -> None:
    assert plan.covered("www.example.com", ["*.example.com"])
    assert not plan.covered("a.b.example.com", ["*.example.com"])
    assert not plan.covered("example.com", ["*.example.com"])
    assert plan.covered("EXAMPLE.com", ["example.com"])


def test_a_key_that_is_not_the_certificates_is_refused(tmp_path: Path) -> None:
    one = ensure_certificates(tmp_path / "one", "one.test", [])
    two = ensure_certificates(tmp_path / "two", "two.test", [])
    with pytest.raises(InvalidParams, match="does not match the certificate"):
        check_pair(one.cert.read_text(), two.key.read_text(), NOW)
    with pytest.raises(InvalidParams, match="not a PEM certificate"):
        check_pair("hello", two.key.read_text(), NOW)
    with pytest.raises(InvalidParams, match="not an unencrypted PEM key"):
        check_pair(one.cert.read_text(), "nope", NOW)
    info = check_pair(one.cert.read_text(), one.key.read_text(), NOW)
    assert info.names


def test_an_acme_directory_that_is_down_is_one_sentence(tmp_path: Path) -> None:
    responder = ChallengeResponder()
    responder.start()
    try:
        url = f"https://127.0.0.1:{free_port()}/dir"
        result = AcmeIssuer(url, None, tmp_path / "account.key", responder).issue("a.example.com")
    finally:
        responder.close()
    assert result.cert_pem is None
    assert result.error == f"The ACME directory {url} could not be reached (ConnectionError)."


def test_a_rate_limit_names_when_to_come_back() -> None:
    detail = (
        "too many certificates (5) already issued for this exact set of identifiers in the "
        "last 168h0m0s, retry after 2026-12-01 13:00:00 UTC: see https://letsencrypt.org/"
    )
    assert retry_after(detail, NOW) == 13 * 3600
    assert retry_after("no time named", NOW) is None
