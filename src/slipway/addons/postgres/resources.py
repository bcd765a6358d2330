"""Where each heroku-postgresql add-on lives: its state file, and the server holding its database.

    resources/<resource_id>.json      role, password, database, host, port, plan, server

`server` is "embedded" (the cluster under `<data_dir>/addons/postgres/cluster`)
or "external" (the server of `postgres_admin_url`). The database name is the
add-on's resource id. `host` and `port` are where apps connect: the TLS front's
(`tlsfront.py`, `front.json`) for a named server without TLS of its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from slipway.addons._files import private_dir, read_json, write_json
from slipway.addons._names import check_resource_id
from slipway.addons.errors import ProviderUnavailable, ResourceNotFound
from slipway.addons.postgres.connect import AdminServer, connect
from slipway.addons.postgres.embedded import EmbeddedCluster
from slipway.addons.postgres.service import SERVICE_NAME
from slipway.addons.postgres.tlsfront import FrontKeeper, Upstream
from slipway.addons.provider import AddonSettings

_NO_ADMIN_URL_HINT = "start it or pass --postgres-admin-url"


def now() -> datetime:
    """A timestamp for state files: UTC, whole seconds."""
    return datetime.now(UTC).replace(microsecond=0)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


class Resources:
    """The add-ons' state files under `resources/`, and the servers their databases are on."""

    def __init__(self, root: Path, settings: AddonSettings, cluster: EmbeddedCluster) -> None:
        self.root = root
        self.dir = root / "resources"
        self.settings = settings
        self.cluster = cluster
        self.front = FrontKeeper(root, settings)
        self._external_tls: bool | None = None

    # -- state files

    def state_path(self, resource_id: str) -> Path:
        check_resource_id(resource_id, SERVICE_NAME)
        return self.dir / f"{resource_id}.json"

    def load(self, resource_id: str) -> dict[str, Any]:
        path = self.state_path(resource_id)
        if not path.exists():
            raise ResourceNotFound(
                f"There is no {SERVICE_NAME} database {resource_id} on this Slipway; "
                "check the add-on name."
            )
        return read_json(path)

    def save(self, state: dict[str, Any]) -> None:
        private_dir(self.root.parent)
        private_dir(self.root)
        private_dir(self.dir)
        write_json(self.state_path(state["resource_id"]), state)

    def provisioned_ids(self) -> list[str]:
        if not self.dir.exists():
            return []
        return sorted(
            p.stem for p in self.dir.glob("*.json") if read_json(p).get("status") == "provisioned"
        )

    # -- servers

    def external(self) -> AdminServer:
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
        return AdminServer(
            label=f"the PostgreSQL server at {address}",
            address=address,
            params=params,
            unreachable_hint=_NO_ADMIN_URL_HINT,
            credentials_hint="check the user and password in --postgres-admin-url",
        )

    def own_host(self) -> str:
        """Where dynos reach a server this platform runs (the embedded one, the front)."""
        return self.settings.postgres_host or self.settings.url_host()

    def server_for_new(self) -> tuple[AdminServer, str, int, str]:
        """The server a new add-on goes on: (server, host for URLs, port, kind).

        A named server that has no TLS is reached through the TLS front
        (`tlsfront.py`), so apps that require TLS connect to it too."""
        own_host = self.own_host()
        if self.settings.postgres_admin_url:
            server = self.external()
            host = server.params.get("host") or ""
            if not host or host.startswith("/") or "," in host:
                host = "127.0.0.1"
            port = int((server.params.get("port") or "5432").split(",")[0])
            if self.settings.tls_cert is not None and not self.external_speaks_tls(server):
                front = self.front.ensure(self.front_upstream(server), self._ports_in_use())
                return server, own_host, front, "external"
            return server, self.settings.postgres_host or host, port, "external"
        self.cluster.ensure_running()
        server = self.cluster.server()
        return server, own_host, self.cluster.port(), "embedded"

    def external_speaks_tls(self, server: AdminServer) -> bool:
        """Whether the named server accepts `sslmode=require` (asked once per start)."""
        if self._external_tls is None:
            try:
                tls = dataclasses.replace(server, params={**server.params, "sslmode": "require"})
                with connect(tls):
                    self._external_tls = True
            except ProviderUnavailable as exc:
                if "does not support ssl" not in exc.message.lower():
                    raise
                self._external_tls = False
        return self._external_tls

    @staticmethod
    def front_upstream(server: AdminServer) -> Upstream:
        """Where the front relays to: the named server's TCP address or unix socket."""
        host = server.params.get("host") or server.params.get("hostaddr") or "127.0.0.1"
        host = host.split(",")[0]
        port = int((server.params.get("port") or "5432").split(",")[0])
        if host.startswith("/"):
            return f"{host}/.s.PGSQL.{port}"
        return host, port

    def _ports_in_use(self) -> set[int]:
        ports = (
            {int(read_json(p)["port"]) for p in self.dir.glob("*.json")}
            if self.dir.exists()
            else set()
        )
        if self.cluster.state_path.exists():
            ports.add(self.cluster.port())
        return ports

    def server_for(self, state: Mapping[str, Any]) -> AdminServer:
        if state["server"] == "embedded":
            self.cluster.ensure_running()
            return self.cluster.server()
        if not self.settings.postgres_admin_url:
            raise ProviderUnavailable(
                f"The database {state['database']} lives on the PostgreSQL server at "
                f"{state['host']}:{state['port']}, but no admin URL is configured; "
                "pass --postgres-admin-url."
            )
        return self.external()

    # -- how clients reach a database

    def host(self, state: Mapping[str, Any]) -> str:
        """Where apps reach the database. For a server this platform runs (the embedded
        cluster, the TLS front) that is today's host, not the one in the state file: a
        database made before dynos had their own network named 127.0.0.1."""
        if state["server"] == "embedded" or self._through_front(state):
            return self.own_host()
        return str(state["host"])

    def _through_front(self, state: Mapping[str, Any]) -> bool:
        # The state does not say so; the front's port and one of our own hosts do (a
        # named server reached directly on loopback cannot have the front's port).
        return (
            state["server"] == "external"
            and state["port"] == self.front.port()
            and state["host"] in ("127.0.0.1", self.own_host())
        )

    def url(self, state: Mapping[str, Any]) -> str:
        return (
            f"postgres://{state['role']}:{state['password']}@"
            f"{_url_host(self.host(state))}:{state['port']}/{state['database']}"
        )

    @staticmethod
    def client_env(state: Mapping[str, Any], app: str) -> dict[str, str]:
        """libpq's environment for psql, pg_dump and pg_restore (the password stays off argv)."""
        return {
            "PGPASSWORD": state["password"],
            "PGCONNECT_TIMEOUT": "10",
            "PGAPPNAME": app,
        }

    @staticmethod
    def client_args(state: Mapping[str, Any]) -> list[str]:
        return [
            f"--host={state['host']}",
            f"--port={state['port']}",
            f"--username={state['role']}",
            f"--dbname={state['database']}",
        ]
