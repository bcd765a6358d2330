"""Plan changes and the row limit of heroku-postgresql add-ons.

A plan change sets the role's CONNECTION LIMIT live. The smallest plan caps the
rows (Heroku's hobby rule): the first check over the limit logs a warning;
still over it after the grace period, INSERT on the database's tables is
revoked from the add-on's role (UPDATE and DELETE stay, so the app can make
room); back under the limit, or on a bigger plan, INSERT is granted again.
The state is kept in the add-on's state file (`limit_over_since`,
`writes_revoked`), so it survives restarts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import sql

from slipway.addons.errors import AddonError
from slipway.addons.postgres.connect import AdminServer, connect, sql_reason
from slipway.addons.postgres.service import CONNECTION_LIMITS, ROW_LIMITS

_USER_TABLES = (
    "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg_toast%%'"
)


def count_rows(server: AdminServer, database: str, cap: int) -> int:
    """The database's rows, counted exactly but never more than `cap` + 1 per table."""
    total = 0
    with connect(server, dbname=database) as conn:
        for schema, table in conn.execute(_USER_TABLES).fetchall():
            query = sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {}.{} LIMIT {}) AS r").format(
                sql.Identifier(schema), sql.Identifier(table), sql.Literal(cap + 1)
            )
            row = conn.execute(query).fetchone()
            total += int(row[0]) if row else 0
            if total > cap:
                return total
    return total


def set_connection_limit(server: AdminServer, state: Mapping[str, Any], plan_name: str) -> None:
    with connect(server) as conn:
        try:
            conn.execute(
                sql.SQL("ALTER ROLE {} CONNECTION LIMIT {}").format(
                    sql.Identifier(state["role"]), sql.Literal(CONNECTION_LIMITS[plan_name])
                )
            )
        except psycopg.Error as exc:
            raise AddonError(
                f"Could not change the connection limit of {state['role']} on {server.label}: "
                f"{sql_reason(exc, server.password)}."
            ) from None


def set_inserts(server: AdminServer, state: Mapping[str, Any], allowed: bool) -> None:
    """GRANT or REVOKE INSERT on every table of the add-on's database for its role."""
    verb = (
        "GRANT INSERT ON ALL TABLES IN SCHEMA {} TO {}"
        if allowed
        else ("REVOKE INSERT ON ALL TABLES IN SCHEMA {} FROM {}")
    )
    with connect(server, dbname=state["database"]) as conn:
        schemas = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', "
            "'information_schema') AND nspname NOT LIKE 'pg_toast%%' "
            "AND nspname NOT LIKE 'pg_temp%%'"
        ).fetchall()
        for (schema,) in schemas:
            conn.execute(
                sql.SQL(verb).format(sql.Identifier(schema), sql.Identifier(state["role"]))
            )


def check_rows(
    server: AdminServer, state: dict[str, Any], now: dt.datetime, grace: dt.timedelta
) -> str | None:
    """Apply the row limit to `state` (changed in place); a sentence when something changed."""
    limit = ROW_LIMITS.get(state["plan"])
    name = state.get("resource_name", state["database"])
    if limit is None:
        state.pop("limit_over_since", None)
        if state.pop("writes_revoked", False):
            set_inserts(server, state, allowed=True)
            return f"{name} is on a plan without a row limit; INSERT privileges were restored."
        return None
    rows = count_rows(server, state["database"], limit)
    if rows <= limit:
        state.pop("limit_over_since", None)
        if state.pop("writes_revoked", False):
            set_inserts(server, state, allowed=True)
            return f"{name} is back under {limit:,} rows; INSERT privileges were restored."
        return None
    since = state.get("limit_over_since")
    if since is None:
        state["limit_over_since"] = now.isoformat()
        days = grace.total_seconds() / 86400
        return (
            f"Warning: {name} has more than {limit:,} rows, its plan's limit; delete rows or "
            f"upgrade within {days:g} days, or INSERT privileges will be revoked."
        )
    if not state.get("writes_revoked") and now - dt.datetime.fromisoformat(since) >= grace:
        set_inserts(server, state, allowed=False)
        state["writes_revoked"] = True
        return (
            f"{name} is still over {limit:,} rows after the grace period: INSERT privileges were "
            "revoked; delete rows or upgrade to write again."
        )
    return None
