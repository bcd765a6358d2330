"""Each heroku-redis add-on's server as files: its directory, state.json and redis.conf,
the redis-server binary and OS user it runs as, and the provider's admin connection to it.

    <data_dir>/addons/redis/<resource_id>/
        state.json    port, passwords, plan (0600)
        redis.conf    rendered from state.json at every start and rotation (0600)
        tls.crt, tls.key  the platform's add-on certificate, copied for the server (0600)
        redis.pid     written by redis-server
        redis.log     its log
        dump.rdb, appendonlydir/

Access: the app's user is redis' `default` user (so `redis://default:PASSWORD@...`
and `AUTH PASSWORD` work) with every command except the @admin category
(CONFIG, SHUTDOWN, SAVE, DEBUG, MODULE, ACL, REPLICAOF, MONITOR...), since the
server may run as root. The provider manages the server as its own ACL user
`slipway`.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from slipway.addons._files import private_dir, read_json, write_json, write_private
from slipway.addons._names import check_resource_id
from slipway.addons._programs import OsUser, blocking_ancestor, is_root, make_searchable, which
from slipway.addons.errors import ProviderUnavailable, ResourceNotFound
from slipway.addons.provider import AddonSettings
from slipway.addons.redis.resp import RespClient
from slipway.addons.redis.service import PLAN_LIMITS, SERVICE_NAME

ADMIN_USER = "slipway"
HOST = "127.0.0.1"
TLS_CERT = "tls.crt"
TLS_KEY = "tls.key"


def password_hash(password: str) -> str:
    """What an ACL rule stores for a password (`#<sha256>`), so redis.conf holds no plaintext."""
    return hashlib.sha256(password.encode()).hexdigest()


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class RedisServers:
    """The add-ons' redis-servers on disk, and how the provider reaches one as admin."""

    def __init__(self, root: Path, settings: AddonSettings) -> None:
        self.root = root
        self.settings = settings
        self._version: tuple[int, int, int] | None = None

    # -- state

    def directory(self, resource_id: str) -> Path:
        check_resource_id(resource_id, SERVICE_NAME)
        return self.root / resource_id

    def load(self, resource_id: str) -> dict[str, Any]:
        path = self.directory(resource_id) / "state.json"
        if not path.exists():
            raise ResourceNotFound(
                f"There is no {SERVICE_NAME} instance {resource_id} on this Slipway; "
                "check the add-on name."
            )
        return read_json(path)

    def save(self, state: Mapping[str, Any]) -> None:
        write_json(self.directory(state["resource_id"]) / "state.json", dict(state))

    def states(self) -> list[dict[str, Any]]:
        if not self.root.exists():
            return []
        states = []
        for path in sorted(self.root.glob("*/state.json")):
            with contextlib.suppress(OSError, ValueError):
                states.append(read_json(path))
        return states

    # -- the binary and its user

    def binary(self) -> str:
        binary = which(self.settings.redis_server_bin)
        if binary is None:
            raise ProviderUnavailable(
                f"The program {self.settings.redis_server_bin} was not found; install the "
                "redis-server package."
            )
        return binary

    def version(self) -> tuple[int, int, int]:
        if self._version is None:
            binary = self.binary()
            out = subprocess.run(
                [binary, "--version"], capture_output=True, text=True, check=False
            ).stdout
            match = re.search(r"v=(\d+)\.(\d+)\.(\d+)", out)
            if not match:
                raise ProviderUnavailable(
                    f"The program {binary} did not print a Redis version; install the "
                    "redis-server package."
                )
            version = (int(match[1]), int(match[2]), int(match[3]))
            if version < (6, 0, 0):
                raise ProviderUnavailable(
                    f"Redis {'.'.join(map(str, version))} is too old (Slipway needs 6.0 or newer "
                    "for ACL users); upgrade the redis-server package."
                )
            self._version = version
        return self._version

    def user(self) -> OsUser | None:
        name = self.settings.redis_os_user
        if not name or not is_root():
            return None
        user = OsUser.lookup(name)
        if user is None:
            raise ProviderUnavailable(
                f"The OS user {name} that redis-servers should run as does not exist; create it "
                "or leave the redis user setting empty."
            )
        return user

    def prepare_dir(self, directory: Path, user: OsUser | None) -> None:
        private_dir(self.root)
        private_dir(directory)
        if user is not None:
            make_searchable(self.root.parent, self.root)
            user.chown(directory)
            if not user.can_reach(directory):
                blocked = blocking_ancestor(directory, user)
                raise ProviderUnavailable(
                    f"Redis servers run as the OS user {user.name}, which cannot reach "
                    f"{blocked}; make it searchable (chmod o+x {blocked}) or use a data dir "
                    "outside it."
                )

    # -- config and connections

    def render_conf(self, state: Mapping[str, Any]) -> str:
        version = self.version()
        directory = self.directory(state["resource_id"])
        limits = PLAN_LIMITS[state["plan"]]
        channels = " &*" if version >= (6, 2, 0) else ""
        app_hash = password_hash(state["password"])
        admin_hash = password_hash(state["admin_password"])
        lines = [
            f"# Written by Slipway for {state['resource_name']} ({state['resource_id']}).",
            "# Rendered again from state.json at every start and rotation: do not edit.",
            f"bind {' '.join(self.bind_addresses())}",
            f"port {state['port']}",
            "protected-mode yes",
            "daemonize no",
            f"pidfile {_quoted(str(directory / 'redis.pid'))}",
            f"logfile {_quoted(str(directory / 'redis.log'))}",
            "loglevel notice",
            f"dir {_quoted(str(directory))}",
            'dbfilename "dump.rdb"',
            'save ""',
            f"appendonly {'yes' if limits.aof else 'no'}",
            "appendfsync everysec",
            f"maxmemory {limits.maxmemory_mb}mb",
            f"maxmemory-policy {state['maxmemory_policy']}",
            f"maxclients {limits.maxclients}",
            f"timeout {int(state.get('timeout', 0))}",
            f"notify-keyspace-events {_quoted(str(state.get('notify_keyspace_events', '')))}",
            f"user default reset on #{app_hash} ~*{channels} +@all -@admin",
            f"user {ADMIN_USER} reset on #{admin_hash} ~*{channels} +@all",
        ]
        if state.get("tls_port"):
            # TLS beside plain TCP (REDIS_TLS_URL, rediss://): clients show no certificate.
            lines += [
                f"tls-port {state['tls_port']}",
                f"tls-cert-file {_quoted(str(directory / TLS_CERT))}",
                f"tls-key-file {_quoted(str(directory / TLS_KEY))}",
                "tls-auth-clients no",
            ]
        if version >= (7, 0, 0):
            lines += [
                "enable-protected-configs no",
                "enable-debug-command no",
                "enable-module-command no",
                "shutdown-on-sigterm save",
                "shutdown-on-sigint save",
            ]
        return "\n".join(lines) + "\n"

    def write_conf(self, state: Mapping[str, Any]) -> Path:
        directory = self.directory(state["resource_id"])
        if state.get("tls_port"):
            self._copy_tls(directory)
        path = directory / "redis.conf"
        write_private(path, self.render_conf(state), owner=self.user())
        return path

    def tls_available(self) -> bool:
        cert, key = self.settings.tls_cert, self.settings.tls_key
        return cert is not None and key is not None and cert.exists() and key.exists()

    def _copy_tls(self, directory: Path) -> None:
        """The platform's certificate and key, copied for the server's own user (0600)."""
        cert, key = self.settings.tls_cert, self.settings.tls_key
        if cert is None or key is None:
            raise ProviderUnavailable(
                "This redis add-on speaks TLS, but the server was started without a "
                "certificate for add-ons; start it with its CA (the default)."
            )
        owner = self.user()
        write_private(directory / TLS_CERT, cert.read_text(), owner=owner)
        write_private(directory / TLS_KEY, key.read_text(), owner=owner)

    @contextlib.contextmanager
    def admin(self, state: Mapping[str, Any], timeout: float = 5.0) -> Iterator[RespClient]:
        client = RespClient(HOST, int(state["port"]), timeout=timeout)
        try:
            client.auth(state["admin_password"], username=ADMIN_USER)
            yield client
        finally:
            client.close()

    def url(self, state: Mapping[str, Any]) -> str:
        # The explicit `default` user: redis-cli 7 misreads an empty one (redis://:pw@).
        host = self.settings.listen_host or HOST
        return f"redis://default:{state['password']}@{host}:{state['port']}"

    def tls_url(self, state: Mapping[str, Any]) -> str | None:
        if not state.get("tls_port"):
            return None
        host = self.settings.listen_host or HOST
        return f"rediss://default:{state['password']}@{host}:{state['tls_port']}"

    def config(self, state: Mapping[str, Any]) -> dict[str, str]:
        """The add-on's config vars: URL (rediss:// with --tls) and TLS_URL, as Heroku's."""
        tls = self.tls_url(state)
        if tls is None:
            return {"URL": self.url(state)}
        return {"URL": tls if state.get("tls_only") else self.url(state), "TLS_URL": tls}

    def bind_addresses(self) -> list[str]:
        extra = self.settings.listen_host
        return [HOST, extra] if extra and extra != HOST else [HOST]
