"""Admin connections to a MariaDB/MySQL server, and one sentence for each failure."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any

import pymysql
import pymysql.cursors

from slipway.addons.errors import ProviderUnavailable, redact, sentence


@dataclass(frozen=True)
class MysqlServer:
    """How the provider reaches a server as admin; `password` must never be logged."""

    label: str  # "the MariaDB server at 127.0.0.1:3306"
    host: str
    port: int
    user: str
    password: str
    unreachable_hint: str
    credentials_hint: str


def parse_admin_url(url: str) -> MysqlServer:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("mysql", "mariadb") or not parts.hostname:
        raise ProviderUnavailable(
            "The MySQL admin URL is not valid; pass --mysql-admin-url as "
            "mysql://USER:PASSWORD@HOST:PORT/."
        )
    port = parts.port or 3306
    return MysqlServer(
        label=f"the MariaDB server at {parts.hostname}:{port}",
        host=parts.hostname,
        port=port,
        user=urllib.parse.unquote(parts.username or "root"),
        password=urllib.parse.unquote(parts.password or ""),
        unreachable_hint="start it or pass another --mysql-admin-url",
        credentials_hint="check the user and password in --mysql-admin-url",
    )


def reason(exc: BaseException, *secrets: str | None) -> str:
    """The server's message for a failed statement or connection."""
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    text = str(args[1]) if len(args) > 1 else str(exc)
    return sentence(redact(text, *secrets)) or "unknown error"


def connect(
    server: MysqlServer, database: str | None = None, timeout: int = 5
) -> pymysql.Connection[Any]:
    """An autocommit admin connection, or ProviderUnavailable in one sentence."""
    try:
        return pymysql.connect(
            host=server.host,
            port=server.port,
            user=server.user,
            password=server.password,
            database=database,
            connect_timeout=timeout,
            autocommit=True,
            charset="utf8mb4",
        )
    except pymysql.err.OperationalError as exc:
        code = exc.args[0] if exc.args else 0
        label = server.label[0].upper() + server.label[1:]
        if code in (1045, 1044, 1698):
            return _raise(f"{label} refused the admin credentials; {server.credentials_hint}.")
        return _raise(
            f"Could not reach {server.label}: {reason(exc, server.password)}; "
            f"{server.unreachable_hint}."
        )


def _raise(message: str) -> pymysql.Connection[Any]:
    raise ProviderUnavailable(message)


def quote_ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"
