"""What the dashboard's Settings page says about each domain's certificate."""

from __future__ import annotations

import dataclasses
import datetime as dt

from slipway.platform import views
from slipway.platform.summaries import certificate_status

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
DOMAIN = views.Domain("d1", "a1", "app", "www.example.com", "custom", None, NOW, NOW)


def test_each_acm_status_is_said_in_one_sentence_with_its_reason() -> None:
    def said(
        acm_status: str | None = None,
        acm_status_reason: str | None = None,
        sni_endpoint: str | None = None,
    ) -> str:
        domain = dataclasses.replace(
            DOMAIN,
            acm_status=acm_status,
            acm_status_reason=acm_status_reason,
            sni_endpoint=sni_endpoint,
        )
        return certificate_status(domain)

    assert said() == "HTTPS with a certificate from the platform's CA, made by the router"
    assert said(acm_status="cert issued") == (
        "HTTPS with a certificate from Automatic Certificate Management"
    )
    assert said(acm_status="pending").startswith("A certificate is being requested")
    assert said(acm_status="failing", acm_status_reason="DNS points elsewhere") == (
        "The certificate request is failing: DNS points elsewhere"
    )
    assert said(sni_endpoint="tokyo-1234") == (
        "HTTPS with the certificate tokyo-1234 added to this app"
    )
