"""Backups of jawsdb-maria add-ons: mariadb-dump captures, the list, restores and downloads.

    backups/<resource_id>/b001.sql   mariadb-dump of the database, with b001.json beside it
    backups/<resource_id>/counter    the last number given (numbers are never reused)

A restore loads the dump into a scratch database as the add-on's own user would
see it, then swaps every table in with one atomic RENAME TABLE, so a failed
restore leaves the add-on's database as it was.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pymysql

from slipway.addons._files import private_dir, read_json, write_json, write_private
from slipway.addons._names import check_resource_id, random_name
from slipway.addons._programs import base_env, which
from slipway.addons.errors import BackupFailed, ProviderUnavailable, ResourceNotFound, redact
from slipway.addons.mysql.connect import connect, quote_ident, reason
from slipway.addons.mysql.resources import Resources
from slipway.addons.mysql.service import SERVICE_NAME
from slipway.addons.provider import Backup

log = logging.getLogger("slipway.addons.mysql")

_BACKUP_NAME = re.compile(r"^b(\d{3,})$")


def _tool(name: str) -> str:
    found = which(name)
    if found is None:
        raise ProviderUnavailable(
            f"The program {name} was not found; install the mariadb-client package."
        )
    return found


class MysqlBackups:
    """The backups of every jawsdb-maria add-on (the provider's `backups` capability)."""

    def __init__(self, root: Path, resources: Resources) -> None:
        self.dir = root
        self.resources = resources
        self._lock = threading.Lock()

    def _directory(self, resource_id: str) -> Path:
        check_resource_id(resource_id, SERVICE_NAME)
        return self.dir / resource_id

    def _run(self, argv: list[str], state: Mapping[str, Any], **kwargs: Any) -> tuple[int, str]:
        env = base_env() | {"MYSQL_PWD": state["password"]}
        env.pop("MYSQL_HOST", None)
        kwargs.setdefault("stdout", subprocess.DEVNULL)
        proc = subprocess.run(
            argv, env=env, stderr=subprocess.PIPE, check=False, timeout=3600, **kwargs
        )
        err = proc.stderr.decode(errors="replace") if isinstance(proc.stderr, bytes) else ""
        lines = [ln.strip() for ln in err.splitlines() if ln.strip()]
        return proc.returncode, redact(lines[-1] if lines else "no output", state["password"])

    def capture_backup(self, resource_id: str, scheduled: bool = False) -> Backup:
        state = self.resources.load(resource_id)
        self.resources.server_for(state)  # the embedded server runs
        directory = self._directory(resource_id)
        with self._lock:
            private_dir(self.dir)
            private_dir(directory)
            counter = directory / "counter"
            number = (int(counter.read_text()) if counter.exists() else 0) + 1
            write_private(counter, f"{number}\n")
        name = f"b{number:03d}"
        partial = directory / f".{name}.sql.partial"
        created = datetime.now(UTC).replace(microsecond=0)
        with partial.open("wb") as out:
            os.chmod(partial, 0o600)
            rc, err = self._run(
                [
                    _tool("mariadb-dump"),
                    *Resources.client_args(state),
                    "--single-transaction",
                    "--routines",
                    "--triggers",
                    "--skip-lock-tables",
                    state["database"],
                ],
                state,
                stdout=out,
            )
        if rc != 0:
            partial.unlink(missing_ok=True)
            raise BackupFailed(
                f"Backup {name} of {state['resource_name']} failed: {err.rstrip('.')}."
            )
        dump = directory / f"{name}.sql"
        partial.replace(dump)
        meta = {
            "name": name,
            "created_at": created.isoformat(),
            "size": dump.stat().st_size,
            "status": "Completed",
            "scheduled": scheduled,
        }
        write_json(directory / f"{name}.json", meta)
        log.info("captured backup %s of %s", name, resource_id)
        return _backup_from(meta)

    def list_backups(self, resource_id: str) -> list[Backup]:
        self.resources.load(resource_id)
        directory = self._directory(resource_id)
        found = []
        for meta_path in directory.glob("b*.json"):
            match = _BACKUP_NAME.match(meta_path.stem)
            if match and (directory / f"{meta_path.stem}.sql").exists():
                found.append((int(match.group(1)), _backup_from(read_json(meta_path))))
        return [backup for _, backup in sorted(found, key=lambda pair: pair[0])]

    def backup_path(self, resource_id: str, backup_name: str) -> Path:
        state = self.resources.load(resource_id)
        path = self._directory(resource_id) / f"{backup_name}.sql"
        if not _BACKUP_NAME.match(backup_name) or not path.exists():
            raise ResourceNotFound(
                f"There is no backup {backup_name} of {state['resource_name']}; "
                "the backups list shows them."
            )
        return path

    def delete_backup(self, resource_id: str, backup_name: str) -> None:
        path = self.backup_path(resource_id, backup_name)
        path.with_suffix(".json").unlink(missing_ok=True)
        path.unlink()

    def restore_backup(self, resource_id: str, backup_name: str) -> None:
        state = self.resources.load(resource_id)
        path = self.backup_path(resource_id, backup_name)
        server = self.resources.server_for(state)
        database, user = state["database"], state["user"]
        scratch = f"{database}_r{random_name('', 6)}"
        old = f"{database}_o{random_name('', 6)}"
        failed = (
            f"Restoring {backup_name} into {state['resource_name']} failed, and the database "
            "was left as it was"
        )
        with connect(server) as conn, conn.cursor() as cur:
            try:
                for name in (scratch, old):
                    cur.execute(f"CREATE DATABASE {quote_ident(name)}")
                cur.execute(f"GRANT ALL PRIVILEGES ON {quote_ident(scratch)}.* TO %s@'%%'", [user])
            except pymysql.err.MySQLError as exc:
                self._drop(cur, scratch, old, user)
                raise BackupFailed(f"{failed}: {reason(exc, server.password)}.") from None
            try:
                with path.open("rb") as dump:
                    rc, err = self._run(
                        [_tool("mariadb"), *Resources.client_args(state), scratch],
                        state,
                        stdin=dump,
                    )
                if rc != 0:
                    raise BackupFailed(f"{failed}: {err.rstrip('.')}.")
                self._swap(cur, database, scratch, old)
            except pymysql.err.MySQLError as exc:
                raise BackupFailed(f"{failed}: {reason(exc, server.password)}.") from None
            finally:
                self._drop(cur, scratch, old, user)
        log.info("restored %s into %s", backup_name, resource_id)

    @staticmethod
    def _tables(cur: Any, database: str) -> list[str]:
        cur.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
            "AND table_type = 'BASE TABLE'",
            [database],
        )
        return [str(row[0]) for row in cur.fetchall()]

    def _swap(self, cur: Any, database: str, scratch: str, old: str) -> None:
        """Every table of `database` moves to `old` and every table of `scratch` takes its
        place, in one RENAME TABLE (atomic: all or nothing)."""
        moves = [
            f"{quote_ident(database)}.{quote_ident(t)} TO {quote_ident(old)}.{quote_ident(t)}"
            for t in self._tables(cur, database)
        ] + [
            f"{quote_ident(scratch)}.{quote_ident(t)} TO {quote_ident(database)}.{quote_ident(t)}"
            for t in self._tables(cur, scratch)
        ]
        if moves:
            cur.execute("RENAME TABLE " + ", ".join(moves))

    @staticmethod
    def _drop(cur: Any, scratch: str, old: str, user: str) -> None:
        for name in (scratch, old):
            with contextlib.suppress(pymysql.err.MySQLError):
                cur.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)}")
        with contextlib.suppress(pymysql.err.MySQLError):
            cur.execute(f"REVOKE ALL PRIVILEGES ON {quote_ident(scratch)}.* FROM %s@'%%'", [user])

    def forget(self, resource_id: str) -> None:
        shutil.rmtree(self._directory(resource_id), ignore_errors=True)


def _backup_from(meta: Mapping[str, Any]) -> Backup:
    return Backup(
        name=str(meta["name"]),
        created_at=datetime.fromisoformat(str(meta["created_at"])),
        size=int(meta["size"]),
        status=str(meta["status"]),
        scheduled=bool(meta.get("scheduled", False)),
    )
