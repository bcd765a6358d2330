"""The cloudamqp provider: provision, deprovision, config, info, rotate, plans, open, start, stop.

Each add-on is a vhost and a user of the same name on the embedded RabbitMQ or
on the broker of the admin URL: the user may configure, write and read its own
vhost only, and is tagged `management` so it sees that vhost (and nothing else)
in the management UI that `addons:open` logs it into. The plan's limits are
the vhost's own `max-connections` and `max-queues`, which RabbitMQ enforces
and which change live.
"""

from __future__ import annotations

import base64
import logging
import urllib.parse
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from slipway.addons._files import private_dir, read_json, write_json
from slipway.addons._names import check_resource_id, new_password, random_name
from slipway.addons.errors import AddonError, InvalidOptions, ResourceNotFound
from slipway.addons.provider import AddonSettings, OpenPage, Plan, PlanChange, Provisioned
from slipway.addons.rabbitmq.embedded import EmbeddedRabbit
from slipway.addons.rabbitmq.management import Broker, Management, parse_admin_url, quote
from slipway.addons.rabbitmq.service import PLAN_LIMITS, SERVICE, SERVICE_NAME

log = logging.getLogger("slipway.addons.rabbitmq")


class RabbitProvider:
    """The cloudamqp provider. Construction does no I/O; `start()` brings the server back."""

    service = SERVICE

    def __init__(self, data_dir: Path, settings: AddonSettings | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.settings = settings or AddonSettings()
        self.root = self.data_dir / "addons" / "rabbitmq"
        self.dir = self.root / "resources"
        self.embedded = EmbeddedRabbit(self.root, self.settings)

    # -- state

    def _path(self, resource_id: str) -> Path:
        check_resource_id(resource_id, SERVICE_NAME)
        return self.dir / f"{resource_id}.json"

    def _load(self, resource_id: str) -> dict[str, Any]:
        path = self._path(resource_id)
        if not path.exists():
            raise ResourceNotFound(
                f"There is no {SERVICE_NAME} vhost {resource_id} on this Slipway; "
                "check the add-on name."
            )
        return read_json(path)

    def _save(self, state: Mapping[str, Any]) -> None:
        private_dir(self.root.parent)
        private_dir(self.root)
        private_dir(self.dir)
        write_json(self._path(state["resource_id"]), dict(state))

    def _states(self) -> list[dict[str, Any]]:
        if not self.dir.exists():
            return []
        return [read_json(p) for p in sorted(self.dir.glob("*.json"))]

    def resource_ids(self) -> list[str]:
        return [s["resource_id"] for s in self._states() if s["status"] == "provisioned"]

    # -- brokers

    def _broker_for_new(self) -> tuple[Broker, str]:
        if self.settings.rabbitmq_admin_url:
            return self._external(), "external"
        self.embedded.ensure_running()
        return self.embedded.broker(), "embedded"

    def _external(self) -> Broker:
        assert self.settings.rabbitmq_admin_url
        return parse_admin_url(self.settings.rabbitmq_admin_url, self.settings.rabbitmq_amqp_port)

    def _broker(self, state: Mapping[str, Any]) -> Broker:
        if state["server"] == "embedded":
            self.embedded.ensure_running()
            return self.embedded.broker()
        if not self.settings.rabbitmq_admin_url:
            raise AddonError(
                f"The vhost {state['vhost']} lives on the RabbitMQ at {state['host']}:"
                f"{state['port']}, but no admin URL is configured; pass --rabbitmq-admin-url."
            )
        return self._external()

    def _host(self, state: Mapping[str, Any]) -> str:
        """The host apps reach AMQP on: the embedded broker's `listen_host` (also for add-ons
        made when their state named 127.0.0.1), or the admin URL's host."""
        return self.settings.url_host() if state["server"] == "embedded" else str(state["host"])

    def _url(self, state: Mapping[str, Any]) -> str:
        """CLOUDAMQP_URL: amqp://USER:PASSWORD@HOST:PORT/VHOST."""
        return (
            f"amqp://{state['user']}:{urllib.parse.quote(state['password'], safe='')}@"
            f"{self._host(state)}:{state['port']}/{quote(state['vhost'])}"
        )

    # -- the Provider protocol

    def provision(self, resource_name: str, plan: Plan, options: Mapping[str, str]) -> Provisioned:
        plan = SERVICE.plan_named(plan.name)
        if options:
            given = ", ".join(f"--{key}" for key in sorted(options))
            raise InvalidOptions(
                f"The {SERVICE_NAME} service takes no options (got {given}); remove them."
            )
        broker, kind = self._broker_for_new()
        api = Management(broker)
        rid = random_name("q")
        state: dict[str, Any] = {
            "resource_id": rid,
            "resource_name": resource_name,
            "plan": plan.name,
            "vhost": rid,
            "user": rid,
            "password": new_password(),
            "host": broker.amqp_host,
            "port": broker.amqp_port,
            "server": kind,
            "created_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
            "status": "provisioning",
        }
        api.call("GET", "/overview")  # down or refusing us: nothing is made
        self._save(state)
        try:
            vhost = quote(state["vhost"])
            api.call("PUT", f"/vhosts/{vhost}", {"description": resource_name})
            self._apply_limits(api, state["vhost"], plan)
            api.call(
                "PUT",
                f"/users/{quote(state['user'])}",
                {"password": state["password"], "tags": "management"},
            )
            api.call(
                "PUT",
                f"/permissions/{vhost}/{quote(state['user'])}",
                {"configure": ".*", "write": ".*", "read": ".*"},
            )
            state["status"] = "provisioned"
            self._save(state)
        except BaseException:
            self._remove(api, state)
            self._path(rid).unlink(missing_ok=True)
            raise
        log.info("provisioned %s for %s on %s", rid, resource_name, broker.label)
        return Provisioned(resource_id=rid, config={"URL": self._url(state)})

    @staticmethod
    def _apply_limits(api: Management, vhost: str, plan: Plan) -> None:
        limits = PLAN_LIMITS[plan.name]
        for name, value in (("max-connections", limits.connections), ("max-queues", limits.queues)):
            api.call("PUT", f"/vhost-limits/{quote(vhost)}/{name}", {"value": value})

    @staticmethod
    def _remove(api: Management, state: Mapping[str, Any]) -> None:
        try:
            api.call("DELETE", f"/users/{quote(state['user'])}", ok_missing=True)
            api.call("DELETE", f"/vhosts/{quote(state['vhost'])}", ok_missing=True)
        except AddonError as exc:
            log.warning("could not remove vhost %s: %s", state["vhost"], exc.message)

    def deprovision(self, resource_id: str) -> None:
        path = self._path(resource_id)
        if not path.exists():
            return
        state = read_json(path)
        api = Management(self._broker(state))
        # Deleting the user closes its connections; deleting the vhost its queues and messages.
        api.call("DELETE", f"/users/{quote(state['user'])}", ok_missing=True)
        api.call("DELETE", f"/vhosts/{quote(state['vhost'])}", ok_missing=True)
        path.unlink(missing_ok=True)
        log.info("deprovisioned %s (%s)", resource_id, state.get("resource_name"))

    def config(self, resource_id: str) -> dict[str, str]:
        return {"URL": self._url(self._load(resource_id))}

    def info(self, resource_id: str) -> list[tuple[str, str]]:
        state = self._load(resource_id)
        plan = SERVICE.plan_named(state["plan"])
        limits = PLAN_LIMITS[plan.name]
        status, version, connections, queues, messages = "Available", "?", "?", "?", "?"
        try:
            api = Management(self._broker(state))
            vhost = quote(state["vhost"])
            version = str(api.call("GET", "/overview").get("rabbitmq_version", "?"))
            connections = str(len(api.call("GET", f"/vhosts/{vhost}/connections") or []))
            listed = api.call("GET", f"/queues/{vhost}") or []
            queues = str(len(listed))
            messages = str(sum(int(q.get("messages", 0) or 0) for q in listed))
        except AddonError as exc:
            status = f"Unavailable: {exc.message}"
        created = datetime.fromisoformat(state["created_at"]).strftime("%Y-%m-%d %H:%M UTC")
        return [
            ("Plan", plan.human_name),
            ("Status", status),
            ("Version", version),
            ("Connections", f"{connections}/{limits.connections}"),
            ("Queues", f"{queues}/{limits.queues}"),
            ("Messages", messages),
            ("Vhost", state["vhost"]),
            ("Server", f"{self._host(state)}:{state['port']}"),
            ("Created", created),
            ("Add-on", str(state.get("resource_name", ""))),
        ]

    def rotate_credentials(self, resource_id: str) -> dict[str, str]:
        state = self._load(resource_id)
        api = Management(self._broker(state))
        password = new_password()
        api.call(
            "PUT", f"/users/{quote(state['user'])}", {"password": password, "tags": "management"}
        )
        for connection in api.call("GET", f"/vhosts/{quote(state['vhost'])}/connections") or []:
            if connection.get("user") == state["user"]:
                api.call("DELETE", f"/connections/{quote(connection['name'])}", ok_missing=True)
        state["password"] = password
        self._save(state)
        log.info("rotated the credentials of %s", resource_id)
        return {"URL": self._url(state)}

    def change_plan(self, resource_id: str, plan: Plan) -> PlanChange:
        """The vhost's limits change live: RabbitMQ applies them to new connections and
        queues (what is open beyond a lower limit stays open)."""
        plan = SERVICE.plan_named(plan.name)
        state = self._load(resource_id)
        self._apply_limits(Management(self._broker(state)), state["vhost"], plan)
        state["plan"] = plan.name
        self._save(state)
        limits = PLAN_LIMITS[plan.name]
        return PlanChange(
            f"The limits of {limits.connections} connections and {limits.queues} queues apply "
            "now; no restart was needed."
        )

    def open_page(self, resource_id: str) -> OpenPage:
        """The management UI, logged in as the add-on's own user (it sees its vhost only).

        The UI keeps its login in a cookie `auth` (base64 of USER:PASSWORD, URI-encoded),
        which it reads at load; the platform sets it on its redirect."""
        state = self._load(resource_id)
        broker = self._broker(state)
        token = base64.b64encode(f"{state['user']}:{state['password']}".encode()).decode()
        return OpenPage(f"{broker.api}/", {"auth": urllib.parse.quote(token, safe="")})

    def start(self) -> None:
        self.embedded.start()
        for state in self._states():
            if state.get("status") == "provisioning":
                try:
                    self._remove(Management(self._broker(state)), state)
                except AddonError as exc:
                    log.warning("could not clean up %s: %s", state["resource_id"], exc.message)
                    continue
                self._path(state["resource_id"]).unlink(missing_ok=True)

    def stop(self) -> None:
        self.embedded.stop()
