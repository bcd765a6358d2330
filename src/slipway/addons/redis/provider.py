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
from slipway.addons.provider import AddonSettings, Plan, PlanChange, Provisioned, Setting
from slipway.addons.redis.resp import RespClient, RespError, parse_info
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
            raise UnknownPlan(SERVICE.no_plan(plan.name))
        policy, tls_only = self._options(options)
        self.servers.version()
        tls = self.servers.tls_available()
        if tls_only and not tls:
            raise InvalidOptions(
                "This server has no certificate for add-ons, so --tls is not available; "
                "leave it out."
            )
        with self._lock:
            taken = {
                int(p)
                for s in self.servers.states()
                for p in (s.get("port"), s.get("tls_port"))
                if p
            }
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
                "timeout": 0,
                "notify_keyspace_events": "",
                "tls_only": tls_only,
                "created_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
                "status": "provisioning",
            }
            try:
                self.servers.prepare_dir(directory, self.servers.user())
                for _ in range(5):
                    state["port"] = pick_port(self.settings.redis_ports, taken, "a redis add-on")
                    taken.add(state["port"])
                    if tls:
                        state["tls_port"] = pick_port(
                            self.settings.redis_ports, taken, "a redis add-on's TLS"
                        )
                        taken.add(state["tls_port"])
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
        return Provisioned(resource_id=rid, config=self.servers.config(state))

    @staticmethod
    def _options(options: Mapping[str, str]) -> tuple[str, bool]:
        """`-- --maxmemory_policy allkeys-lru` and the bare flag `-- --tls` (REDIS_URL is
        then the rediss:// one): (policy, tls only)."""
        opts = {key.replace("-", "_"): value for key, value in options.items()}
        unknown = sorted(set(opts) - {"maxmemory_policy", "tls"})
        if unknown:
            raise InvalidOptions(
                f"The {SERVICE_NAME} service does not take --{', --'.join(unknown)}; "
                "its options are --maxmemory_policy POLICY and --tls."
            )
        if opts.get("tls", "true") not in ("true", "false"):
            raise InvalidOptions("The --tls option is a flag; give it without a value.")
        policy = opts.get("maxmemory_policy", "noeviction")
        if policy not in MAXMEMORY_POLICIES:
            raise InvalidOptions(
                f"The maxmemory policy {policy!r} does not exist; use one of "
                + ", ".join(MAXMEMORY_POLICIES)
                + "."
            )
        return policy, opts.get("tls") == "true"

    def deprovision(self, resource_id: str) -> None:
        directory = self.servers.directory(resource_id)
        with self._lock:
            if directory.exists() or self.supervisor.supervises(resource_id):
                self.supervisor.discard(directory)
                log.info("deprovisioned %s", resource_id)

    def config(self, resource_id: str) -> dict[str, str]:
        return self.servers.config(self.servers.load(resource_id))

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
            *([("TLS Port", str(state["tls_port"]))] if state.get("tls_port") else []),
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
        return self.servers.config(state)

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

    # -- capabilities: plan changes and settings

    def change_plan(self, resource_id: str, plan: Plan) -> PlanChange:
        """Memory, clients and persistence follow the plan at once (CONFIG SET), and in
        redis.conf for the next start; the data stays."""
        if plan.name not in PLAN_LIMITS:
            raise UnknownPlan(SERVICE.no_plan(plan.name))
        limits = PLAN_LIMITS[plan.name]
        with self._lock:
            state = self.servers.load(resource_id)
            self._config_set(
                state,
                {
                    "maxmemory": f"{limits.maxmemory_mb}mb",
                    "maxclients": str(limits.maxclients),
                    "appendonly": "yes" if limits.aof else "no",
                },
            )
            state["plan"] = plan.name
            self.servers.save(state)
            self.servers.write_conf(state)
        log.info("moved %s to %s", resource_id, plan.name)
        return PlanChange(
            f"The limits of {limits.maxmemory_mb} MB and {limits.maxclients} clients apply now "
            f"({limits.persistence}); no restart was needed."
        )

    def get_settings(self, resource_id: str) -> dict[str, Setting]:
        state = self.servers.load(resource_id)
        return {
            "maxmemory_policy": Setting(state["maxmemory_policy"], MAXMEMORY_POLICIES),
            "timeout": Setting(str(state.get("timeout", 0))),
            "notify_keyspace_events": Setting(str(state.get("notify_keyspace_events", ""))),
        }

    def update_settings(self, resource_id: str, changes: Mapping[str, str]) -> dict[str, Setting]:
        """redis:maxmemory, redis:timeout, redis:keyspace-notifications: live and kept."""
        unknown = sorted(set(changes) - {"maxmemory_policy", "timeout", "notify_keyspace_events"})
        if unknown:
            raise InvalidOptions(
                f"The {SERVICE_NAME} service has no setting {unknown[0]}; the settings are "
                "maxmemory_policy, timeout and notify_keyspace_events."
            )
        live: dict[str, str] = {}
        wanted: dict[str, Any] = {}
        if "maxmemory_policy" in changes:
            policy = changes["maxmemory_policy"]
            if policy not in MAXMEMORY_POLICIES:
                raise InvalidOptions(
                    f"The maxmemory policy {policy!r} does not exist; use one of "
                    + ", ".join(MAXMEMORY_POLICIES)
                    + "."
                )
            wanted["maxmemory_policy"] = live["maxmemory-policy"] = policy
        if "timeout" in changes:
            text = str(changes["timeout"]).strip()
            if not text.isdigit() or int(text) > 100000:
                raise InvalidOptions(
                    f"The timeout {text!r} is not valid; give whole seconds from 0 (never) "
                    "to 100000."
                )
            wanted["timeout"] = int(text)
            live["timeout"] = text
        if "notify_keyspace_events" in changes:
            events = str(changes["notify_keyspace_events"])
            if any(c not in "KEg$lshzxetmdnA" for c in events):
                raise InvalidOptions(
                    f"The keyspace notification flags {events!r} are not valid; use Redis' "
                    "letters (K, E, g, $, l, s, h, z, x, e, t, m, d, n, A)."
                )
            wanted["notify_keyspace_events"] = live["notify-keyspace-events"] = events
        with self._lock:
            state = self.servers.load(resource_id)
            self._config_set(state, live)
            state.update(wanted)
            self.servers.save(state)
            self.servers.write_conf(state)
        return self.get_settings(resource_id)

    def _config_set(self, state: Mapping[str, Any], values: Mapping[str, str]) -> None:
        """CONFIG SET on the running server (the admin user may; the app's may not)."""
        if not values or not self.supervisor.running(state["resource_id"]):
            return
        try:
            with self.servers.admin(state) as client:
                for key, value in values.items():
                    client.call("CONFIG", "SET", key, value)
                if values.get("appendonly") == "yes":
                    self._wait_initial_aof(client)
        except (OSError, RespError) as exc:
            raise ProviderUnavailable(
                f"Could not change the redis-server for {state['resource_name']} "
                f"(port {state['port']}): {exc}; try again."
            ) from None

    @staticmethod
    def _wait_initial_aof(client: RespClient, timeout: float = 30.0) -> None:
        """Turning AOF on writes the first AOF in the background; until it is written the
        server refuses to shut down (and would lose the change at a platform stop)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = parse_info(client.call("INFO", "persistence"))
            if info.get("aof_rewrite_in_progress") == "0" and info.get("aof_enabled") == "1":
                return
            time.sleep(0.05)

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
