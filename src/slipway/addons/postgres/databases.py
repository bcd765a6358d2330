"""The SQL behind an add-on: its role (with a SCRAM password) and its database.

Each add-on gets a role `u<12>` (LOGIN, no SUPERUSER/CREATEDB/CREATEROLE/
REPLICATION/BYPASSRLS, a connection limit per plan, a random 64-character
password) and a database `d<12>` owned by it, with CONNECT revoked from PUBLIC
so no other add-on's role can connect to it. Passwords reach the server only as
SCRAM verifiers computed here, so no plaintext ever shows in the server's
statement log.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import Any

import psycopg
from psycopg import sql


def scram_verifier(password: str, *, iterations: int = 4096, salt: bytes | None = None) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5803 / 7677).

    `CREATE ROLE ... PASSWORD '<verifier>'` stores it as is, so the plaintext
    never reaches the server (nor its log).
    """
    salt = salt if salt is not None else secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def terminate(
    conn: psycopg.Connection[Any], role: str, database: str | None = None, wait: float = 0
) -> None:
    """End the role's sessions (and any on `database`); with `wait`, until they are gone."""
    query = (
        "SELECT {} FROM pg_stat_activity "
        "WHERE (usename = %s OR datname = %s) AND pid <> pg_backend_pid()"
    )
    conn.execute(query.format("pg_terminate_backend(pid)"), [role, database])
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        row = conn.execute(query.format("count(*)"), [role, database]).fetchone()
        if not row or not row[0]:
            return
        time.sleep(0.05)


def drop(conn: psycopg.Connection[Any], role: str, database: str) -> None:
    """Drop the role and its database; a database of that name owned by anyone else
    (never ours) is left alone."""
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
    if exists:
        conn.execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(sql.Identifier(role)))
        terminate(conn, role)
    owned = conn.execute(
        "SELECT 1 FROM pg_database WHERE datname = %s AND pg_get_userbyid(datdba) = %s",
        [database, role],
    ).fetchone()
    if owned:
        drop_database(conn, role, database)
    conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def drop_database(conn: psycopg.Connection[Any], role: str, database: str) -> None:
    ident = sql.Identifier(database)
    conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(ident))
    terminate(conn, role, database, wait=10)
    force = " WITH (FORCE)" if conn.info.server_version >= 130000 else ""
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}" + force).format(ident))


def create_database(conn: psycopg.Connection[Any], role: str, database: str) -> None:
    conn.execute(
        sql.SQL("CREATE DATABASE {} OWNER {}").format(
            sql.Identifier(database), sql.Identifier(role)
        )
    )
    conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database)))
