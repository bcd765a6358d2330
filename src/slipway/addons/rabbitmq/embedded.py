"""The embedded RabbitMQ: a rabbitmq-server of Slipway's own when no admin URL is given.

Run under `<data_dir>/addons/rabbitmq/server` (as `settings.rabbitmq_os_user`
when Slipway runs as root) with a node name, Erlang cookie, ports and files of
its own, so it never meets the machine's RabbitMQ: AMQP, Erlang distribution
and the management API take three consecutive ports from the first free one in
`settings.rabbitmq_ports`, all on 127.0.0.1 (AMQP also on `settings.listen_host`,
the dyno bridge's address, which add-on URLs name), kept in `server.json`. Its
administrator `slipway` (a random password in `admin-password`) is the
management API user the provider works with; `guest` does not exist.

    <data_dir>/addons/rabbitmq/
        server.json, admin-password
        server/            owned by the server's OS user
            rabbitmq.conf, enabled_plugins, .erlang.cookie
            mnesia/        the broker's data (definitions, durable queues, messages)
            log/
        server/rabbitmq.log
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
from pathlib import Path

import httpx

from slipway.addons._daemon import Daemon, DaemonSpec
from slipway.addons._files import private_dir, read_json, write_json, write_private
from slipway.addons._names import new_password
from slipway.addons._ports import port_is_free
from slipway.addons._programs import OsUser, blocking_ancestor, is_root, make_searchable, which
from slipway.addons.errors import ProviderUnavailable
from slipway.addons.provider import AddonSettings
from slipway.addons.rabbitmq.management import Broker

log = logging.getLogger("slipway.addons.rabbitmq")

ADMIN = "slipway"
_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"


class EmbeddedRabbit:
    def __init__(self, root: Path, settings: AddonSettings) -> None:
        self.root = root
        self.home = root / "server"
        self.state_path = root / "server.json"
        self.password_path = root / "admin-password"
        self.log_path = self.home / "rabbitmq.log"
        self.settings = settings
        self._lock = threading.RLock()
        self._daemon: Daemon | None = None

    def exists(self) -> bool:
        return self.state_path.exists()

    def ports(self) -> tuple[int, int, int]:
        """(AMQP, Erlang distribution, management API)."""
        base = int(read_json(self.state_path)["port"])
        return base, base + 1, base + 2

    def node(self) -> str:
        # Unique per data dir: two Slipways on one machine never share a node name.
        digest = hashlib.sha256(str(self.root).encode()).hexdigest()[:8]
        return f"slipway-{digest}@localhost"

    def broker(self) -> Broker:
        amqp, _, api = self.ports()
        return Broker(
            label=f"the embedded RabbitMQ at 127.0.0.1:{amqp}",
            api=f"http://127.0.0.1:{api}",
            user=ADMIN,
            password=self.password_path.read_text().strip(),
            amqp_host="127.0.0.1",
            amqp_port=amqp,
            unreachable_hint=f"see {self.log_path}",
            credentials_hint=f"its admin password is kept in {self.password_path}",
        )

    def _user(self) -> OsUser | None:
        if not is_root():
            return None
        user = OsUser.lookup(self.settings.rabbitmq_os_user)
        if user is None:
            raise ProviderUnavailable(
                f"Slipway runs as root, and the embedded RabbitMQ must run as the OS user "
                f"{self.settings.rabbitmq_os_user}, which does not exist; install rabbitmq-server "
                "or pass --rabbitmq-admin-url."
            )
        return user

    @staticmethod
    def _program() -> str:
        found = which(_SERVER) or which("rabbitmq-server")
        if found is None:
            raise ProviderUnavailable(
                "rabbitmq-server was not found; install the rabbitmq-server package, or pass "
                "--rabbitmq-admin-url."
            )
        return found

    def _pick_ports(self) -> int:
        low, high = self.settings.rabbitmq_ports
        for base in range(low, high - 1):
            if all(port_is_free(p) for p in (base, base + 1, base + 2)):
                return base
        raise ProviderUnavailable(
            f"No three free ports in a row are left for the embedded RabbitMQ between {low} "
            f"and {high}; free some or widen the range."
        )

    def _prepare(self, user: OsUser | None) -> None:
        private_dir(self.root)
        private_dir(self.home)
        if user is not None:
            make_searchable(self.root.parent, self.root)
            user.chown(self.home)
            if not user.can_reach(self.home):
                blocked = blocking_ancestor(self.home, user)
                raise ProviderUnavailable(
                    f"The embedded RabbitMQ runs as the OS user {user.name}, which cannot reach "
                    f"{blocked}; make it searchable (chmod o+x {blocked}), use a data dir "
                    "outside it, or pass --rabbitmq-admin-url."
                )
        amqp, _, api = self.ports()
        listeners = "".join(
            f"listeners.tcp.{n} = {address}:{amqp}\n"
            for n, address in enumerate(self.settings.listen_addresses(), start=1)
        )
        conf = (
            "# Written by Slipway at every start.\n"
            f"{listeners}"
            f"management.tcp.ip = 127.0.0.1\n"
            f"management.tcp.port = {api}\n"
            f"default_user = {ADMIN}\n"
            f"default_pass = {self.password_path.read_text().strip()}\n"
            "default_user_tags.administrator = true\n"
            "default_vhost = /\n"
            "loopback_users = none\n"
            "log.console = true\n"
            "log.file = false\n"
        )
        write_private(self.home / "rabbitmq.conf", conf, owner=user)
        write_private(self.home / "enabled_plugins", "[rabbitmq_management].\n", owner=user)
        cookie = self.home / ".erlang.cookie"
        if not cookie.exists():
            write_private(cookie, secrets.token_hex(20), owner=user)
            cookie.chmod(0o400)
        write_private(self.home / "rabbitmq-env.conf", "", owner=user)

    def _env(self) -> dict[str, str]:
        amqp, dist, _ = self.ports()
        home = str(self.home)
        return {
            "HOME": home,
            "RABBITMQ_NODENAME": self.node(),
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(amqp),
            "RABBITMQ_DIST_PORT": str(dist),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_CONFIG_FILE": f"{home}/rabbitmq.conf",
            "RABBITMQ_ENABLED_PLUGINS_FILE": f"{home}/enabled_plugins",
            "RABBITMQ_CONF_ENV_FILE": f"{home}/rabbitmq-env.conf",
            "RABBITMQ_ADVANCED_CONFIG_FILE": f"{home}/advanced.config",
            "RABBITMQ_MNESIA_BASE": f"{home}/mnesia",
            "RABBITMQ_LOG_BASE": f"{home}/log",
            "RABBITMQ_PID_FILE": f"{home}/rabbitmq.pid",
        }

    def _ready(self) -> str | None:
        broker = self.broker()
        try:
            response = httpx.get(
                broker.api + "/api/overview", auth=(broker.user, broker.password), timeout=2
            )
        except httpx.HTTPError as exc:
            return f"its management API does not answer yet ({type(exc).__name__})"
        if response.status_code != 200:
            return f"its management API answers {response.status_code}"
        return None

    def ensure_running(self) -> None:
        with self._lock:
            if not self.exists():
                private_dir(self.root)
                write_private(self.password_path, new_password() + "\n")
                write_json(self.state_path, {"port": self._pick_ports()})
                log.info("creating the embedded RabbitMQ in %s", self.home)
            self._daemon_for().start()

    def start(self) -> None:
        with self._lock:
            if self.exists():
                self._daemon_for().start()

    def stop(self) -> None:
        """Stop the server, also one a previous run left (found by its pidfile)."""
        with self._lock:
            if self._daemon is not None:
                self._daemon.stop()
            elif self.exists() and (self.home / "daemon.pid").exists():
                self._daemon_for().stop()

    def _daemon_for(self) -> Daemon:
        if self._daemon is None:
            user = self._user()
            self._prepare(user)
            self._daemon = Daemon(
                DaemonSpec(
                    name="the embedded RabbitMQ",
                    directory=self.home,
                    program="rabbitmq-server",
                    argv=lambda: [self._program()],
                    ready=self._ready,
                    log_path=self.log_path,
                    user=user,
                    env=self._env(),
                    start_timeout=90,
                    stop_timeout=60,
                )
            )
        return self._daemon
