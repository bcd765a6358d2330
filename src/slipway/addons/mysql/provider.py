"""The jawsdb-maria provider: provision, deprovision, config, info, rotate, plans, start, stop.

Each add-on is a database and a user of its own (`'u…'@'%'`, ALL on that database
only, MAX_USER_CONNECTIONS from the plan) on the embedded MariaDB or on the
server of the admin URL, recorded in a state file (`resources.py`); its backups
are `backups.py`'s.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pymysql

from slipway.addons._names import new_password, random_name
from slipway.addons.errors import AddonError, InvalidOptions
from slipway.addons.mysql.backups import MysqlBackups
from slipway.addons.mysql.connect import MysqlServer, connect, quote_ident, reason
from slipway.addons.mysql.embedded import EmbeddedMariadb
from slipway.addons.mysql.resources import Resources
from slipway.addons.mysql.service import CONNECTION_LIMITS, SERVICE, SERVICE_NAME
from slipway.addons.provider import AddonSettings, Plan, PlanChange, Provisioned

log = logging.getLogger("slipway.addons.mysql")

_DATABASE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class NameClash(AddonError):
    """A database or user of that name already exists on the server."""

    id = "conflict"


class MysqlProvider:
    """The jawsdb-maria provider. Construction does no I/O; `start()` brings servers back.

    It offers backups (`SupportsBackups`): `self.backups` is a `MysqlBackups`.
    """

    service = SERVICE

    def __init__(self, data_dir: Path, settings: AddonSettings | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.settings = settings or AddonSettings()
        self.root = self.data_dir / "addons" / "mysql"
        self.embedded = EmbeddedMariadb(self.root, self.data_dir, self.settings)
        self.resources = Resources(self.root, self.settings, self.embedded)
        self.backups = MysqlBackups(self.root / "backups", self.resources)

    def resource_ids(self) -> list[str]:
        return [s["resource_id"] for s in self.resources.states() if s["status"] == "provisioned"]

    # -- the Provider protocol

    def provision(self, resource_name: str, plan: Plan, options: Mapping[str, str]) -> Provisioned:
        plan = SERVICE.plan_named(plan.name)
        database = self._database_option(options)
        server, kind = self.resources.server_for_new()
        rid = random_name("j")
        state: dict[str, Any] = {
            "resource_id": rid,
            "resource_name": resource_name,
            "plan": plan.name,
            "user": random_name("u", 12),
            "password": new_password(),
            "database": database or random_name("d", 12),
            "host": "127.0.0.1" if kind == "embedded" else server.host,
            "port": server.port,
            "server": kind,
            "created_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
            "status": "provisioning",
        }
        # Recorded before anything exists on the server, so start() can sweep what an
        # interrupted provision left; removed again if this one fails.
        self.resources.save(state)
        try:
            with connect(server) as conn:
                self._create(conn, server, state, plan)
            state["status"] = "provisioned"
            self.resources.save(state)
        except BaseException:
            self.resources.state_path(rid).unlink(missing_ok=True)
            raise
        log.info("provisioned %s for %s on %s", rid, resource_name, server.label)
        return Provisioned(resource_id=rid, config={"URL": self.resources.url(state)})

    @staticmethod
    def _database_option(options: Mapping[str, str]) -> str | None:
        unknown = sorted(set(options) - {"database"})
        if unknown:
            raise InvalidOptions(
                f"The {SERVICE_NAME} service does not take --{', --'.join(unknown)}; the only "
                "option is --database NAME."
            )
        name = options.get("database")
        if name is None:
            return None
        if not isinstance(name, str) or not _DATABASE_NAME.match(name):
            raise InvalidOptions(
                f"The database name {name!r} is not valid; use lowercase letters, digits and _ "
                "(up to 64, starting with a letter)."
            )
        return name

    def _create(
        self,
        conn: pymysql.Connection[Any],
        server: MysqlServer,
        state: Mapping[str, Any],
        plan: Plan,
    ) -> None:
        user, database = state["user"], state["database"]
        with conn.cursor() as cur:
            cur.execute(
                "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", [database]
            )
            if cur.fetchone():
                raise NameClash(
                    f"{server.label[0].upper()}{server.label[1:]} already has a database called "
                    f"{database}; choose another --database."
                )
            try:
                cur.execute(f"CREATE DATABASE {quote_ident(database)}")
            except pymysql.err.MySQLError as exc:
                raise AddonError(
                    f"Could not create the database for {state['resource_name']} on "
                    f"{server.label}: {reason(exc, server.password)}."
                ) from None
            try:
                cur.execute(
                    "CREATE USER %s@'%%' IDENTIFIED BY %s WITH MAX_USER_CONNECTIONS %s",
                    [user, state["password"], CONNECTION_LIMITS[plan.name]],
                )
                cur.execute(f"GRANT ALL PRIVILEGES ON {quote_ident(database)}.* TO %s@'%%'", [user])
            except pymysql.err.MySQLError as exc:
                message = reason(exc, server.password, state["password"])
                self._drop(cur, user, database)
                raise AddonError(
                    f"Could not create the user for {state['resource_name']} on "
                    f"{server.label}: {message}."
                ) from None

    @staticmethod
    def _drop(cur: Any, user: str, database: str) -> None:
        cur.execute(f"DROP USER IF EXISTS {quote_ident(user)}@'%'")
        cur.execute(f"DROP DATABASE IF EXISTS {quote_ident(database)}")

    def _kill_sessions(self, cur: Any, user: str) -> None:
        cur.execute("SELECT id FROM information_schema.processlist WHERE user = %s", [user])
        for (pid,) in cur.fetchall():
            with contextlib.suppress(pymysql.err.MySQLError):
                cur.execute(f"KILL CONNECTION {int(pid)}")

    def deprovision(self, resource_id: str) -> None:
        path = self.resources.state_path(resource_id)
        if path.exists():
            state = self.resources.load(resource_id)
            server = self.resources.server_for(state)
            with connect(server) as conn, conn.cursor() as cur:
                try:
                    self._kill_sessions(cur, state["user"])
                    self._drop(cur, state["user"], state["database"])
                except pymysql.err.MySQLError as exc:
                    raise AddonError(
                        f"Could not drop the database {state['database']} on {server.label}: "
                        f"{reason(exc, server.password)}; fix that on the server and destroy "
                        "the add-on again."
                    ) from None
            log.info("deprovisioned %s (%s)", resource_id, state.get("resource_name"))
        self.backups.forget(resource_id)
        path.unlink(missing_ok=True)

    def config(self, resource_id: str) -> dict[str, str]:
        return {"URL": self.resources.url(self.resources.load(resource_id))}

    def info(self, resource_id: str) -> list[tuple[str, str]]:
        state = self.resources.load(resource_id)
        plan = SERVICE.plan_named(state["plan"])
        status, version, size, connections, tables = "Available", "?", "?", "?", "?"
        try:
            server = self.resources.server_for(state)
            with connect(server) as conn, conn.cursor() as cur:
                cur.execute("SELECT VERSION()")
                version = str(cur.fetchone()[0]).split("-")[0]
                cur.execute(
                    "SELECT COUNT(*), COALESCE(SUM(data_length + index_length), 0) "
                    "FROM information_schema.tables WHERE table_schema = %s",
                    [state["database"]],
                )
                count, total = cur.fetchone()
                tables, size = str(count), f"{int(total) / 1048576:.1f} MB"
                cur.execute(
                    "SELECT COUNT(*) FROM information_schema.processlist WHERE user = %s",
                    [state["user"]],
                )
                connections = str(cur.fetchone()[0])
        except AddonError as exc:
            status = f"Unavailable: {exc.message}"
        except pymysql.err.MySQLError as exc:
            status = f"Unavailable: {reason(exc)}."
        created = datetime.fromisoformat(state["created_at"]).strftime("%Y-%m-%d %H:%M UTC")
        where = "embedded MariaDB" if state["server"] == "embedded" else "server"
        return [
            ("Plan", plan.human_name),
            ("Status", status),
            ("Connections", f"{connections}/{CONNECTION_LIMITS[plan.name]}"),
            ("Version", version),
            ("Data Size", size),
            ("Tables", tables),
            ("Database", state["database"]),
            ("Server", f"{where} at {self.resources.url_host(state)}:{state['port']}"),
            ("TLS", "available" if state["server"] == "embedded" else "as the server offers"),
            ("Created", created),
            ("Add-on", str(state.get("resource_name", ""))),
        ]

    def rotate_credentials(self, resource_id: str) -> dict[str, str]:
        state = self.resources.load(resource_id)
        server = self.resources.server_for(state)
        password = new_password()
        with connect(server) as conn, conn.cursor() as cur:
            try:
                cur.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", [state["user"], password])
                self._kill_sessions(cur, state["user"])
            except pymysql.err.MySQLError as exc:
                raise AddonError(
                    f"Could not set a new password for {state['user']} on {server.label}: "
                    f"{reason(exc, server.password, password)}."
                ) from None
        state["password"] = password
        self.resources.save(state)
        log.info("rotated the credentials of %s", resource_id)
        return {"URL": self.resources.url(state)}

    def change_plan(self, resource_id: str, plan: Plan) -> PlanChange:
        """The user's connection limit changes live; new connections count against it."""
        plan = SERVICE.plan_named(plan.name)
        state = self.resources.load(resource_id)
        server = self.resources.server_for(state)
        limit = CONNECTION_LIMITS[plan.name]
        with connect(server) as conn, conn.cursor() as cur:
            try:
                cur.execute(
                    "ALTER USER %s@'%%' WITH MAX_USER_CONNECTIONS %s", [state["user"], limit]
                )
            except pymysql.err.MySQLError as exc:
                raise AddonError(
                    f"Could not change the limits of {state['user']} on {server.label}: "
                    f"{reason(exc, server.password)}."
                ) from None
        state["plan"] = plan.name
        self.resources.save(state)
        return PlanChange(f"The limit of {limit} connections applies now; no restart was needed.")

    def start(self) -> None:
        self.embedded.start()
        self._sweep_interrupted()

    def stop(self) -> None:
        self.embedded.stop()

    def _sweep_interrupted(self) -> None:
        for state in self.resources.states():
            if state.get("status") != "provisioning":
                continue
            try:
                server = self.resources.server_for(state)
                with connect(server) as conn, conn.cursor() as cur:
                    cur.execute("SELECT 1 FROM mysql.user WHERE user = %s", [state["user"]])
                    if cur.fetchone():
                        self._drop(cur, state["user"], state["database"])
            except (AddonError, pymysql.err.MySQLError) as exc:
                log.warning("could not clean up interrupted provision %s: %s", state, exc)
                continue
            self.resources.state_path(state["resource_id"]).unlink(missing_ok=True)
