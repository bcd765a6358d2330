"""The heroku-redis provider: provision, deprovision, config, info, rotate, start, stop.

Rotation changes the `default` user's password live (ACL SETUSER), disconnects
its clients and rewrites the config file.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from slipway.addons._files import read_json
from slipway.addons._names import new_password, random_name
from slipway.addons._ports import pick_port
from slipway.addons._programs import which
from slipway.addons.errors import (
    AddonError,
    InvalidOptions,
    PortInUse,
    ProviderUnavailable,
    UnknownPlan,
)
from slipway.addons.provider import AddonSettings, Plan, PlanChange, Provisioned
from slipway.addons.redis.resp import RespError, parse_info
from slipway.addons.redis.server import HOST, RedisServers, password_hash
from slipway.addons.redis.service import (
    MAXMEMORY_POLICIES,
    PLAN_LIMITS,
    PLANS,
    SERVICE,
    SERVICE_NAME,
)
from slipway.addons.redis.supervisor import Supervisor

log = logging.getLogger("slipway.addons.redis")


class RedisProvider:
    """The heroku-redis provider. Construction does no I/O; `start()` brings servers back."""

    service = SERVICE

    def __init__(self, data_dir: Path, settings: AddonSettings | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.settings = settings or AddonSettings()
        self.root = self.data_dir / "addons" / "redis"
        self.servers = RedisServers(self.root, self.settings)
        self.supervisor = Supervisor(self.servers)
        self._lock = threading.RLock()

    def resource_ids(self) -> list[str]:
        """Every provisioned resource (for reconciling with the platform's records)."""
        states = self.servers.states()
        return [s["resource_id"] for s in states if s.get("status") == "provisioned"]

    # -- the Provider protocol

    def provision(self, resource_name: str, plan: Plan, options: Mapping[str, str]) -> Provisioned:
        if plan.name not in PLAN_LIMITS:
            raise UnknownPlan(
                f"The {SERVICE_NAME} service has no plan {plan.name}; available plans: "
                + ", ".join(p.short_name for p in PLANS)
                + "."
            )
        policy = self._policy(options)
        self.servers.version()
        with self._lock:
            taken = {int(s["port"]) for s in self.servers.states() if s.get("port")}
            rid = random_name("r")
            directory = self.servers.directory(rid)
            state: dict[str, Any] = {
                "resource_id": rid,
                "resource_name": resource_name,
                "plan": plan.name,
                "port": 0,
                "password": new_password(),
                "admin_password": new_password(),
                "maxmemory_policy": policy,
                "created_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
                "status": "provisioning",
            }
            try:
                self.servers.prepare_dir(directory, self.servers.user())
                for _ in range(5):
                    state["port"] = pick_port(self.settings.redis_ports, taken, "a redis add-on")
                    taken.add(state["port"])
                    self.servers.save(state)
                    try:
                        self.supervisor.start(state)
                        break
                    except PortInUse:
                        continue  # taken between the check and redis' bind: the next one
                else:
                    raise ProviderUnavailable(
                        "Five ports in a row were taken while redis-server started; "
                        "try again or widen the redis port range."
                    )
                state["status"] = "provisioned"
                self.servers.save(state)
            except BaseException:
                self.supervisor.discard(directory)
                raise
        log.info("provisioned %s for %s on port %d", rid, resource_name, state["port"])
        return Provisioned(resource_id=rid, config={"URL": self.servers.url(state)})

    @staticmethod
    def _policy(options: Mapping[str, str]) -> str:
        opts = {key.replace("-", "_"): value for key, value in options.items()}
        unknown = sorted(set(opts) - {"maxmemory_policy"})
        if unknown:
            raise InvalidOptions(
                f"The {SERVICE_NAME} service does not take --{', --'.join(unknown)}; "
                "the only option is --maxmemory_policy."
            )
        policy = opts.get("maxmemory_policy", "noeviction")
        if policy not in MAXMEMORY_POLICIES:
            raise InvalidOptions(
                f"The maxmemory policy {policy!r} does not exist; use one of "
                + ", ".join(MAXMEMORY_POLICIES)
                + "."
            )
        return policy

    def deprovision(self, resource_id: str) -> None:
        directory = self.servers.directory(resource_id)
        with self._lock:
            if directory.exists() or self.supervisor.supervises(resource_id):
                self.supervisor.discard(directory)
                log.info("deprovisioned %s", resource_id)

    def config(self, resource_id: str) -> dict[str, str]:
        return {"URL": self.servers.url(self.servers.load(resource_id))}

    def info(self, resource_id: str) -> list[tuple[str, str]]:
        state = self.servers.load(resource_id)
        plan = next(p for p in PLANS if p.name == state["plan"])
        limits = PLAN_LIMITS[plan.name]
        status, version, memory, clients = "Available", "?", "?", "?"
        try:
            with self.servers.admin(state) as client:
                info = parse_info(client.call("INFO"))
            version = info.get("redis_version", "?")
            memory = f"{info.get('used_memory_human', '?')} of {limits.maxmemory_mb} MB"
            clients = str(max(0, int(info.get("connected_clients", "1")) - 1))
        except (OSError, RespError) as exc:
            status = f"Unavailable: redis-server is not answering on port {state['port']} ({exc})."
        created = datetime.fromisoformat(state["created_at"]).strftime("%Y-%m-%d %H:%M UTC")
        return [
            ("Plan", plan.human_name),
            ("Status", status),
            ("Version", version),
            ("Port", str(state["port"])),
            ("Memory", memory),
            ("Clients", f"{clients}/{limits.maxclients}"),
            ("Persistence", limits.persistence),
            ("Maxmemory Policy", state["maxmemory_policy"]),
            ("Created", created),
            ("Add-on", str(state.get("resource_name", ""))),
        ]

    def rotate_credentials(self, resource_id: str) -> dict[str, str]:
        with self._lock:
            state = self.servers.load(resource_id)
            password = new_password()
            if self.supervisor.running(resource_id):
                try:
                    with self.servers.admin(state) as client:
                        client.call(
                            "ACL", "SETUSER", "default", "resetpass", f"#{password_hash(password)}"
                        )
                        client.call("CLIENT", "KILL", "USER", "default")
                except (OSError, RespError) as exc:
                    raise ProviderUnavailable(
                        f"Could not set a new password on the redis-server for "
                        f"{state['resource_name']} (port {state['port']}): {exc}; try again."
                    ) from None
            state["password"] = password
            self.servers.save(state)
            self.servers.write_conf(state)
        log.info("rotated the credentials of %s", resource_id)
        return {"URL": self.servers.url(state)}

    def start(self) -> None:
        """Start every add-on's redis-server; raises the failures after trying them all."""
        failures: list[AddonError] = []
        with self._lock:
            if not self.root.exists():
                return
            for directory in sorted(p for p in self.root.iterdir() if p.is_dir()):
                state = None
                with contextlib.suppress(OSError, ValueError):
                    state = read_json(directory / "state.json")
                if state is None or state.get("status") != "provisioned":
                    log.info("removing %s, left by an interrupted provision", directory.name)
                    self.supervisor.discard(directory)
                    continue
                try:
                    self.supervisor.start(state)
                except AddonError as exc:
                    failures.append(exc)
        if len(failures) == 1:
            raise failures[0]
        if failures:
            raise ProviderUnavailable(" ".join(f.message for f in failures))

    def stop(self) -> None:
        with self._lock:
            self.supervisor.stop_all()

    def change_plan(self, resource_id: str, plan: Plan) -> PlanChange:
        """maxmemory, maxclients and AOF persistence change live (CONFIG SET), and the
        config file is rewritten so a restart keeps them."""
        if plan.name not in PLAN_LIMITS:
            raise UnknownPlan(f"The {SERVICE_NAME} service has no plan {plan.name}.")
        limits = PLAN_LIMITS[plan.name]
        with self._lock:
            state = self.servers.load(resource_id)
            if self.supervisor.running(resource_id):
                try:
                    with self.servers.admin(state) as client:
                        client.call("CONFIG", "SET", "maxmemory", f"{limits.maxmemory_mb}mb")
                        client.call("CONFIG", "SET", "maxclients", str(limits.maxclients))
                        client.call("CONFIG", "SET", "appendonly", "yes" if limits.aof else "no")
                        # Turning AOF on rewrites the file in the background; a SHUTDOWN
                        # during that rewrite is refused, so let it finish first.
                        for _ in range(100):
                            persistence = parse_info(client.call("INFO", "persistence"))
                            if persistence.get("aof_rewrite_in_progress", "0") == "0" and (
                                persistence.get("aof_rewrite_scheduled", "0") == "0"
                            ):
                                break
                            time.sleep(0.05)
                except (OSError, RespError) as exc:
                    raise ProviderUnavailable(
                        f"Could not apply the new limits to the redis-server of "
                        f"{state['resource_name']} (port {state['port']}): {exc}; try again."
                    ) from None
            state["plan"] = plan.name
            self.servers.save(state)
            self.servers.write_conf(state)
        return PlanChange(
            f"The limits of {limits.maxmemory_mb} MB and {limits.maxclients} clients apply now "
            f"({limits.persistence}); no restart was needed."
        )

    # -- beyond the protocol

    def cli_command(self, resource_id: str) -> tuple[list[str], dict[str, str]]:
        """argv and extra environment for `redis:cli` (the password in REDISCLI_AUTH)."""
        state = self.servers.load(resource_id)
        cli = which(self.settings.redis_cli_bin)
        if cli is None:
            raise ProviderUnavailable(
                f"The program {self.settings.redis_cli_bin} was not found; install the "
                "redis-tools package."
            )
        return [cli, "-h", HOST, "-p", str(state["port"])], {"REDISCLI_AUTH": state["password"]}
