"""The heroku-postgresql provider: provision, deprovision, config, info, rotate, start, stop.

Each add-on is a role and a database (`databases.py`) on the embedded cluster
(`embedded.py`) or on the server of the admin URL, recorded in a state file
(`resources.py`); its backups are `backups.py`'s.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from slipway.addons._files import read_json
from slipway.addons._names import new_password, random_name
from slipway.addons.errors import AddonError, InvalidOptions, ProviderUnavailable
from slipway.addons.postgres.backups import PgBackups
from slipway.addons.postgres.binaries import PgBinaries
from slipway.addons.postgres.connect import AdminServer, connect, sql_reason
from slipway.addons.postgres.databases import (
    create_database,
    drop,
    drop_database,
    scram_verifier,
    terminate,
)
from slipway.addons.postgres.embedded import EmbeddedCluster
from slipway.addons.postgres.limits import check_rows, set_connection_limit
from slipway.addons.postgres.resources import Resources, now
from slipway.addons.postgres.service import CONNECTION_LIMITS, SERVICE, SERVICE_NAME
from slipway.addons.provider import AddonSettings, Plan, PlanChange, Provisioned

log = logging.getLogger("slipway.addons.postgres")


class PostgresProvider:
    """The heroku-postgresql provider. Construction does no I/O; `start()` brings servers back.

    It offers backups (`SupportsBackups`: `self.backups` is a `PgBackups`), plan changes
    (`SupportsPlanChange`) and pg:reset (`SupportsReset`).
    """

    service = SERVICE

    def __init__(self, data_dir: Path, settings: AddonSettings | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.settings = settings or AddonSettings()
        self.root = self.data_dir / "addons" / "postgres"
        self.bins = PgBinaries(self.settings.postgres_bin_dir)
        self.cluster = EmbeddedCluster(self.root, self.bins, self.settings)
        self.resources = Resources(self.root, self.settings, self.cluster)
        self.backups = PgBackups(self.root / "backups", self.resources, self.bins)

    def resource_ids(self) -> list[str]:
        """Every provisioned resource (for reconciling with the platform's records)."""
        return self.resources.provisioned_ids()

    # -- the Provider protocol

    def provision(self, resource_name: str, plan: Plan, options: Mapping[str, str]) -> Provisioned:
        plan = SERVICE.plan_named(plan.name)
        unknown = sorted(set(options) - {"version"})
        if unknown:
            given = ", ".join(f"--{key}" for key in unknown)
            raise InvalidOptions(
                f"The {SERVICE_NAME} service does not take {given}; its only option is "
                "--version (the server's PostgreSQL major version)."
            )
        server, host, port, kind = self.resources.server_for_new()
        role = random_name("u")
        database = random_name("d")
        password = new_password()
        state: dict[str, Any] = {
            "resource_id": database,
            "resource_name": resource_name,
            "plan": plan.name,
            "role": role,
            "database": database,
            "password": password,
            "host": host,
            "port": port,
            "server": kind,
            "created_at": now().isoformat(),
            "status": "provisioning",
        }
        if "version" in options:
            state["version"] = str(options["version"]).strip()
        # Recorded before anything exists on the server, so an interrupted provision can be
        # swept by start(); removed again if this one fails.
        self.resources.save(state)
        try:
            with connect(server) as conn:
                self._provision_on(conn, server, state, plan)
                try:
                    state["status"] = "provisioned"
                    self.resources.save(state)
                except BaseException:
                    with contextlib.suppress(psycopg.Error):
                        drop(conn, role, database)
                    raise
        except BaseException:
            self.resources.state_path(database).unlink(missing_ok=True)
            raise
        log.info("provisioned %s for %s on %s", database, resource_name, server.address)
        return Provisioned(resource_id=database, config={"URL": self.resources.url(state)})

    def _provision_on(
        self, conn: psycopg.Connection[Any], server: AdminServer, state: dict[str, Any], plan: Plan
    ) -> None:
        rights = conn.execute(
            "SELECT rolsuper, rolcreaterole AND rolcreatedb FROM pg_roles "
            "WHERE rolname = current_user"
        ).fetchone()
        if rights is None or not (rights[0] or rights[1]):
            raise ProviderUnavailable(
                f"The admin role on {server.label} may not create roles and databases; "
                "use a superuser in --postgres-admin-url."
            )
        superuser = bool(rights[0])
        wanted = state.get("version")
        if wanted is not None:
            major = str(conn.info.server_version // 10000)
            if wanted != major:
                raise InvalidOptions(
                    f"{server.label[:1].upper()}{server.label[1:]} runs PostgreSQL {major}; "
                    f"use --version "
                    f"{major} or leave --version out."
                )
        role, database = state["role"], state["database"]
        try:
            conn.execute(
                sql.SQL(
                    "CREATE ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                    "NOBYPASSRLS INHERIT CONNECTION LIMIT {} PASSWORD {}"
                ).format(
                    sql.Identifier(role),
                    sql.Literal(CONNECTION_LIMITS[plan.name]),
                    sql.Literal(scram_verifier(state["password"])),
                )
            )
        except psycopg.Error as exc:
            raise AddonError(
                f"Could not create the role for {state['resource_name']} on {server.label}: "
                f"{sql_reason(exc, server.password)}."
            ) from None
        try:
            if not superuser:
                # A CREATEROLE admin must be a member of the role to give it a database.
                conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(role)))
            create_database(conn, role, database)
        except psycopg.Error as exc:
            reason = sql_reason(exc, server.password)
            with contextlib.suppress(psycopg.Error):
                drop(conn, role, database)
            raise AddonError(
                f"Could not create the database for {state['resource_name']} on "
                f"{server.label}: {reason}."
            ) from None

    def deprovision(self, resource_id: str) -> None:
        path = self.resources.state_path(resource_id)
        if path.exists():
            state = read_json(path)
            server = self.resources.server_for(state)
            with connect(server) as conn:
                try:
                    drop(conn, state["role"], state["database"])
                except psycopg.Error as exc:
                    raise AddonError(
                        f"Could not drop the database {state['database']} on {server.label}: "
                        f"{sql_reason(exc, server.password)}; fix that on the server and "
                        "destroy the add-on again."
                    ) from None
            log.info("deprovisioned %s (%s)", resource_id, state.get("resource_name"))
        self.backups.forget(resource_id)
        path.unlink(missing_ok=True)

    def config(self, resource_id: str) -> dict[str, str]:
        return {"URL": self.resources.url(self.resources.load(resource_id))}

    def info(self, resource_id: str) -> list[tuple[str, str]]:
        state = self.resources.load(resource_id)
        plan = SERVICE.plan_named(state["plan"])
        limit = CONNECTION_LIMITS[plan.name]
        status, version, size, connections, tables = "Available", "?", "?", "?", "?"
        try:
            server = self.resources.server_for(state)
            with connect(server) as conn:
                row = conn.execute(
                    "SELECT current_setting('server_version'), "
                    "pg_size_pretty(pg_database_size(%s)), "
                    "(SELECT count(*) FROM pg_stat_activity WHERE datname = %s)",
                    [state["database"], state["database"]],
                ).fetchone()
                assert row is not None
                version, size, connections = str(row[0]).split()[0], str(row[1]), str(row[2])
            with connect(server, dbname=state["database"]) as conn:
                count = conn.execute(
                    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN "
                    "('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%'"
                ).fetchone()
                tables = str(count[0]) if count else "0"
        except AddonError as exc:
            status = f"Unavailable: {exc.message}"
        except psycopg.Error as exc:
            status = f"Unavailable: {sql_reason(exc)}."
        created = datetime.fromisoformat(state["created_at"]).strftime("%Y-%m-%d %H:%M UTC")
        where = "embedded cluster" if state["server"] == "embedded" else "server"
        return [
            ("Plan", plan.human_name),
            ("Status", status),
            ("Connections", f"{connections}/{limit}"),
            ("PG Version", version),
            ("Created", created),
            ("Data Size", size),
            ("Tables", tables),
            ("Server", f"{where} at {self.resources.host(state)}:{state['port']}"),
            ("Add-on", str(state.get("resource_name", ""))),
        ]

    def rotate_credentials(self, resource_id: str) -> dict[str, str]:
        state = self.resources.load(resource_id)
        server = self.resources.server_for(state)
        password = new_password()
        with connect(server) as conn:
            try:
                conn.execute(
                    sql.SQL("ALTER ROLE {} WITH PASSWORD {}").format(
                        sql.Identifier(state["role"]), sql.Literal(scram_verifier(password))
                    )
                )
                terminate(conn, state["role"])
            except psycopg.Error as exc:
                raise AddonError(
                    f"Could not set a new password for {state['role']} on {server.label}: "
                    f"{sql_reason(exc, server.password)}."
                ) from None
        state["password"] = password
        self.resources.save(state)
        log.info("rotated the credentials of %s", resource_id)
        return {"URL": self.resources.url(state)}

    def start(self) -> None:
        self.cluster.start()
        if self.settings.postgres_admin_url:
            self.resources.front.start(self.resources.front_upstream(self.resources.external()))
        self._sweep_interrupted()

    def stop(self) -> None:
        self.resources.front.stop()
        self.cluster.stop()

    def _sweep_interrupted(self) -> None:
        """Drop what a provision interrupted by a platform crash may have left."""
        if not self.resources.dir.exists():
            return
        for path in self.resources.dir.glob("*.json"):
            state = read_json(path)
            if state.get("status") != "provisioning":
                continue
            try:
                server = self.resources.server_for(state)
                with connect(server) as conn:
                    drop(conn, state["role"], state["database"])
            except (AddonError, psycopg.Error) as exc:
                log.warning("could not clean up interrupted provision %s: %s", path.stem, exc)
                continue
            path.unlink(missing_ok=True)
            log.info("cleaned up interrupted provision %s", path.stem)

    # -- plans and limits (SupportsPlanChange, SupportsLimits)

    def change_plan(self, resource_id: str, plan: Plan) -> PlanChange:
        """The connection limit changes live; leaving the smallest plan lifts its row limit."""
        plan = SERVICE.plan_named(plan.name)
        state = self.resources.load(resource_id)
        server = self.resources.server_for(state)
        set_connection_limit(server, state, plan.name)
        state["plan"] = plan.name
        restored = self._check_rows(state, server, datetime.now(UTC))
        self.resources.save(state)
        message = (
            f"The limit of {CONNECTION_LIMITS[plan.name]} connections applies now; "
            "no restart was needed."
        )
        return PlanChange(message + (f" {restored}" if restored else ""))

    def enforce_limits(self, resource_id: str, now: datetime) -> str | None:
        state = self.resources.load(resource_id)
        server = self.resources.server_for(state)
        said = self._check_rows(state, server, now)
        if said:
            self.resources.save(state)
        return said

    def _check_rows(self, state: dict[str, Any], server: AdminServer, now: datetime) -> str | None:
        try:
            return check_rows(
                server, state, now, timedelta(seconds=self.settings.postgres_row_limit_grace)
            )
        except psycopg.Error as exc:
            raise AddonError(
                f"Could not check the rows of {state['database']}: "
                f"{sql_reason(exc, server.password)}."
            ) from None

    # -- beyond the protocol: pg:reset, pg:psql (pg:backups: `self.backups`)

    def reset(self, resource_id: str) -> None:
        """pg:reset: an empty database of the same name, owner and password."""
        state = self.resources.load(resource_id)
        server = self.resources.server_for(state)
        with connect(server) as conn:
            try:
                drop_database(conn, state["role"], state["database"])
                create_database(conn, state["role"], state["database"])
            except psycopg.Error as exc:
                raise AddonError(
                    f"Could not reset the database {state['database']}: "
                    f"{sql_reason(exc, server.password)}."
                ) from None

    def psql_command(self, resource_id: str) -> tuple[list[str], dict[str, str]]:
        """argv and extra environment for `pg:psql` (the password is in the environment)."""
        state = self.resources.load(resource_id)
        psql = self.bins.find("psql")
        return [psql, *self.resources.client_args(state)], self.resources.client_env(state, "psql")
