"""Admin connections to a PostgreSQL server, and what a failure of it or its tools says.

Every failure becomes one sentence for the user, with the admin password and
the role's password redacted from anything the server or a tool printed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from slipway.addons.errors import ProviderUnavailable, redact, sentence

_CONNECT_TIMEOUT = "5"


@dataclass(frozen=True)
class AdminServer:
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


def _connect_failure(server: AdminServer, exc: psycopg.Error) -> ProviderUnavailable:
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


def connect(server: AdminServer, dbname: str | None = None) -> psycopg.Connection[Any]:
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


def sql_reason(exc: psycopg.Error, *secrets_: str | None) -> str:
    """The server's primary message for a failed statement."""
    primary = exc.diag.message_primary if exc.diag else None
    return sentence(redact(primary or _first_line(str(exc)), *secrets_)) or "unknown error"


def tool_reason(output: str, *secrets_: str | None) -> str:
    """The first error line of pg_dump / pg_restore / initdb / pg_ctl output."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        if "error:" in line.lower() or "fatal:" in line.lower():
            reason = re.sub(r"^\S+:\s*(error|fatal):\s*", "", line, flags=re.IGNORECASE)
            return sentence(redact(_libpq_reason(reason), *secrets_))
    return sentence(redact(lines[-1], *secrets_)) if lines else "no output"
