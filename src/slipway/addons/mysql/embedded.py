"""The embedded MariaDB: the server Slipway runs itself when no admin URL is given.

Made once with `mariadb-install-db` under `<data_dir>/addons/mysql/server/data`
and run as `mariadbd` (as `settings.mysql_os_user` when Slipway runs as root),
listening on 127.0.0.1 (and on `settings.listen_host`, the dyno bridge's address,
when there is one), on a port chosen once and kept (`server.json`), with TLS from
the platform's CA for both. The first start runs an init file that locks
root and creates the provider's own administrator `slipway@127.0.0.1`, whose
password is kept in `admin-password`; nothing listens before that.

    <data_dir>/addons/mysql/
        server.json        port, initialised
        admin-password     the provider's admin password (0600)
        server/            owned by the server's OS user
            data/          the data directory
            run/           socket, pid
            tls/           server.crt, server.key, ca.crt
            init.sql       only during the first start
        server/mariadbd.log
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import threading
from pathlib import Path

from slipway.addons._daemon import Daemon, DaemonSpec
from slipway.addons._files import private_dir, read_json, write_json, write_private
from slipway.addons._names import new_password
from slipway.addons._ports import pick_port
from slipway.addons._programs import (
    OsUser,
    base_env,
    blocking_ancestor,
    is_root,
    make_searchable,
    which,
)
from slipway.addons.errors import ProviderUnavailable
from slipway.addons.mysql.connect import MysqlServer, connect
from slipway.addons.provider import AddonSettings
from slipway.tls import addon_certificate

log = logging.getLogger("slipway.addons.mysql")

ADMIN = "slipway"


class EmbeddedMariadb:
    def __init__(self, root: Path, data_dir: Path, settings: AddonSettings) -> None:
        self.root = root
        self.platform_data_dir = data_dir
        self.home = root / "server"
        self.datadir = self.home / "data"
        self.run_dir = self.home / "run"
        self.tls_dir = self.home / "tls"
        self.state_path = root / "server.json"
        self.password_path = root / "admin-password"
        self.log_path = self.home / "mariadbd.log"
        self.settings = settings
        self._lock = threading.RLock()
        self._daemon: Daemon | None = None

    # -- state

    def initialized(self) -> bool:
        return self.state_path.exists() and bool(read_json(self.state_path).get("initialized"))

    def port(self) -> int:
        return int(read_json(self.state_path)["port"])

    def server(self) -> MysqlServer:
        port = self.port()
        return MysqlServer(
            label=f"the embedded MariaDB at 127.0.0.1:{port}",
            host="127.0.0.1",
            port=port,
            user=ADMIN,
            password=self.password_path.read_text().strip(),
            unreachable_hint=f"see {self.log_path}",
            credentials_hint=f"its admin password is kept in {self.password_path}",
        )

    @property
    def ca_cert(self) -> Path:
        return self.tls_dir / "ca.crt"

    # -- programs and users

    def _user(self) -> OsUser | None:
        if not is_root():
            return None
        user = OsUser.lookup(self.settings.mysql_os_user)
        if user is None:
            raise ProviderUnavailable(
                f"Slipway runs as root, and the embedded MariaDB must run as the OS user "
                f"{self.settings.mysql_os_user}, which does not exist; install mariadb-server "
                "or pass --mysql-admin-url."
            )
        return user

    @staticmethod
    def _program(name: str) -> str:
        found = which(name) or which(f"/usr/sbin/{name}")
        if found is None:
            raise ProviderUnavailable(
                f"The MariaDB program {name} was not found; install the mariadb-server "
                "package, or pass --mysql-admin-url."
            )
        return found

    def _prepare(self, user: OsUser | None) -> None:
        private_dir(self.root)
        if user is not None:
            make_searchable(self.root.parent, self.root)
        for directory in (self.home, self.datadir, self.run_dir, self.tls_dir):
            private_dir(directory)
            if user is not None:
                user.chown(directory)
        if user is not None and not user.can_reach(self.datadir):
            blocked = blocking_ancestor(self.datadir, user)
            raise ProviderUnavailable(
                f"The embedded MariaDB runs as the OS user {user.name}, which cannot reach "
                f"{blocked}; make it searchable (chmod o+x {blocked}), use a data dir outside "
                "it, or pass --mysql-admin-url."
            )

    def _write_tls(self, user: OsUser | None) -> None:
        hosts = ["localhost", *self.settings.listen_addresses()]
        chain, key = addon_certificate(self.platform_data_dir, self.root / "ca", hosts)
        owner = user
        write_private(self.tls_dir / "server.crt", chain.decode(), owner=owner)
        write_private(self.tls_dir / "server.key", key.decode(), owner=owner)
        ca = chain[chain.index(b"-----END CERTIFICATE-----") + 26 :].lstrip()
        write_private(self.tls_dir / "ca.crt", ca.decode(), owner=owner)

    # -- lifecycle

    def ensure_running(self) -> None:
        """Create the server if there is none yet, and start it if it is not running."""
        with self._lock:
            user = self._user()
            if not self.initialized():
                self._init(user)
            self._daemon_for(user).start()

    def start(self) -> None:
        """Start the server if it exists (a platform restart); never creates one."""
        with self._lock:
            if self.initialized():
                self._daemon_for(self._user()).start()

    def stop(self) -> None:
        """Stop the server, also one a previous run left (found by its pidfile)."""
        with self._lock:
            if self._daemon is not None:
                self._daemon.stop()
            elif self.initialized() and (self.home / "daemon.pid").exists():
                self._daemon_for(self._user()).stop()

    def _daemon_for(self, user: OsUser | None) -> Daemon:
        if self._daemon is None:
            self._prepare(user)
            self._write_tls(user)
            self._daemon = Daemon(
                DaemonSpec(
                    name="the embedded MariaDB",
                    directory=self.home,
                    program="mariadbd",
                    argv=self._argv,
                    ready=self._ready,
                    log_path=self.log_path,
                    user=user,
                    start_timeout=60,
                    stop_timeout=60,
                )
            )
        return self._daemon

    def _argv(self) -> list[str]:
        argv = [
            self._program("mariadbd"),
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--socket={self.run_dir / 'mysqld.sock'}",
            f"--pid-file={self.run_dir / 'mysqld.pid'}",
            f"--port={self.port()}",
            # Dynos reach it on the bridge address only (their own namespace's loopback
            # is not the host's); the add-ons' users are '%': what reaches it at all is
            # decided by these addresses and the host's nftables rules.
            f"--bind-address={','.join(self.settings.listen_addresses())}",
            "--skip-name-resolve",
            "--max-connections=300",
            "--innodb-buffer-pool-size=64M",
            "--innodb-log-file-size=16M",
            f"--ssl-cert={self.tls_dir / 'server.crt'}",
            f"--ssl-key={self.tls_dir / 'server.key'}",
            f"--ssl-ca={self.tls_dir / 'ca.crt'}",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
        ]
        init = self.home / "init.sql"
        if init.exists():
            argv.append(f"--init-file={init}")
        return argv

    def _ready(self) -> str | None:
        """Ready when the provider's administrator can log in (so the init file ran)."""
        port = self.port()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                pass
            connect(self.server(), timeout=2).close()
        except OSError as exc:
            return f"port {port} does not accept connections ({exc.strerror or exc})"
        except ProviderUnavailable as exc:
            return exc.message
        (self.home / "init.sql").unlink(missing_ok=True)
        return None

    def _init(self, user: OsUser | None) -> None:
        self._prepare(user)
        if any(self.datadir.iterdir()):
            # What an interrupted mariadb-install-db left: start again from nothing.
            shutil.rmtree(self.datadir)
            private_dir(self.datadir)
            if user is not None:
                user.chown(self.datadir)
        state = read_json(self.state_path) if self.state_path.exists() else {}
        port = int(state.get("port") or 0) or pick_port(
            self.settings.mysql_ports, set(), "the embedded MariaDB"
        )
        write_json(self.state_path, {"port": port, "initialized": False})
        prefix = user.argv() if user else []
        proc = subprocess.run(
            [
                *prefix,
                self._program("mariadb-install-db"),
                "--no-defaults",
                f"--datadir={self.datadir}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
            ],
            cwd=self.home,
            env=base_env() | (user.env() if user else {}),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if proc.returncode != 0:
            lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
            raise ProviderUnavailable(
                "mariadb-install-db could not create the embedded MariaDB: "
                f"{(lines[-1] if lines else 'no output').strip().rstrip('.')}; "
                "fix that or pass --mysql-admin-url."
            )
        password = new_password()
        write_private(self.password_path, password + "\n")
        # Run by mariadbd before it accepts connections: root gets a password nobody
        # knows, and the provider an administrator of its own.
        init = (
            f"ALTER USER 'root'@'localhost' IDENTIFIED BY '{new_password()}';\n"
            f"CREATE USER '{ADMIN}'@'127.0.0.1' IDENTIFIED BY '{password}';\n"
            f"GRANT ALL PRIVILEGES ON *.* TO '{ADMIN}'@'127.0.0.1' WITH GRANT OPTION;\n"
            "DELETE FROM mysql.global_priv WHERE User = '';\n"
            "FLUSH PRIVILEGES;\n"
        )
        write_private(self.home / "init.sql", init, owner=user)
        write_json(self.state_path, {"port": port, "initialized": True})
        log.info("created the embedded MariaDB in %s (port %d)", self.datadir, port)
