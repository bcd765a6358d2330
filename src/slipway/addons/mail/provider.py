"""The slipway-mail provider: an SMTP login and an inbox per add-on, on one submission server.

    <data_dir>/addons/mail/
        server.json               the submission port (chosen once, kept)
        tls/                      its certificate (from the platform's CA) and key
        dkim/<domain>.key         a DKIM key per sender domain
        <resource_id>/state.json  login, password, plan
        <resource_id>/inbox/      the messages it accepted (the newest 1,000)

The submission server runs inside the platform while there is at least one
mail add-on; acknowledged messages are on disk before the 250, so a crash of
the platform loses none.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import ssl
import tempfile
import threading
import urllib.parse
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from slipway.addons._files import private_dir, read_json, write_json, write_private
from slipway.addons._names import check_resource_id, new_password, random_name
from slipway.addons._ports import pick_port, port_is_free
from slipway.addons.errors import (
    InvalidOptions,
    PortInUse,
    ProviderUnavailable,
    ResourceNotFound,
)
from slipway.addons.mail.dkim_keys import DkimKeys
from slipway.addons.mail.inbox import Inboxes
from slipway.addons.mail.relay import Outgoing, Relay, Smarthost
from slipway.addons.mail.service import PLAN_LIMITS, SERVICE, SERVICE_NAME
from slipway.addons.mail.smtp import Account, Accounts, Handler, SubmissionServer, sender_domain
from slipway.addons.provider import AddonSettings, Plan, PlanChange, Provisioned
from slipway.tls import addon_certificate

log = logging.getLogger("slipway.addons.mail")


class MailProvider:
    """The slipway-mail provider (`SupportsInbox`: `self.inbox` is the add-ons' inboxes)."""

    service = SERVICE

    def __init__(self, data_dir: Path, settings: AddonSettings | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.settings = settings or AddonSettings()
        self.root = self.data_dir / "addons" / "mail"
        self.inbox = Inboxes(self.root)
        self.dkim = DkimKeys(self.root)
        self.accounts = Accounts()
        self._lock = threading.RLock()
        self._server: SubmissionServer | None = None
        self._relay: Relay | None = None

    # -- state

    def _path(self, resource_id: str) -> Path:
        check_resource_id(resource_id, SERVICE_NAME)
        return self.root / resource_id / "state.json"

    def _load(self, resource_id: str) -> dict[str, Any]:
        path = self._path(resource_id)
        if not path.exists():
            raise ResourceNotFound(
                f"There is no {SERVICE_NAME} account {resource_id} on this Slipway; "
                "check the add-on name."
            )
        return read_json(path)

    def _save(self, state: Mapping[str, Any]) -> None:
        private_dir(self._path(state["resource_id"]).parent)
        write_json(self._path(state["resource_id"]), dict(state))
        self.accounts.by_login[state["login"]] = Account(
            state["resource_id"], state["password"], state["plan"], state["login"]
        )

    def _states(self) -> list[dict[str, Any]]:
        if not self.root.exists():
            return []
        found = []
        for path in sorted(self.root.glob("*/state.json")):
            with contextlib.suppress(OSError, ValueError):
                found.append(read_json(path))
        return found

    def resource_ids(self) -> list[str]:
        return [s["resource_id"] for s in self._states()]

    def port(self) -> int:
        return int(read_json(self.root / "server.json")["port"])

    def _config(self, state: Mapping[str, Any]) -> dict[str, str]:
        port = str(self.port())
        login, password = state["login"], state["password"]
        host = self.settings.url_host()
        return {
            "URL": f"smtp://{urllib.parse.quote(login, safe='')}:{password}@{host}:{port}",
            "SERVER": host,
            "PORT": port,
            "LOGIN": login,
            "PASSWORD": password,
        }

    # -- the submission server

    def _tls_context(self) -> ssl.SSLContext:
        hosts = ["localhost", *self.settings.listen_addresses()]
        chain, key = addon_certificate(self.data_dir, self.root / "ca", hosts)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        with tempfile.TemporaryDirectory() as tmp:
            cert_file, key_file = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
            cert_file.write_bytes(chain)
            write_private(key_file, key.decode())
            context.load_cert_chain(str(cert_file), str(key_file))
        return context

    def _ensure_server(self) -> None:
        with self._lock:
            if self._server is not None:
                return
            private_dir(self.root)
            server_state = self.root / "server.json"
            if server_state.exists():
                port = self.port()
            else:
                port = self.settings.smtp_port or pick_port(
                    self.settings.smtp_ports, set(), "slipway-mail's submission server"
                )
                write_json(server_state, {"port": port})
            if not all(port_is_free(port, host) for host in self.settings.listen_addresses()):
                raise PortInUse(
                    f"Port {port}, kept for slipway-mail, is in use by another program; stop "
                    "that program and start Slipway again.",
                    port,
                )
            handler = Handler(self.accounts, self._accept, self.inbox.sent_within)
            server = SubmissionServer(
                handler, self.settings.listen_addresses(), port, self._tls_context()
            )
            try:
                server.start()
            except Exception as exc:
                raise ProviderUnavailable(
                    f"slipway-mail's submission server did not start on port {port}: {exc}."
                ) from None
            self._server = server
            if self.settings.smtp_relay:
                self._relay = Relay(
                    Smarthost.parse(self.settings.smtp_relay), self.inbox.set_status
                )
            log.info(
                "slipway-mail accepts mail on %s, port %d",
                " and ".join(self.settings.listen_addresses()),
                port,
            )

    def _accept(
        self, resource_id: str, mail_from: str, recipients: list[str], content: bytes, now: datetime
    ) -> str:
        domain = sender_domain(mail_from, content)
        signed = content
        if domain is not None:
            try:
                signed = self.dkim.sign(content, domain)
            except ValueError as exc:
                log.warning("not signing a message from %r: %s", domain, exc)
        message_id = self.inbox.keep(resource_id, mail_from, recipients, signed, now)
        if self._relay is not None:
            self._relay.put(Outgoing(resource_id, message_id, mail_from, recipients, signed))
        else:
            self.inbox.set_status(resource_id, message_id, "kept")
        return message_id

    # -- the Provider protocol

    def provision(self, resource_name: str, plan: Plan, options: Mapping[str, str]) -> Provisioned:
        plan = SERVICE.plan_named(plan.name)
        if options:
            given = ", ".join(f"--{key}" for key in sorted(options))
            raise InvalidOptions(
                f"The {SERVICE_NAME} service takes no options (got {given}); remove them."
            )
        self._ensure_server()
        rid = random_name("e")
        state = {
            "resource_id": rid,
            "resource_name": resource_name,
            "plan": plan.name,
            "login": f"{rid}@{SERVICE_NAME}",
            "password": new_password(),
            "created_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        }
        self._save(state)
        log.info("provisioned %s for %s", rid, resource_name)
        return Provisioned(resource_id=rid, config=self._config(state))

    def deprovision(self, resource_id: str) -> None:
        path = self._path(resource_id)
        if path.exists():
            state = read_json(path)
            self.accounts.by_login.pop(state["login"], None)
        self.inbox.forget(resource_id)
        shutil.rmtree(path.parent, ignore_errors=True)

    def config(self, resource_id: str) -> dict[str, str]:
        return self._config(self._load(resource_id))

    def info(self, resource_id: str) -> list[tuple[str, str]]:
        state = self._load(resource_id)
        plan = SERVICE.plan_named(state["plan"])
        limits = PLAN_LIMITS[plan.name]
        now = datetime.now(UTC)
        sent = self.inbox.sent_within(resource_id, now, timedelta(hours=1))
        kept = len(self.inbox.list_messages(resource_id, limit=1000))
        created = datetime.fromisoformat(state["created_at"]).strftime("%Y-%m-%d %H:%M UTC")
        return [
            ("Plan", plan.human_name),
            ("Status", "Available" if self._server is not None else "Not running"),
            ("Server", f"{self.settings.url_host()}:{self.port()} (STARTTLS, AUTH PLAIN/LOGIN)"),
            ("Login", state["login"]),
            ("Sent This Hour", f"{sent}/{limits.per_hour}"),
            ("Max Message Size", f"{limits.max_bytes // (1024 * 1024)} MB"),
            ("Inbox", f"{kept} messages (the newest 1,000 are kept)"),
            ("Relay", "to the operator's smarthost" if self.settings.smtp_relay else "none"),
            ("DKIM", "signed per sender domain, selector slipway"),
            ("Created", created),
            ("Add-on", str(state.get("resource_name", ""))),
        ]

    def rotate_credentials(self, resource_id: str) -> dict[str, str]:
        with self._lock:
            state = self._load(resource_id)
            state["password"] = new_password()
            self._save(state)
        return self._config(state)

    def change_plan(self, resource_id: str, plan: Plan) -> PlanChange:
        plan = SERVICE.plan_named(plan.name)
        with self._lock:
            state = self._load(resource_id)
            state["plan"] = plan.name
            self._save(state)
        limits = PLAN_LIMITS[plan.name]
        return PlanChange(
            f"The limits of {limits.per_hour:,} messages an hour and "
            f"{limits.max_bytes // (1024 * 1024)} MB a message apply now; no restart was needed."
        )

    def dkim_record(self, domain: str) -> str:
        return self.dkim.record(domain)

    def start(self) -> None:
        states = self._states()
        for state in states:
            self._save(state)
        if not states:
            return
        self._ensure_server()
        if self._relay is not None:
            for state in states:
                rid = state["resource_id"]
                for message_id in self.inbox.queued(rid):
                    meta = self.inbox.message(rid, message_id)
                    self._relay.put(
                        Outgoing(rid, message_id, meta.mail_from, list(meta.recipients), meta.raw)
                    )

    def stop(self) -> None:
        with self._lock:
            if self._server is not None:
                self._server.stop()
                self._server = None
            if self._relay is not None:
                self._relay.close()
                self._relay = None
