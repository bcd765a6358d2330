"""The memcachier provider: provision, deprovision, config, info, rotate, plans, start, stop."""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bmemcached

from slipway.addons._names import new_password, random_name
from slipway.addons._ports import pick_port
from slipway.addons.errors import AddonError, InvalidOptions, ProviderUnavailable
from slipway.addons.memcached.server import HOST, MemcachedServers
from slipway.addons.memcached.service import PLAN_LIMITS, SERVICE, SERVICE_NAME
from slipway.addons.provider import AddonSettings, Plan, PlanChange, Provisioned

log = logging.getLogger("slipway.addons.memcached")


class MemcachedProvider:
    """The memcachier provider. Construction does no I/O; `start()` brings servers back."""

    service = SERVICE

    def __init__(self, data_dir: Path, settings: AddonSettings | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.settings = settings or AddonSettings()
        self.root = self.data_dir / "addons" / "memcached"
        self.servers = MemcachedServers(self.root, self.settings)
        self._lock = threading.RLock()

    def resource_ids(self) -> list[str]:
        return [s["resource_id"] for s in self.servers.states() if s.get("status") == "provisioned"]

    def _config(self, state: Mapping[str, Any]) -> dict[str, str]:
        return {
            "SERVERS": f"{self.settings.url_host()}:{state['port']}",
            "USERNAME": state["username"],
            "PASSWORD": state["password"],
        }

    # -- the Provider protocol

    def provision(self, resource_name: str, plan: Plan, options: Mapping[str, str]) -> Provisioned:
        plan = SERVICE.plan_named(plan.name)
        if options:
            given = ", ".join(f"--{key}" for key in sorted(options))
            raise InvalidOptions(
                f"The {SERVICE_NAME} service takes no options (got {given}); remove them."
            )
        self.servers.binary()
        self.servers.saslpasswd2()
        user = self.servers.user()
        with self._lock:
            taken = {int(s["port"]) for s in self.servers.states() if s.get("port")}
            rid = random_name("m")
            state: dict[str, Any] = {
                "resource_id": rid,
                "resource_name": resource_name,
                "plan": plan.name,
                "port": pick_port(self.settings.memcached_ports, taken, "a memcachier add-on"),
                "username": random_name("u", 10),
                "password": new_password(),
                "created_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
                "status": "provisioning",
            }
            directory = self.servers.directory(rid)
            try:
                self.servers.prepare_dir(directory, user)
                self.servers.save(state)
                self.servers.set_password(state)
                self.servers.daemon(state).start()
                state["status"] = "provisioned"
                self.servers.save(state)
            except BaseException:
                self._discard(rid)
                raise
        log.info("provisioned %s for %s on port %d", rid, resource_name, state["port"])
        return Provisioned(resource_id=rid, config=self._config(state))

    def _discard(self, resource_id: str) -> None:
        directory = self.servers.directory(resource_id)
        with contextlib.suppress(AddonError, OSError, ValueError):
            state = self.servers.load(resource_id)
            daemon = self.servers.daemon(state)
            daemon.spec.stop_signal = 15  # no need to save a cache that is going away
            daemon.stop()
        self.servers.forget(resource_id)
        shutil.rmtree(directory, ignore_errors=True)

    def deprovision(self, resource_id: str) -> None:
        with self._lock:
            if self.servers.directory(resource_id).exists():
                self._discard(resource_id)
                log.info("deprovisioned %s", resource_id)

    def config(self, resource_id: str) -> dict[str, str]:
        return self._config(self.servers.load(resource_id))

    def _client(self, state: Mapping[str, Any]) -> Any:
        return bmemcached.Client(
            [f"{HOST}:{state['port']}"], state["username"], state["password"], socket_timeout=3
        )

    def info(self, resource_id: str) -> list[tuple[str, str]]:
        state = self.servers.load(resource_id)
        plan = SERVICE.plan_named(state["plan"])
        limits = PLAN_LIMITS[plan.name]
        status, version, used, items, connections = "Available", "?", "?", "?", "?"
        try:
            client = self._client(state)
            try:
                stats: dict[str, Any] = next(iter(client.stats().values()), {})
            finally:
                client.disconnect_all()
            if not stats:
                raise OSError("no answer")

            def stat(name: str) -> str:
                value = stats.get(name, b"0")
                return value.decode() if isinstance(value, bytes) else str(value)

            version = stat("version")
            used = f"{int(stat('bytes')) / 1048576:.1f} MB of {limits.memory_mb} MB"
            items = stat("curr_items")
            # Our own stats connection is one of them.
            connections = str(max(0, int(stat("curr_connections")) - 1))
        except (OSError, ValueError, bmemcached.exceptions.MemcachedException) as exc:
            status = f"Unavailable: memcached is not answering on port {state['port']} ({exc})."
        created = datetime.fromisoformat(state["created_at"]).strftime("%Y-%m-%d %H:%M UTC")
        return [
            ("Plan", plan.human_name),
            ("Status", status),
            ("Version", version),
            ("Servers", f"{self.settings.url_host()}:{state['port']}"),
            ("Memory", used),
            ("Items", items),
            ("Connections", f"{connections}/{limits.connections}"),
            ("Created", created),
            ("Add-on", str(state.get("resource_name", ""))),
        ]

    def rotate_credentials(self, resource_id: str) -> dict[str, str]:
        """A new password in the add-on's sasldb; memcached checks it at every new connection."""
        with self._lock:
            state = self.servers.load(resource_id)
            state["password"] = new_password()
            self.servers.set_password(state)
            self.servers.save(state)
        log.info("rotated the credentials of %s", resource_id)
        return self._config(state)

    def change_plan(self, resource_id: str, plan: Plan) -> PlanChange:
        """memcached takes its memory size at start only: the add-on's server is restarted
        with the new size, and the cache starts empty."""
        plan = SERVICE.plan_named(plan.name)
        with self._lock:
            state = self.servers.load(resource_id)
            old = state["plan"]
            if old == plan.name:
                return PlanChange(f"{state['resource_name']} is already on {plan.human_name}.")
            daemon = self.servers.daemon(state)
            state["plan"] = plan.name
            self.servers.save(state)
            try:
                daemon.stop()
                self.servers.drop_cache(resource_id)
                daemon.start()
            except AddonError:
                state["plan"] = old
                self.servers.save(state)
                with contextlib.suppress(AddonError):
                    daemon.start()
                raise
        limits = PLAN_LIMITS[plan.name]
        return PlanChange(
            f"memcached needs a restart for a new memory size: it was restarted with "
            f"{limits.memory_mb} MB and {limits.connections} connections, and the cache is empty.",
            restarted=True,
        )

    def start(self) -> None:
        """Start (or adopt, after a crash of the platform) every add-on's memcached."""
        failures: list[AddonError] = []
        with self._lock:
            for state in self.servers.states():
                rid = state["resource_id"]
                if state.get("status") != "provisioned":
                    log.info("removing %s, left by an interrupted provision", rid)
                    self._discard(rid)
                    continue
                try:
                    # Adopts the memcached a crash of the platform left running (its cache
                    # intact), else starts it from its saved cache.
                    daemon = self.servers.daemon(state)
                    if not daemon.running():
                        self.servers.wait_restartable(rid)
                    daemon.start()
                except AddonError as exc:
                    failures.append(exc)
        if len(failures) == 1:
            raise failures[0]
        if failures:
            raise ProviderUnavailable(" ".join(f.message for f in failures))

    def stop(self) -> None:
        with self._lock:
            for daemon in self.servers.daemons():
                daemon.stop()
