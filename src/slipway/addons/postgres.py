"""heroku-postgresql: one database and one unprivileged role per add-on.

The server is either one the operator names (`postgres_admin_url`, a superuser
or a role with CREATEROLE and CREATEDB) or an embedded cluster this provider
creates under `<data_dir>/addons/postgres/cluster` with the installed
binaries, listening on 127.0.0.1 only on a port chosen once and kept.

Each add-on gets a role `u<12>` (LOGIN, no SUPERUSER/CREATEDB/CREATEROLE/
REPLICATION/BYPASSRLS, a connection limit per plan, a random 64-character
password) and a database `d<12>` owned by it, with CONNECT revoked from PUBLIC
so no other add-on's role can connect to it. The database name is the
add-on's resource id. Passwords reach the server only as SCRAM verifiers
computed here, so no plaintext ever shows in the server's statement log.

Layout under `<data_dir>/addons/postgres/` (all 0700/0600 unless noted):

    resources/<resource_id>.json      role, password, database, host, port, plan
    backups/<resource_id>/b001.dump   pg_dump -Fc, with b001.json beside it
    cluster/                          the embedded cluster's PGDATA
    cluster.json                      its port (kept across restarts)
    superuser-password                its superuser password
    run/                              its unix socket directory
    log/postgresql.log                its server log

As root, the embedded cluster runs as `settings.postgres_os_user` (postgres
refuses to run as root); `addons/` and `addons/postgres/` are then made
searchable (0711) so that user can reach its own directories.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import logging
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from slipway.addons._system import (
    OsUser,
    base_env,
    blocking_ancestor,
    check_resource_id,
    is_root,
    make_searchable,
    new_password,
    pick_port,
    port_is_free,
    private_dir,
    random_name,
    read_json,
    write_json,
    write_private,
)
from slipway.addons.errors import (
    AddonError,
    BackupFailed,
    InvalidOptions,
    PortInUse,
    ProviderUnavailable,
    ResourceNotFound,
    UnknownPlan,
    redact,
    sentence,
)
from slipway.addons.provider import AddonSettings, Plan, Provisioned, Service

log = logging.getLogger("slipway.addons.postgres")

SERVICE_NAME = "heroku-postgresql"

PLANS = (
    Plan(
        f"{SERVICE_NAME}:essential-0",
        "Essential 0",
        description="20 connections; storage is not capped.",
        default=True,
    ),
    Plan(
        f"{SERVICE_NAME}:essential-1",
        "Essential 1",
        description="20 connections; storage is not capped.",
    ),
    Plan(
        f"{SERVICE_NAME}:standard-0",
        "Standard 0",
        description="120 connections; storage is not capped.",
    ),
)

# The only thing plans change: the role's CONNECTION LIMIT (Heroku's numbers).
CONNECTION_LIMITS = {
    f"{SERVICE_NAME}:essential-0": 20,
    f"{SERVICE_NAME}:essential-1": 20,
    f"{SERVICE_NAME}:standard-0": 120,
}

SERVICE = Service(
    name=SERVICE_NAME,
    human_name="Heroku Postgres",
    aliases=("postgresql",),
    plans=PLANS,
    config_var_suffix="DATABASE",
)

_BACKUP_NAME = re.compile(r"^b(\d{3,})$")
_CONNECT_TIMEOUT = "5"
# The embedded cluster: enough for every plan's limit plus the provider's own sessions.
_EMBEDDED_MAX_CONNECTIONS = 200
_NO_ADMIN_URL_HINT = "start it or pass --postgres-admin-url"


@dataclass(frozen=True)
class Backup:
    name: str  # "b001"
    created_at: datetime
    size: int  # bytes
    status: str  # "Completed"


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


@dataclass(frozen=True)
class _Server:
    """How the provider reaches a server as admin. `params` holds the password: never log it."""

    label: str  # "the PostgreSQL server at 127.0.0.1:5432"
    address: str  # "127.0.0.1:5432"
    params: Mapping[str, str]
    unreachable_hint: str  # "start it or pass --postgres-admin-url"
    credentials_hint: str

    @property
    def password(self) -> str | None:
        return self.params.get("password")


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return text.strip()


def _libpq_reason(text: str) -> str:
    """The useful part of a libpq connection error: "Connection refused"."""
    reason = _first_line(text)
    match = re.search(r".*failed:\s*(.+)$", reason)
    if match:
        reason = match.group(1)
    reason = re.sub(r"^(FATAL|ERROR):\s*", "", reason)
    return sentence(reason) or "unknown error"


def _connect_failure(server: _Server, exc: psycopg.Error) -> ProviderUnavailable:
    text = redact(str(exc), server.password)
    low = text.lower()
    credential_markers = (
        "password authentication failed",
        "no password supplied",
        "authentication failed",
        "no pg_hba.conf entry",
        'role "',
    )
    if any(marker in low for marker in credential_markers):
        return ProviderUnavailable(
            f"{server.label[0].upper()}{server.label[1:]} refused the admin credentials; "
            f"{server.credentials_hint}."
        )
    if "fatal:" in low:
        return ProviderUnavailable(
            f"{server.label[0].upper()}{server.label[1:]} refused the admin connection: "
            f"{_libpq_reason(text)}; {server.credentials_hint}."
        )
    return ProviderUnavailable(
        f"Could not reach {server.label}: {_libpq_reason(text)}; {server.unreachable_hint}."
    )


def _connect(server: _Server, dbname: str | None = None) -> psycopg.Connection[Any]:
    """An autocommit admin connection, or ProviderUnavailable in one sentence."""
    params = dict(server.params)
    if dbname is not None:
        params["dbname"] = dbname
    params.setdefault("connect_timeout", _CONNECT_TIMEOUT)
    params["application_name"] = "slipway-addons"
    try:
        return psycopg.connect(make_conninfo("", **params), autocommit=True)
    except psycopg.Error as exc:
        raise _connect_failure(server, exc) from None


def _sql_reason(exc: psycopg.Error, *secrets_: str | None) -> str:
    primary = exc.diag.message_primary if exc.diag else None
    return sentence(redact(primary or _first_line(str(exc)), *secrets_)) or "unknown error"


def _tool_reason(output: str, *secrets_: str | None) -> str:
    """The first error line of pg_dump / pg_restore / initdb / pg_ctl output."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        if "error:" in line.lower() or "fatal:" in line.lower():
            reason = re.sub(r"^\S+:\s*(error|fatal):\s*", "", line, flags=re.IGNORECASE)
            return sentence(redact(_libpq_reason(reason), *secrets_))
    return sentence(redact(lines[-1], *secrets_)) if lines else "no output"


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class PgBinaries:
    """Finds PostgreSQL programs: the configured dir, the newest installed version, then $PATH."""

    def __init__(self, bin_dir: Path | None) -> None:
        self.bin_dir = bin_dir

    def _dirs(self) -> list[Path]:
        if self.bin_dir is not None:
            return [self.bin_dir]

        def version(path: Path) -> tuple[int, ...]:
            digits = re.findall(r"\d+", path.parent.name)
            return tuple(int(d) for d in digits)

        found = [
            *Path("/usr/lib/postgresql").glob("*/bin"),
            *Path("/usr").glob("pgsql-*/bin"),
        ]
        return sorted(found, key=version, reverse=True)

    def find(self, name: str, *, server: bool = False) -> str:
        for directory in self._dirs():
            candidate = directory / name
            if os.access(candidate, os.X_OK):
                return str(candidate)
        on_path = None if self.bin_dir is not None else shutil.which(name)
        if on_path:
            return on_path
        package = "postgresql" if server else "postgresql-client"
        tail = ", or pass --postgres-admin-url" if server else ""
        raise ProviderUnavailable(
            f"The PostgreSQL program {name} was not found; install the {package} package{tail}."
        )


