"""Where each jawsdb-maria add-on lives: its state file and the server holding its database.

    resources/<resource_id>.json      user, password, database, host, port, plan, server

`server` is "embedded" (the MariaDB under `<data_dir>/addons/mysql/server`) or
"external" (the server of `mysql_admin_url`).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from slipway.addons._files import private_dir, read_json, write_json
from slipway.addons._names import check_resource_id
from slipway.addons.errors import ProviderUnavailable, ResourceNotFound
from slipway.addons.mysql.connect import MysqlServer, parse_admin_url
from slipway.addons.mysql.embedded import EmbeddedMariadb
from slipway.addons.mysql.service import SERVICE_NAME
from slipway.addons.provider import AddonSettings


class Resources:
    def __init__(self, root: Path, settings: AddonSettings, embedded: EmbeddedMariadb) -> None:
        self.root = root
        self.dir = root / "resources"
        self.settings = settings
        self.embedded = embedded

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

    def save(self, state: Mapping[str, Any]) -> None:
        private_dir(self.root.parent)
        private_dir(self.root)
        private_dir(self.dir)
        write_json(self.state_path(state["resource_id"]), dict(state))

    def states(self) -> list[dict[str, Any]]:
        if not self.dir.exists():
            return []
        return [read_json(p) for p in sorted(self.dir.glob("*.json"))]

    def server_for_new(self) -> tuple[MysqlServer, str]:
        """The server a new add-on goes on, and its kind."""
        if self.settings.mysql_admin_url:
            return parse_admin_url(self.settings.mysql_admin_url), "external"
        self.embedded.ensure_running()
        return self.embedded.server(), "embedded"

    def server_for(self, state: Mapping[str, Any]) -> MysqlServer:
        if state["server"] == "embedded":
            self.embedded.ensure_running()
            return self.embedded.server()
        if not self.settings.mysql_admin_url:
            raise ProviderUnavailable(
                f"The database {state['database']} lives on the MariaDB server at "
                f"{state['host']}:{state['port']}, but no admin URL is configured; "
                "pass --mysql-admin-url."
            )
        return parse_admin_url(self.settings.mysql_admin_url)

    def url_host(self, state: Mapping[str, Any]) -> str:
        """The host apps reach the database on: the embedded server's `listen_host` (also
        for add-ons made when their state named 127.0.0.1), or the admin URL's host."""
        return self.settings.url_host() if state["server"] == "embedded" else str(state["host"])

    def url(self, state: Mapping[str, Any]) -> str:
        """JAWSDB_MARIA_URL as JawsDB writes it: mysql://USER:PASSWORD@HOST:PORT/DATABASE."""
        password = urllib.parse.quote(state["password"], safe="")
        return (
            f"mysql://{state['user']}:{password}@{self.url_host(state)}:{state['port']}/"
            f"{state['database']}"
        )

    @staticmethod
    def client_args(state: Mapping[str, Any]) -> list[str]:
        """For mariadb and mariadb-dump; the password goes in MYSQL_PWD, never argv."""
        return [
            "--no-defaults",
            f"--host={state['host']}",
            f"--port={state['port']}",
            f"--user={state['user']}",
        ]
