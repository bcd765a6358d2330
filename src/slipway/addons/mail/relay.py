"""Relaying slipway-mail's messages to the operator's smarthost (`--smtp-relay`).

`smtp://USER:PASS@HOST:587` (STARTTLS when the smarthost offers it, then AUTH
when a user is given) or `smtps://...:465` (TLS from the start). Messages go
out from one worker thread, in the order accepted, each tried three times;
the inbox records `relayed` or `relay failed: <reason>`. Messages accepted
but not relayed when the platform stopped are relayed at the next start.
"""

from __future__ import annotations

import logging
import queue
import smtplib
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

from slipway.addons.errors import ProviderUnavailable, redact

log = logging.getLogger("slipway.addons.mail")


@dataclass(frozen=True)
class Smarthost:
    host: str
    port: int
    user: str | None
    password: str | None
    implicit_tls: bool

    @staticmethod
    def parse(url: str) -> Smarthost:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ProviderUnavailable(
                "The SMTP relay is not valid; pass --smtp-relay as smtp://USER:PASS@HOST:587."
            )
        implicit = parts.scheme == "smtps"
        return Smarthost(
            host=parts.hostname,
            port=parts.port or (465 if implicit else 587),
            user=urllib.parse.unquote(parts.username) if parts.username else None,
            password=urllib.parse.unquote(parts.password) if parts.password else None,
            implicit_tls=implicit,
        )

    def send(self, mail_from: str, recipients: list[str], raw: bytes) -> None:
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if self.implicit_tls:
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=30, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=30)
        with client:
            client.ehlo()
            if not self.implicit_tls and client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()
            if self.user:
                client.login(self.user, self.password or "")
            client.sendmail(mail_from, recipients, raw)


@dataclass(frozen=True)
class Outgoing:
    resource_id: str
    message_id: str
    mail_from: str
    recipients: list[str]
    raw: bytes


class Relay:
    """One worker thread sending queued messages to the smarthost."""

    attempts = 3

    def __init__(self, smarthost: Smarthost, report: Callable[[str, str, str], None]) -> None:
        self.smarthost = smarthost
        self.report = report  # (resource_id, message_id, status)
        self._queue: queue.Queue[Outgoing | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="mail-relay", daemon=True)
        self._thread.start()

    def put(self, message: Outgoing) -> None:
        self._queue.put(message)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(10)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            status = "relay failed: no attempt"
            for attempt in range(self.attempts):
                try:
                    self.smarthost.send(item.mail_from, item.recipients, item.raw)
                    status = "relayed"
                    break
                except (OSError, smtplib.SMTPException) as exc:
                    reason = redact(str(exc), self.smarthost.password)
                    status = f"relay failed: {' '.join(reason.split())[:200]}"
                    log.warning(
                        "relaying %s failed (try %d): %s", item.message_id, attempt + 1, reason
                    )
                    time.sleep(0.5 * (attempt + 1))
            self.report(item.resource_id, item.message_id, status)
