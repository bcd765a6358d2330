"""pg:backups for heroku-postgresql: pg_dump captures, the list, restores and downloads.

    backups/<resource_id>/b001.dump   pg_dump -Fc, with b001.json beside it
    backups/<resource_id>/counter     the last number given (numbers are never reused)

A restore fills a scratch database with pg_restore and swaps it in only when
that succeeded, so a failed restore leaves the add-on's database as it was.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import subprocess
import threading
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from slipway.addons._files import private_dir, read_json, write_json, write_private
from slipway.addons._names import check_resource_id, random_name
from slipway.addons._programs import base_env
from slipway.addons.errors import BackupFailed, ResourceNotFound
from slipway.addons.postgres.binaries import PgBinaries
from slipway.addons.postgres.connect import connect, sql_reason, tool_reason
from slipway.addons.postgres.databases import create_database, drop_database, terminate
from slipway.addons.postgres.resources import Resources, now
from slipway.addons.postgres.service import SERVICE_NAME
from slipway.addons.provider import Backup

log = logging.getLogger("slipway.addons.postgres")

_BACKUP_NAME = re.compile(r"^b(\d{3,})$")


class PgBackups:
    """The backups of every heroku-postgresql add-on (the provider's `backups` capability)."""

    def __init__(self, root: Path, resources: Resources, bins: PgBinaries) -> None:
        self.dir = root
        self.resources = resources
        self.bins = bins
        self._lock = threading.Lock()  # numbers the next backup

    def _directory(self, resource_id: str) -> Path:
        check_resource_id(resource_id, SERVICE_NAME)
        return self.dir / resource_id

    def _run_tool(self, argv: list[str], state: Mapping[str, Any], app: str) -> tuple[int, str]:
        env = base_env() | Resources.client_env(state, app)
        proc = subprocess.run(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        return proc.returncode, proc.stderr + proc.stdout

    def capture_backup(self, resource_id: str, scheduled: bool = False) -> Backup:
        """pg:backups:capture: pg_dump -Fc into backups/<resource_id>/bNNN.dump."""
        state = self.resources.load(resource_id)
        pg_dump = self.bins.find("pg_dump")
        if state["server"] == "embedded":
            self.resources.cluster.ensure_running()
        directory = self._directory(resource_id)
        with self._lock:
            private_dir(self.dir)
            private_dir(directory)
            counter = directory / "counter"
            last = int(counter.read_text()) if counter.exists() else 0
            number = last + 1
            write_private(counter, f"{number}\n")
        name = f"b{number:03d}"
        partial = directory / f".{name}.dump.partial"
        created = now()
        rc, out = self._run_tool(
            [
                pg_dump,
                "--format=custom",
                "--no-owner",
                "--no-acl",
                f"--file={partial}",
                *Resources.client_args(state),
            ],
            state,
            "slipway-backup",
        )
        if rc != 0:
            partial.unlink(missing_ok=True)
            raise BackupFailed(
                f"Backup {name} of {state['resource_name']} failed: "
                f"{tool_reason(out, state['password'])}."
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
            "scheduled": scheduled,
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
            scheduled=bool(meta.get("scheduled", False)),
        )

    def list_backups(self, resource_id: str) -> list[Backup]:
        """pg:backups, oldest first."""
        self.resources.load(resource_id)
        directory = self._directory(resource_id)
        backups = []
        for meta_path in directory.glob("b*.json"):
            match = _BACKUP_NAME.match(meta_path.stem)
            if match and (directory / f"{meta_path.stem}.dump").exists():
                backups.append((int(match.group(1)), self._backup_from(read_json(meta_path))))
        return [backup for _, backup in sorted(backups, key=lambda pair: pair[0])]

    def backup_path(self, resource_id: str, backup_name: str) -> Path:
        """The dump file of a backup (pg:backups:download)."""
        state = self.resources.load(resource_id)
        path = self._directory(resource_id) / f"{backup_name}.dump"
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
        state = self.resources.load(resource_id)
        path = self.backup_path(source_resource_id or resource_id, backup_name)
        pg_restore = self.bins.find("pg_restore")
        server = self.resources.server_for(state)
        role, database = state["role"], state["database"]
        scratch = f"{database}_restore_{random_name('', 6)}"
        previous = f"{database}_previous_{random_name('', 6)}"
        with connect(server) as conn:
            try:
                create_database(conn, role, scratch)
            except psycopg.Error as exc:
                raise BackupFailed(
                    f"Could not make room to restore {backup_name} into "
                    f"{state['resource_name']}: {sql_reason(exc, server.password)}."
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
                    *Resources.client_args(state | {"database": scratch}),
                    str(path),
                ],
                state,
                "slipway-restore",
            )
            try:
                if rc != 0:
                    raise BackupFailed(
                        f"Restoring {backup_name} into {state['resource_name']} failed, and "
                        f"the database was left as it was: {tool_reason(out, state['password'])}."
                    )
                self._swap(conn, role, database, scratch, previous)
            except psycopg.Error as exc:
                raise BackupFailed(
                    f"Restoring {backup_name} into {state['resource_name']} failed, and the "
                    f"database was left as it was: {sql_reason(exc, server.password)}."
                ) from None
            finally:
                with contextlib.suppress(psycopg.Error):
                    drop_database(conn, role, scratch)
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
            terminate(conn, role, database, wait=10)
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
        drop_database(conn, role, previous)

    def forget(self, resource_id: str) -> None:
        """Remove every backup of a deprovisioned add-on."""
        shutil.rmtree(self._directory(resource_id), ignore_errors=True)
