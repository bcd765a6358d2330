"""The ACME client: one certificate per host name, validated over HTTP-01.

`AcmeIssuer.issue(hostname)` registers the account on first use (its key is kept in
the data dir, so a restart is the same account), orders a certificate for the name,
answers the HTTP-01 challenge through the responder, finalises with a fresh key
and returns the chain and key, or one sentence saying why not (acm_status_reason).
Blocking network I/O; the platform calls it from its certificate thread.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import requests
from acme import challenges, client, crypto_util, errors, messages
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from josepy.jwk import JWKRSA

from slipway.certs.responder import ChallengeResponder
from slipway.privatefile import write_private

log = logging.getLogger("slipway.certs.acme")

LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"
USER_AGENT = "slipway-acm"


@dataclass(frozen=True)
class Issued:
    cert_pem: str | None = None
    key_pem: str | None = None
    error: str | None = None
    retry_after: float | None = None


def _account_key(path: Path) -> JWKRSA:
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private(
            path,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
    assert isinstance(key, rsa.RSAPrivateKey)
    return JWKRSA(key=key)


class AcmeIssuer:
    """Fills the platform's `CertificateIssuer` port."""

    def __init__(
        self,
        directory_url: str,
        email: str | None,
        account_key_file: Path,
        responder: ChallengeResponder,
        *,
        ca_bundle: Path | None = None,
        timeout: float = 90.0,
    ) -> None:
        self.directory_url = directory_url
        self.email = email
        self.account_key_file = account_key_file
        self._responder = responder
        self.ca_bundle = ca_bundle
        self.timeout = timeout
        self._client: client.ClientV2 | None = None
        self._lock = threading.Lock()

    @property
    def responder(self) -> str:
        return self._responder.address

    def _connect(self) -> client.ClientV2:
        if self._client is not None:
            return self._client
        verify: bool | str = str(self.ca_bundle) if self.ca_bundle else True
        net = client.ClientNetwork(
            _account_key(self.account_key_file),
            verify_ssl=verify,  # type: ignore[arg-type]  # requests takes a CA bundle too
            user_agent=USER_AGENT,
            timeout=30,
        )
        directory = client.ClientV2.get_directory(self.directory_url, net)
        acme = client.ClientV2(directory, net)
        registration = messages.NewRegistration.from_data(
            email=self.email, terms_of_service_agreed=True
        )
        try:
            acme.new_account(registration)
        except errors.ConflictError as exists:
            # The key is registered already (a restart): use that account.
            net.account = messages.RegistrationResource(
                uri=exists.location, body=messages.Registration()
            )
        self._client = acme
        return acme

    def issue(self, hostname: str) -> Issued:
        with self._lock:
            try:
                return self._issue(hostname)
            except requests.exceptions.RequestException as exc:
                self._client = None
                return Issued(
                    error=(
                        f"The ACME directory {self.directory_url} could not be reached "
                        f"({type(exc).__name__})."
                    )
                )
            except errors.ValidationError as exc:
                return Issued(error=_validation_reason(hostname, exc))
            except errors.TimeoutError:
                return Issued(
                    error=f"The certificate authority did not validate {hostname} in time."
                )
            except messages.Error as exc:
                self._client = None if exc.code == "badNonce" else self._client
                retry = retry_after(exc.detail or "") if exc.code == "rateLimited" else None
                return Issued(error=_ca_error(hostname, exc), retry_after=retry)
            except errors.Error as exc:
                self._client = None
                return Issued(error=f"The ACME exchange for {hostname} failed: {exc}.")

    def _issue(self, hostname: str) -> Issued:
        acme = self._connect()
        key = ec.generate_private_key(ec.SECP256R1())
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        order = acme.new_order(crypto_util.make_csr(key_pem, [hostname]))
        tokens: list[str] = []
        try:
            for authz in order.authorizations:
                if authz.body.status == messages.STATUS_VALID:
                    continue
                http01 = next(
                    (c for c in authz.body.challenges if isinstance(c.chall, challenges.HTTP01)),
                    None,
                )
                if http01 is None:
                    return Issued(
                        error=f"The certificate authority offers no HTTP-01 challenge "
                        f"for {hostname}."
                    )
                response, validation = http01.response_and_validation(acme.net.key)
                token = http01.chall.encode("token")
                self._responder.put(token, validation)
                tokens.append(token)
                acme.answer_challenge(http01, response)
            deadline = dt.datetime.now() + dt.timedelta(seconds=self.timeout)
            done = acme.poll_and_finalize(order, deadline)
        finally:
            for token in tokens:
                self._responder.remove(token)
        return Issued(cert_pem=done.fullchain_pem, key_pem=key_pem.decode())


def _validation_reason(hostname: str, exc: errors.ValidationError) -> str:
    details = []
    for authz in exc.failed_authzrs:
        for chall in authz.body.challenges:
            if chall.error is not None:
                details.append(chall.error.detail or chall.error.code or "no detail")
    detail = "; ".join(details) or "the CA gave no detail"
    return (
        f"The certificate authority could not validate {hostname} ({detail}); point its DNS "
        "at this server and make sure port 80 reaches it."
    )


_RETRY_AFTER = re.compile(r"retry after (\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d)", re.IGNORECASE)


def retry_after(detail: str, now: dt.datetime | None = None) -> float | None:
    """Seconds until the time a rate-limit message names ("... retry after 2026-12-01
    13:00:00 UTC", as Let's Encrypt says), so the back-off waits at least that long."""
    match = _RETRY_AFTER.search(detail)
    if match is None:
        return None
    when = dt.datetime.fromisoformat(match[1].replace(" ", "T")).replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


def _ca_error(hostname: str, exc: messages.Error) -> str:
    if exc.code == "rateLimited":
        return f"The certificate authority is rate limiting requests for {hostname} ({exc.detail})."
    return f"The certificate authority refused {hostname} ({exc.detail or exc.code})."
