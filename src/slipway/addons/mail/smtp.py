"""The submission server of slipway-mail: aiosmtpd with STARTTLS and AUTH, one per platform.

Every add-on has its own login; a session must STARTTLS (a certificate from the
platform's CA) before AUTH, and AUTH before MAIL. Then, per message: each
recipient must be an address (`553 5.1.3` otherwise), the message must fit the
add-on's plan (`552 5.3.4`), and the add-on must be within its plan's hourly
rate (`451 4.7.1`: a temporary refusal, so well-behaved senders retry later).
An accepted message is DKIM-signed for its sender's domain, written to the
add-on's inbox, and only then answered `250`; relaying happens afterwards.
"""

from __future__ import annotations

import logging
import re
import ssl
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.parser import BytesHeaderParser
from email.policy import default
from email.utils import getaddresses
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from slipway.addons.mail.service import PLAN_LIMITS

log = logging.getLogger("slipway.addons.mail")

# aiosmtpd 1.4 warns about its own use of a deprecated attribute at every AUTH, and logs
# every SMTP command at INFO: only its warnings about real trouble reach the platform's log.
warnings.filterwarnings("ignore", message="Session.login_data is deprecated")


class _NotDeprecation(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in record.getMessage()


logging.getLogger("mail.log").setLevel(logging.WARNING)
logging.getLogger("mail.log").addFilter(_NotDeprecation())

# Local part and domain, as RFC 5321 allows them in practice (no quoted local parts).
ADDRESS = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$"
)
MAX_BYTES = 26 * 1024 * 1024  # above the largest plan's limit; the plan's is checked per add-on


@dataclass(frozen=True)
class Account:
    resource_id: str
    password: str
    plan: str
    login: str = ""


class Accounts:
    """The logins the server accepts: one per add-on (the provider keeps it current)."""

    def __init__(self) -> None:
        self.by_login: dict[str, Account] = {}

    def authenticate(self, login: str, password: str) -> Account | None:
        import hmac

        account = self.by_login.get(login)
        if account is None or not hmac.compare_digest(
            account.password.encode(), password.encode("utf-8", "surrogatepass")
        ):
            return None
        return account


# (resource_id, MAIL FROM, recipients, content, now) -> the inbox id; raises on failure
Accept = Callable[[str, str, list[str], bytes, datetime], str]
SentWithin = Callable[[str, datetime, timedelta], int]


class Handler:
    def __init__(self, accounts: Accounts, accept: Accept, sent_within: SentWithin) -> None:
        self.accounts = accounts
        self.accept = accept
        self.sent_within = sent_within

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode(errors="replace")
        account = self.accounts.authenticate(login, auth_data.password.decode(errors="replace"))
        if account is None:
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=account)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if not ADDRESS.match(address):
            return (
                f"553 5.1.3 The recipient address <{address[:100]}> is not an address; "
                "use name@example.com."
            )
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        logged_in = session.auth_data
        # The add-on as it is now: its plan may have changed since this session logged in.
        account = (
            self.accounts.by_login.get(logged_in.login) if isinstance(logged_in, Account) else None
        )
        if account is None or account.resource_id != logged_in.resource_id:
            return "530 5.7.0 Authentication required; log in with the add-on's SMTP login."
        limits = PLAN_LIMITS[account.plan]
        content = envelope.original_content or b""
        if len(content) > limits.max_bytes:
            return (
                f"552 5.3.4 The message is {len(content):,} bytes, over this plan's "
                f"{limits.max_bytes:,}; send a smaller one or upgrade the plan."
            )
        now = datetime.now(UTC)
        if self.sent_within(account.resource_id, now, timedelta(hours=1)) >= limits.per_hour:
            return (
                f"451 4.7.1 This add-on sent {limits.per_hour} messages in the last hour, its "
                "plan's limit; try again later or upgrade the plan."
            )
        mail_from = envelope.mail_from or ""
        try:
            message_id = self.accept(
                account.resource_id, mail_from, list(envelope.rcpt_tos), content, now
            )
        except Exception:
            log.exception("could not keep a message for %s", account.resource_id)
            return "451 4.3.0 The message could not be stored; try again."
        return f"250 2.0.0 Ok: queued as {message_id}"


def sender_domain(mail_from: str, content: bytes) -> str | None:
    """The domain a message is signed for: its From header's, else the envelope sender's."""
    headers = BytesHeaderParser(policy=default).parsebytes(content)
    for _, address in getaddresses([str(headers.get("From", ""))]):
        if "@" in address:
            return address.rsplit("@", 1)[1].lower()
    if "@" in mail_from:
        return mail_from.rsplit("@", 1)[1].lower()
    return None


class _Controller(Controller):
    """aiosmtpd's Controller, listening on several addresses (one server, one event loop):
    asyncio's create_server takes a list of hosts; `hostname`, the first, is the one the
    Controller connects to when it checks that the server started. `_create_server` is
    the hook aiosmtpd's controllers are made to be subclassed by (abstract in its
    BaseController, "overridden by subclasses to perform the binding"), not an internal."""

    def __init__(self, handler: Handler, hosts: list[str], **kwargs: Any) -> None:
        super().__init__(handler, hostname=hosts[0], **kwargs)
        self.hosts = hosts

    def _create_server(self) -> Any:
        return self.loop.create_server(
            self._factory_invoker, host=self.hosts, port=self.port, ssl=self.ssl_context
        )


class SubmissionServer:
    """aiosmtpd's Controller on its own thread and event loop, on `hosts` (127.0.0.1 and
    the dyno bridge's address)."""

    def __init__(
        self, handler: Handler, hosts: list[str], port: int, context: ssl.SSLContext
    ) -> None:
        self.controller = _Controller(
            handler,
            hosts,
            port=port,
            server_hostname="slipway-mail",
            ident="Slipway Mail",
            tls_context=context,
            require_starttls=True,
            auth_require_tls=True,
            auth_required=True,
            authenticator=handler.authenticate,
            data_size_limit=MAX_BYTES,
            decode_data=False,
        )

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()
