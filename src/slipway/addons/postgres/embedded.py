"""The embedded PostgreSQL cluster: the server Slipway runs itself when no admin URL is given.

Created with initdb under `<data_dir>/addons/postgres/cluster`, started and
stopped with pg_ctl, listening on 127.0.0.1 only on a port chosen once and kept
(`cluster.json`), with its superuser password in `superuser-password`, its unix
socket in `run/` and its log in `log/postgresql.log`. It speaks TLS with the
platform's add-on certificate (copied into PGDATA) beside plain connections. As root it runs as
`settings.postgres_os_user` (postgres refuses to run as root); `addons/` and
`addons/postgres/` are then made searchable (0711) so that user can reach its
own directories.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from psycopg import sql

from slipway.addons._files import private_dir, read_json, write_json, write_private
from slipway.addons._names import new_password
from slipway.addons._ports import pick_port, port_is_free
from slipway.addons._programs import (
    OsUser,
    base_env,
    blocking_ancestor,
    is_root,
    make_searchable,
)
from slipway.addons.errors import PortInUse, ProviderUnavailable
from slipway.addons.postgres.binaries import PgBinaries
from slipway.addons.postgres.connect import AdminServer, connect, tool_reason
from slipway.addons.provider import AddonSettings

log = logging.getLogger("slipway.addons.postgres")

# Enough for every plan's limit plus the provider's own sessions.
_EMBEDDED_MAX_CONNECTIONS = 200
# The platform's add-on certificate, copied for the cluster's user (0600).
TLS_CERT = "slipway-tls.crt"
TLS_KEY = "slipway-tls.key"


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

    def server(self) -> AdminServer:
        port = self.port()
        return AdminServer(
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
                    f"The embedded PostgreSQL cluster did not stop: {tool_reason(out)}; "
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
                f"{tool_reason(out, password)}; fix that or pass --postgres-admin-url."
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

        addresses = ["127.0.0.1"]
        if self.settings.listen_host and self.settings.listen_host != "127.0.0.1":
            addresses.append(self.settings.listen_host)
        hba = self.pgdata / "slipway_hba.conf"
        # Every connection needs a password. Beyond loopback, only the networks the
        # server is on directly (the dyno bridge): the host's nftables rules decide
        # which dynos reach the port at all.
        hba_text = (
            "# Written by Slipway at every start.\n"
            "local all all scram-sha-256\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
            "host all all ::1/128 scram-sha-256\n"
        )
        if len(addresses) > 1:
            hba_text += "host all all samenet scram-sha-256\n"
        write_private(hba, hba_text, owner=user)
        conf = (
            "# Written by Slipway at every start.\n"
            f"listen_addresses = {quoted(','.join(addresses))}\n"
            f"hba_file = {quoted(str(hba))}\n"
            f"port = {self.port()}\n"
            f"unix_socket_directories = {quoted(str(self.socket_dir))}\n"
            f"max_connections = {_EMBEDDED_MAX_CONNECTIONS}\n"
            "password_encryption = 'scram-sha-256'\n"
        )
        cert, key = self.settings.tls_cert, self.settings.tls_key
        if cert is not None and key is not None:
            # TLS as Heroku Postgres has it (apps ask for sslmode=require), with the
            # platform's certificate; clients that do not ask still connect in plain.
            write_private(self.pgdata / TLS_CERT, cert.read_text(), owner=user)
            write_private(self.pgdata / TLS_KEY, key.read_text(), owner=user)
            conf += (
                "ssl = on\n"
                f"ssl_cert_file = {quoted(str(self.pgdata / TLS_CERT))}\n"
                f"ssl_key_file = {quoted(str(self.pgdata / TLS_KEY))}\n"
            )
        write_private(self.pgdata / "slipway.conf", conf, owner=user)

    def _start(self, user: OsUser | None) -> None:
        port = self.port()
        state = read_json(self.state_path)
        for _ in range(5):
            if port_is_free(port) or state.get("hardened"):
                break
            # Never started, so no add-on's URL holds this port yet: another program (or
            # another Slipway) took it since initdb; this cluster takes the next free one.
            port = pick_port(
                self.settings.postgres_ports, {port}, "the embedded PostgreSQL cluster"
            )
            state = state | {"port": port}
            write_json(self.state_path, state)
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
            reason = tool_reason(self._log_tail() or out)
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
        with connect(self.server()) as conn:
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