class EmbeddedCluster:
    """The PostgreSQL cluster Slipway runs itself when no admin URL is given."""

    SUPERUSER = "postgres"

    def __init__(self, root: Path, bins: PgBinaries, settings: AddonSettings) -> None:
        self.root = root
        self.pgdata = root / "cluster"
        self.socket_dir = root / "run"
        self.log_dir = root / "log"
        self.log_path = self.log_dir / "postgresql.log"
        self.state_path = root / "cluster.json"
        self.password_path = root / "superuser-password"
        self.bins = bins
        self.settings = settings
        self._lock = threading.RLock()

    # -- state

    def initialized(self) -> bool:
        if not (self.state_path.exists() and (self.pgdata / "PG_VERSION").exists()):
            return False
        return bool(read_json(self.state_path).get("initialized"))

    def port(self) -> int:
        return int(read_json(self.state_path)["port"])

    def server(self) -> _Server:
        port = self.port()
        return _Server(
            label=f"the embedded PostgreSQL cluster at 127.0.0.1:{port}",
            address=f"127.0.0.1:{port}",
            params={
                "host": "127.0.0.1",
                "port": str(port),
                "user": self.SUPERUSER,
                "password": self.password_path.read_text().strip(),
                "dbname": "postgres",
            },
            unreachable_hint=f"see {self.log_path}",
            credentials_hint=f"its superuser password is kept in {self.password_path}",
        )

    # -- running programs

    def _user(self) -> OsUser | None:
        if not is_root():
            return None
        user = OsUser.lookup(self.settings.postgres_os_user)
        if user is None:
            raise ProviderUnavailable(
                f"Slipway runs as root, and the embedded PostgreSQL cluster must run as the OS "
                f"user {self.settings.postgres_os_user}, which does not exist; create it "
                "or pass --postgres-admin-url."
            )
        return user

    def _run(self, argv: list[str], user: OsUser | None, timeout: float = 120) -> tuple[int, str]:
        prefix = user.argv() if user else []
        env = base_env() | (user.env() if user else {}) | {"LC_ALL": "C"}
        with tempfile.TemporaryFile() as out:
            # Output to a file, not a pipe: the postmaster pg_ctl leaves behind must not
            # hold our pipe open.
            proc = subprocess.run(
                [*prefix, *argv],
                cwd=self.root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                timeout=timeout,
                check=False,
            )
            out.seek(0)
            return proc.returncode, out.read().decode(errors="replace")

    def _prepare_dirs(self, user: OsUser | None) -> None:
        private_dir(self.root)
        if user is not None:
            # Searchable (not listable) for the cluster's user on the way to its own dirs.
            make_searchable(self.root.parent, self.root)
        for directory in (self.pgdata, self.socket_dir, self.log_dir):
            private_dir(directory)
            if user is not None:
                user.chown(directory)
        if user is not None and not user.can_reach(self.pgdata):
            blocked = blocking_ancestor(self.pgdata, user)
            raise ProviderUnavailable(
                f"The embedded PostgreSQL cluster runs as the OS user {user.name}, which cannot "
                f"reach {blocked}; make it searchable (chmod o+x {blocked}), use a data dir "
                "outside it, or pass --postgres-admin-url."
            )

    def _running(self, user: OsUser | None) -> bool:
        rc, _ = self._run(
            [self.bins.find("pg_ctl", server=True), "status", "-D", str(self.pgdata)], user
        )
        return rc == 0

    # -- lifecycle

    def ensure_running(self) -> None:
        """Create the cluster if there is none yet, and start it if it is not running."""
        with self._lock:
            user = self._user()
            if not self.initialized():
                self._init(user)
            if not self._running(user):
                self._start(user)

    def start(self) -> None:
        """Start the cluster if it exists (a platform restart); never creates one."""
        with self._lock:
            if self.initialized():
                user = self._user()
                if not self._running(user):
                    self._start(user)

    def stop(self) -> None:
        with self._lock:
            if not self.initialized():
                return
            user = self._user()
            if not self._running(user):
                return
            pg_ctl = self.bins.find("pg_ctl", server=True)
            argv = [pg_ctl, "stop", "-D", str(self.pgdata), "-m", "fast", "-w", "-t", "60", "-s"]
            rc, out = self._run(argv, user)
            if rc != 0:
                raise ProviderUnavailable(
                    f"The embedded PostgreSQL cluster did not stop: {_tool_reason(out)}; "
                    f"see {self.log_path}."
                )

    def _init(self, user: OsUser | None) -> None:
        initdb = self.bins.find("initdb", server=True)
        self._prepare_dirs(user)
        if any(self.pgdata.iterdir()):
            # What an interrupted initdb left: start again from nothing.
            shutil.rmtree(self.pgdata)
            private_dir(self.pgdata)
            if user is not None:
                user.chown(self.pgdata)
        state = read_json(self.state_path) if self.state_path.exists() else {}
        port = int(state.get("port") or 0) or pick_port(
            self.settings.postgres_ports, set(), "the embedded PostgreSQL cluster"
        )
        password = new_password()
        write_private(self.password_path, password + "\n")
        write_json(self.state_path, {"port": port, "initialized": False, "hardened": False})
        pwfile = self.socket_dir / "initdb-password"
        write_private(pwfile, password + "\n", owner=user)
        try:
            argv = [
                initdb,
                "-D",
                str(self.pgdata),
                "-U",
                self.SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
            ]
            rc, out = self._run(argv, user)
        finally:
            pwfile.unlink(missing_ok=True)
        if rc != 0:
            shutil.rmtree(self.pgdata, ignore_errors=True)
            raise ProviderUnavailable(
                f"The initdb program could not create the embedded PostgreSQL cluster: "
                f"{_tool_reason(out, password)}; fix that or pass --postgres-admin-url."
            )
        with (self.pgdata / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(
                "\n# Slipway: port, addresses and sockets.\ninclude_if_exists = 'slipway.conf'\n"
            )
        write_json(self.state_path, {"port": port, "initialized": True, "hardened": False})
        log.info("created the embedded PostgreSQL cluster in %s (port %d)", self.pgdata, port)

    def _write_conf(self, user: OsUser | None) -> None:
        def quoted(value: str) -> str:
            return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"

        conf = (
            "# Written by Slipway at every start.\n"
            "listen_addresses = '127.0.0.1'\n"
            f"port = {self.port()}\n"
            f"unix_socket_directories = {quoted(str(self.socket_dir))}\n"
            f"max_connections = {_EMBEDDED_MAX_CONNECTIONS}\n"
            "password_encryption = 'scram-sha-256'\n"
        )
        write_private(self.pgdata / "slipway.conf", conf, owner=user)

    def _start(self, user: OsUser | None) -> None:
        port = self.port()
        if not port_is_free(port):
            raise PortInUse(
                f"Port {port}, kept for the embedded PostgreSQL cluster, is in use by another "
                "program; stop that program and start Slipway again.",
                port,
            )
        self._prepare_dirs(user)
        self._write_conf(user)
        pg_ctl = self.bins.find("pg_ctl", server=True)
        argv = [pg_ctl, "start", "-D", str(self.pgdata), "-l", str(self.log_path)]
        rc, out = self._run([*argv, "-w", "-t", "60", "-s"], user)
        if rc != 0:
            reason = _tool_reason(self._log_tail() or out)
            raise ProviderUnavailable(
                f"The embedded PostgreSQL cluster did not start: {reason}; see {self.log_path}."
            )
        log.info("started the embedded PostgreSQL cluster on 127.0.0.1:%d", port)
        state = read_json(self.state_path)
        if not state.get("hardened"):
            self._harden()
            write_json(self.state_path, state | {"hardened": True})

    def _harden(self) -> None:
        """Add-on roles may connect to their own database only, not to postgres or template1."""
        with _connect(self.server()) as conn:
            for db in ("postgres", "template1"):
                conn.execute(
                    sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(
                        sql.Identifier(db)
                    )
                )

    def _log_tail(self) -> str:
        try:
            with self.log_path.open("rb") as fh:
                fh.seek(max(0, self.log_path.stat().st_size - 4000))
                lines = fh.read().decode(errors="replace").splitlines()
        except OSError:
            return ""
        errors = [line for line in lines if "FATAL" in line or "ERROR" in line]
        return errors[-1] if errors else ""


class PostgresProvider:
    """The heroku-postgresql provider. Construction does no I/O; `start()` brings servers back."""

    service = SERVICE

    def __init__(self, data_dir: Path, settings: AddonSettings | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.settings = settings or AddonSettings()
        self.root = self.data_dir / "addons" / "postgres"
        self.resources_dir = self.root / "resources"
        self.backups_dir = self.root / "backups"
        self.bins = PgBinaries(self.settings.postgres_bin_dir)
        self.cluster = EmbeddedCluster(self.root, self.bins, self.settings)
        self._lock = threading.Lock()

    # -- resource state

    def _state_path(self, resource_id: str) -> Path:
        check_resource_id(resource_id, SERVICE_NAME)
        return self.resources_dir / f"{resource_id}.json"

    def _load(self, resource_id: str) -> dict[str, Any]:
        path = self._state_path(resource_id)
        if not path.exists():
            raise ResourceNotFound(
                f"There is no {SERVICE_NAME} database {resource_id} on this Slipway; "
                "check the add-on name."
            )
        return read_json(path)

    def _save(self, state: dict[str, Any]) -> None:
        private_dir(self.root.parent)
        private_dir(self.root)
        private_dir(self.resources_dir)
        write_json(self._state_path(state["resource_id"]), state)

    def resource_ids(self) -> list[str]:
        """Every provisioned resource (for reconciling with the platform's records)."""
        if not self.resources_dir.exists():
            return []
        return sorted(
            p.stem
            for p in self.resources_dir.glob("*.json")
            if read_json(p).get("status") == "provisioned"
        )

    # -- servers

    def _external(self) -> _Server:
        url = self.settings.postgres_admin_url
        assert url
        try:
            params = {k: str(v) for k, v in conninfo_to_dict(url).items() if v is not None}
        except psycopg.ProgrammingError:
            raise ProviderUnavailable(
                "The PostgreSQL admin URL is not a valid libpq URL; pass --postgres-admin-url "
                "as postgresql://USER:PASSWORD@HOST:PORT/postgres."
            ) from None
        host = params.get("host") or params.get("hostaddr") or "localhost"
        port = params.get("port") or "5432"
        address = f"{host}:{port}"
        return _Server(
            label=f"the PostgreSQL server at {address}",
            address=address,
            params=params,
            unreachable_hint=_NO_ADMIN_URL_HINT,
            credentials_hint="check the user and password in --postgres-admin-url",
        )

    def _server_for_new(self) -> tuple[_Server, str, int, str]:
        """The server a new add-on goes on: (server, host for URLs, port, kind)."""
        if self.settings.postgres_admin_url:
            server = self._external()
            host = server.params.get("host") or ""
            if not host or host.startswith("/") or "," in host:
                host = "127.0.0.1"
            port = int((server.params.get("port") or "5432").split(",")[0])
            return server, self.settings.postgres_host or host, port, "external"
        self.cluster.ensure_running()
        server = self.cluster.server()
        return server, self.settings.postgres_host or "127.0.0.1", self.cluster.port(), "embedded"

    def _server_for(self, state: Mapping[str, Any]) -> _Server:
        if state["server"] == "embedded":
            self.cluster.ensure_running()
            return self.cluster.server()
        if not self.settings.postgres_admin_url:
            raise ProviderUnavailable(
                f"The database {state['database']} lives on the PostgreSQL server at "
                f"{state['host']}:{state['port']}, but no admin URL is configured; "
                "pass --postgres-admin-url."
            )
        return self._external()

    @contextlib.contextmanager
    def _admin(
        self, server: _Server, dbname: str | None = None
    ) -> Iterator[psycopg.Connection[Any]]:
        with _connect(server, dbname) as conn:
            yield conn

    # -- helpers

    def _url(self, state: Mapping[str, Any]) -> str:
        return (
            f"postgres://{state['role']}:{state['password']}@"
            f"{_url_host(state['host'])}:{state['port']}/{state['database']}"
        )

    @staticmethod
    def _plan(name: str) -> Plan:
        for plan in PLANS:
            if plan.name == name:
                return plan
        raise UnknownPlan(
            f"The {SERVICE_NAME} service has no plan {name}; available plans: "
            + ", ".join(p.short_name for p in PLANS)
            + "."
        )

    @staticmethod
    def _terminate(
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

    def _drop(self, conn: psycopg.Connection[Any], role: str, database: str) -> None:
        """Drop the role and its database; a database of that name owned by anyone else
        (never ours) is left alone."""
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
        if exists:
            conn.execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(sql.Identifier(role)))
            self._terminate(conn, role)
        owned = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s AND pg_get_userbyid(datdba) = %s",
            [database, role],
        ).fetchone()
        if owned:
            self._drop_database(conn, role, database)
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))

    def _drop_database(self, conn: psycopg.Connection[Any], role: str, database: str) -> None:
        ident = sql.Identifier(database)
        conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(ident))
        self._terminate(conn, role, database, wait=10)
        force = " WITH (FORCE)" if conn.info.server_version >= 130000 else ""
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}" + force).format(ident))

    def _create_database(self, conn: psycopg.Connection[Any], role: str, database: str) -> None:
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(database), sql.Identifier(role)
            )
        )
        conn.execute(
            sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database))
        )

    # -- the Provider protocol

    def provision(self, resource_name: str, plan: Plan, options: Mapping[str, str]) -> Provisioned:
        plan = self._plan(plan.name)
        if options:
            given = ", ".join(f"--{key}" for key in sorted(options))
            raise InvalidOptions(
                f"The {SERVICE_NAME} service takes no options (got {given}); remove them."
            )
        server, host, port, kind = self._server_for_new()
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
            "created_at": _now().isoformat(),
            "status": "provisioning",
        }
        # Recorded before anything exists on the server, so an interrupted provision can be
        # swept by start(); removed again if this one fails.
        self._save(state)
        try:
            with self._admin(server) as conn:
                self._provision_on(conn, server, state, plan)
                try:
                    state["status"] = "provisioned"
                    self._save(state)
                except BaseException:
                    with contextlib.suppress(psycopg.Error):
                        self._drop(conn, role, database)
                    raise
        except BaseException:
            self._state_path(database).unlink(missing_ok=True)
            raise
        log.info("provisioned %s for %s on %s", database, resource_name, server.address)
        return Provisioned(resource_id=database, config={"URL": self._url(state)})

    def _provision_on(
        self, conn: psycopg.Connection[Any], server: _Server, state: dict[str, Any], plan: Plan
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
                f"{_sql_reason(exc, server.password)}."
            ) from None
        try:
            if not superuser:
                # A CREATEROLE admin must be a member of the role to give it a database.
                conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(role)))
            self._create_database(conn, role, database)
        except psycopg.Error as exc:
            reason = _sql_reason(exc, server.password)
            with contextlib.suppress(psycopg.Error):
                self._drop(conn, role, database)
            raise AddonError(
                f"Could not create the database for {state['resource_name']} on "
                f"{server.label}: {reason}."
            ) from None

    def deprovision(self, resource_id: str) -> None:
        path = self._state_path(resource_id)
        if path.exists():
            state = read_json(path)
            server = self._server_for(state)
            with self._admin(server) as conn:
                try:
                    self._drop(conn, state["role"], state["database"])
                except psycopg.Error as exc:
                    raise AddonError(
                        f"Could not drop the database {state['database']} on {server.label}: "
                        f"{_sql_reason(exc, server.password)}; fix that on the server and "
                        "destroy the add-on again."
                    ) from None
            log.info("deprovisioned %s (%s)", resource_id, state.get("resource_name"))
        shutil.rmtree(self.backups_dir / resource_id, ignore_errors=True)
        path.unlink(missing_ok=True)

    def config(self, resource_id: str) -> dict[str, str]:
        return {"URL": self._url(self._load(resource_id))}

    def info(self, resource_id: str) -> list[tuple[str, str]]:
        state = self._load(resource_id)
        plan = self._plan(state["plan"])
        limit = CONNECTION_LIMITS[plan.name]
        status, version, size, connections, tables = "Available", "?", "?", "?", "?"
        try:
            server = self._server_for(state)
            with self._admin(server) as conn:
                row = conn.execute(
                    "SELECT current_setting('server_version'), "
                    "pg_size_pretty(pg_database_size(%s)), "
                    "(SELECT count(*) FROM pg_stat_activity WHERE datname = %s)",
                    [state["database"], state["database"]],
                ).fetchone()
                assert row is not None
                version, size, connections = str(row[0]).split()[0], str(row[1]), str(row[2])
            with self._admin(server, dbname=state["database"]) as conn:
                count = conn.execute(
                    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN "
                    "('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%'"
                ).fetchone()
                tables = str(count[0]) if count else "0"
        except AddonError as exc:
            status = f"Unavailable: {exc.message}"
        except psycopg.Error as exc:
            status = f"Unavailable: {_sql_reason(exc)}."
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
            ("Server", f"{where} at {state['host']}:{state['port']}"),
            ("Add-on", str(state.get("resource_name", ""))),
        ]

    def rotate_credentials(self, resource_id: str) -> dict[str, str]:
        state = self._load(resource_id)
        server = self._server_for(state)
        password = new_password()
        with self._admin(server) as conn:
            try:
                conn.execute(
                    sql.SQL("ALTER ROLE {} WITH PASSWORD {}").format(
                        sql.Identifier(state["role"]), sql.Literal(scram_verifier(password))
                    )
                )
                self._terminate(conn, state["role"])
            except psycopg.Error as exc:
                raise AddonError(
                    f"Could not set a new password for {state['role']} on {server.label}: "
                    f"{_sql_reason(exc, server.password)}."
                ) from None
        state["password"] = password
        self._save(state)
        log.info("rotated the credentials of %s", resource_id)
        return {"URL": self._url(state)}

    def start(self) -> None:
        self.cluster.start()
        self._sweep_interrupted()

    def stop(self) -> None:
        self.cluster.stop()

    def _sweep_interrupted(self) -> None:
        """Drop what a provision interrupted by a platform crash may have left."""
        if not self.resources_dir.exists():
            return
        for path in self.resources_dir.glob("*.json"):
            state = read_json(path)
            if state.get("status") != "provisioning":
                continue
            try:
                server = self._server_for(state)
                with self._admin(server) as conn:
                    self._drop(conn, state["role"], state["database"])
            except (AddonError, psycopg.Error) as exc:
                log.warning("could not clean up interrupted provision %s: %s", path.stem, exc)
                continue
            path.unlink(missing_ok=True)
            log.info("cleaned up interrupted provision %s", path.stem)

    # -- beyond the protocol: pg:reset, pg:psql, pg:backups

    def reset(self, resource_id: str) -> None:
        """pg:reset: an empty database of the same name, owner and password."""
        state = self._load(resource_id)
        server = self._server_for(state)
        with self._admin(server) as conn:
            try:
                self._drop_database(conn, state["role"], state["database"])
                self._create_database(conn, state["role"], state["database"])
            except psycopg.Error as exc:
                raise AddonError(
                    f"Could not reset the database {state['database']}: "
                    f"{_sql_reason(exc, server.password)}."
                ) from None

    def _client_env(self, state: Mapping[str, Any], app: str) -> dict[str, str]:
        return {
            "PGPASSWORD": state["password"],
            "PGCONNECT_TIMEOUT": "10",
            "PGAPPNAME": app,
        }

    @staticmethod
    def _client_args(state: Mapping[str, Any]) -> list[str]:
        return [
            f"--host={state['host']}",
            f"--port={state['port']}",
            f"--username={state['role']}",
            f"--dbname={state['database']}",
        ]

    def psql_command(self, resource_id: str) -> tuple[list[str], dict[str, str]]:
        """argv and extra environment for `pg:psql` (the password is in the environment)."""
        state = self._load(resource_id)
        psql = self.bins.find("psql")
        return [psql, *self._client_args(state)], self._client_env(state, "psql")

    def _backup_dir(self, resource_id: str) -> Path:
        check_resource_id(resource_id, SERVICE_NAME)
        return self.backups_dir / resource_id

    def _run_tool(self, argv: list[str], state: Mapping[str, Any], app: str) -> tuple[int, str]:
        env = base_env() | self._client_env(state, app)
        proc = subprocess.run(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        return proc.returncode, proc.stderr + proc.stdout

    def capture_backup(self, resource_id: str) -> Backup:
        """pg:backups:capture: pg_dump -Fc into backups/<resource_id>/bNNN.dump."""
        state = self._load(resource_id)
        pg_dump = self.bins.find("pg_dump")
        if state["server"] == "embedded":
            self.cluster.ensure_running()
        directory = self._backup_dir(resource_id)
        with self._lock:
            private_dir(self.backups_dir)
            private_dir(directory)
            counter = directory / "counter"
            last = int(counter.read_text()) if counter.exists() else 0
            number = last + 1
            write_private(counter, f"{number}\n")
        name = f"b{number:03d}"
        partial = directory / f".{name}.dump.partial"
        created = _now()
        rc, out = self._run_tool(
            [
                pg_dump,
                "--format=custom",
                "--no-owner",
                "--no-acl",
                f"--file={partial}",
                *self._client_args(state),
            ],
            state,
            "slipway-backup",
        )
        if rc != 0:
            partial.unlink(missing_ok=True)
            raise BackupFailed(
                f"Backup {name} of {state['resource_name']} failed: "
                f"{_tool_reason(out, state['password'])}."
            )
        dump = directory / f"{name}.dump"
        partial.chmod(0o600)
        partial.replace(dump)
        meta = {
            "name": name,
            "created_at": created.isoformat(),
            "size": dump.stat().st_size,
            "status": "Completed",
            "database": state["database"],
        }
        write_json(directory / f"{name}.json", meta)
        log.info("captured backup %s of %s", name, resource_id)
        return self._backup_from(meta)

    @staticmethod
    def _backup_from(meta: Mapping[str, Any]) -> Backup:
        return Backup(
            name=str(meta["name"]),
            created_at=datetime.fromisoformat(str(meta["created_at"])),
            size=int(meta["size"]),
            status=str(meta["status"]),
        )

    def list_backups(self, resource_id: str) -> list[Backup]:
        """pg:backups, oldest first."""
        self._load(resource_id)
        directory = self._backup_dir(resource_id)
        backups = []
        for meta_path in directory.glob("b*.json"):
            match = _BACKUP_NAME.match(meta_path.stem)
            if match and (directory / f"{meta_path.stem}.dump").exists():
                backups.append((int(match.group(1)), self._backup_from(read_json(meta_path))))
        return [backup for _, backup in sorted(backups, key=lambda pair: pair[0])]

    def backup_path(self, resource_id: str, backup_name: str) -> Path:
        """The dump file of a backup (pg:backups:download)."""
        state = self._load(resource_id)
        path = self._backup_dir(resource_id) / f"{backup_name}.dump"
        if not _BACKUP_NAME.match(backup_name) or not path.exists():
            raise ResourceNotFound(
                f"There is no backup {backup_name} of {state['resource_name']}; "
                "pg:backups lists the backups."
            )
        return path

    def delete_backup(self, resource_id: str, backup_name: str) -> None:
        path = self.backup_path(resource_id, backup_name)
        path.with_suffix(".json").unlink(missing_ok=True)
        path.unlink()

    def restore_backup(
        self, resource_id: str, backup_name: str, *, source_resource_id: str | None = None
    ) -> None:
        """pg:backups:restore: the database becomes what the backup holds, nothing else.

        The backup is this add-on's own unless `source_resource_id` names another
        add-on (Heroku's `pg:backups:restore APP::b001 DATABASE_URL`). pg_restore
        (--clean --if-exists --no-owner --role=<role>, one transaction, as the role)
        fills a fresh database owned by the role; only when that succeeded is it
        swapped in under the add-on's database name (open sessions are ended).
        On failure the database is as it was.
        """
        state = self._load(resource_id)
        path = self.backup_path(source_resource_id or resource_id, backup_name)
        pg_restore = self.bins.find("pg_restore")
        server = self._server_for(state)
        role, database = state["role"], state["database"]
        scratch = f"{database}_restore_{random_name('', 6)}"
        previous = f"{database}_previous_{random_name('', 6)}"
        with self._admin(server) as conn:
            try:
                self._create_database(conn, role, scratch)
            except psycopg.Error as exc:
                raise BackupFailed(
                    f"Could not make room to restore {backup_name} into "
                    f"{state['resource_name']}: {_sql_reason(exc, server.password)}."
                ) from None
            rc, out = self._run_tool(
                [
                    pg_restore,
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    "--no-acl",
                    f"--role={role}",
                    "--single-transaction",
                    "--exit-on-error",
                    *self._client_args(state | {"database": scratch}),
                    str(path),
                ],
                state,
                "slipway-restore",
            )
            try:
                if rc != 0:
                    raise BackupFailed(
                        f"Restoring {backup_name} into {state['resource_name']} failed, and "
                        f"the database was left as it was: {_tool_reason(out, state['password'])}."
                    )
                self._swap(conn, role, database, scratch, previous)
            except psycopg.Error as exc:
                raise BackupFailed(
                    f"Restoring {backup_name} into {state['resource_name']} failed, and the "
                    f"database was left as it was: {_sql_reason(exc, server.password)}."
                ) from None
            finally:
                with contextlib.suppress(psycopg.Error):
                    self._drop_database(conn, role, scratch)
        log.info("restored %s into %s", backup_name, resource_id)

    def _swap(
        self, conn: psycopg.Connection[Any], role: str, database: str, scratch: str, previous: str
    ) -> None:
        """`scratch` takes the name `database`; the old database is dropped."""

        def rename(old: str, new: str) -> None:
            conn.execute(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                    sql.Identifier(old), sql.Identifier(new)
                )
            )

        ident = sql.Identifier(database)
        conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(ident))
        try:
            self._terminate(conn, role, database, wait=10)
            rename(database, previous)
        except psycopg.Error:
            conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(ident))
            raise
        try:
            rename(scratch, database)
        except psycopg.Error:
            rename(previous, database)
            conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(ident))
            raise
        self._drop_database(conn, role, previous)
