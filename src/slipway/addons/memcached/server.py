"""Each memcachier add-on's memcached as files, and how it is run.

    <data_dir>/addons/memcached/<resource_id>/
        state.json        port, user name, password, plan (0600, the platform's)
        memcached.log, daemon.pid
        srv/              the server's own (owned by the user memcached runs as):
            memcached.conf, sasldb2   its SASL configuration and the add-on's user
            memory, memory.meta       the cache, kept across a clean restart

memcached runs with `-S` (SASL only: every client authenticates, as MemCachier's
do), on 127.0.0.1 (and `settings.listen_host`, the dyno bridge's address) and a
port kept for the add-on's lifetime; `-e memory` makes
its cache survive a clean restart (SIGUSR1 saves it), and a crash of the
platform leaves it running, so either way the data stays. `-f 2` keeps the slab
classes few enough for a 25 MB cache to be restartable.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from slipway.addons._daemon import Daemon, DaemonSpec
from slipway.addons._files import private_dir, read_json, write_json
from slipway.addons._names import check_resource_id
from slipway.addons._programs import (
    OsUser,
    blocking_ancestor,
    is_root,
    make_searchable,
    which,
)
from slipway.addons.errors import ProviderUnavailable, ResourceNotFound
from slipway.addons.memcached.service import PLAN_LIMITS, SERVICE_NAME
from slipway.addons.provider import AddonSettings

HOST = "127.0.0.1"
_SASL_APP = "memcached"


class MemcachedServers:
    """The add-ons' memcached directories, their SASL users, and their daemons."""

    def __init__(self, root: Path, settings: AddonSettings) -> None:
        self.root = root
        self.settings = settings
        self._daemons: dict[str, Daemon] = {}

    # -- state

    def directory(self, resource_id: str) -> Path:
        check_resource_id(resource_id, SERVICE_NAME)
        return self.root / resource_id

    def load(self, resource_id: str) -> dict[str, Any]:
        path = self.directory(resource_id) / "state.json"
        if not path.exists():
            raise ResourceNotFound(
                f"There is no {SERVICE_NAME} cache {resource_id} on this Slipway; "
                "check the add-on name."
            )
        return read_json(path)

    def save(self, state: Mapping[str, Any]) -> None:
        write_json(self.directory(state["resource_id"]) / "state.json", dict(state))

    def states(self) -> list[dict[str, Any]]:
        if not self.root.exists():
            return []
        found = []
        for path in sorted(self.root.glob("*/state.json")):
            try:
                found.append(read_json(path))
            except (OSError, ValueError):
                continue
        return found

    # -- programs and users

    def binary(self) -> str:
        found = which(self.settings.memcached_bin)
        if found is None:
            raise ProviderUnavailable(
                f"The program {self.settings.memcached_bin} was not found; install the "
                "memcached package."
            )
        return found

    @staticmethod
    def saslpasswd2() -> str:
        found = which("saslpasswd2")
        if found is None:
            raise ProviderUnavailable(
                "The program saslpasswd2 was not found; install the sasl2-bin and "
                "libsasl2-modules packages."
            )
        return found

    def user(self) -> OsUser | None:
        if not is_root():
            return None
        user = OsUser.lookup(self.settings.memcached_os_user)
        if user is None:
            raise ProviderUnavailable(
                f"Slipway runs as root, and memcached must run as the OS user "
                f"{self.settings.memcached_os_user}, which does not exist; install the "
                "memcached package."
            )
        return user

    def prepare_dir(self, directory: Path, user: OsUser | None) -> None:
        private_dir(self.root)
        private_dir(directory)
        private_dir(directory / "srv")
        if user is not None:
            make_searchable(self.root.parent, self.root, directory)
            user.chown(directory / "srv")
            if not user.can_reach(directory / "srv"):
                blocked = blocking_ancestor(directory / "srv", user)
                raise ProviderUnavailable(
                    f"memcached runs as the OS user {user.name}, which cannot reach {blocked}; "
                    f"make it searchable (chmod o+x {blocked}) or use a data dir outside it."
                )

    def set_password(self, state: Mapping[str, Any]) -> None:
        """The add-on's SASL user (created, or its password replaced) in its own sasldb."""
        directory = self.directory(state["resource_id"])
        srv = directory / "srv"
        db = srv / "sasldb2"
        (srv / "memcached.conf").write_text(f"mech_list: plain\nsasldb_path: {db}\n")
        proc = subprocess.run(
            [self.saslpasswd2(), "-p", "-a", _SASL_APP, "-c", "-f", str(db), state["username"]],
            input=state["password"].encode(),
            capture_output=True,
            check=False,
            timeout=30,
        )
        if proc.returncode != 0:
            reason = (proc.stderr or proc.stdout).decode(errors="replace").strip()
            raise ProviderUnavailable(f"saslpasswd2 could not set the cache's password: {reason}.")
        user = self.user()
        for path in (srv / "memcached.conf", db):
            path.chmod(0o600)
            if user is not None:
                user.chown(path)

    # -- the daemons

    def daemon(self, state: Mapping[str, Any]) -> Daemon:
        rid = state["resource_id"]
        daemon = self._daemons.get(rid)
        if daemon is None:
            directory = self.directory(rid)
            daemon = Daemon(
                DaemonSpec(
                    name=f"memcached for {state['resource_name']}",
                    directory=directory,
                    program="memcached",
                    argv=lambda: self._argv(rid),
                    ready=lambda: _accepts(int(state["port"])),
                    log_path=directory / "memcached.log",
                    user=self.user(),
                    env={"SASL_CONF_PATH": str(directory / "srv")},
                    stop_signal=10,  # SIGUSR1: save the cache to `memory`, then exit
                    start_timeout=20,
                )
            )
            self._daemons[rid] = daemon
        return daemon

    def forget(self, resource_id: str) -> None:
        self._daemons.pop(resource_id, None)

    def daemons(self) -> list[Daemon]:
        return list(self._daemons.values())

    def _argv(self, resource_id: str) -> list[str]:
        state = self.load(resource_id)
        limits = PLAN_LIMITS[state["plan"]]
        memory = self.directory(resource_id) / "srv" / "memory"
        user = self.user()
        if user is not None and memory.exists():
            user.chown(memory)
        return [
            self.binary(),
            "-S",
            "-l",
            ",".join(self.settings.listen_addresses()),
            "-p",
            str(state["port"]),
            "-U",
            "0",
            "-m",
            str(limits.memory_mb),
            "-c",
            str(limits.connections),
            "-f",
            "2",
            # Two worker threads: enough for a cache this size, and few enough file
            # descriptors for the smallest plan's connection limit.
            "-t",
            "2",
            "-e",
            str(memory),
        ]

    def wait_restartable(self, resource_id: str) -> None:
        """memcached refuses a saved cache whose stop time is not yet in the past (it counts
        whole seconds): a restart within the second of a stop waits that second out."""
        meta = self.directory(resource_id) / "srv" / "memory.meta"
        try:
            lines = meta.read_text().splitlines()
        except OSError:
            return
        for line in lines:
            if line.startswith("Kstop_time "):
                with contextlib.suppress(ValueError):
                    wait = int(line.split()[1]) + 1 - time.time()
                    if 0 < wait < 5:
                        time.sleep(wait)
                return

    def drop_cache(self, resource_id: str) -> None:
        """Forget the saved cache (a new memory size cannot reuse it)."""
        srv = self.directory(resource_id) / "srv"
        for name in ("memory", "memory.meta"):
            (srv / name).unlink(missing_ok=True)


def _accepts(port: int) -> str | None:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return None
    except OSError as exc:
        return f"port {port} does not accept connections ({exc.strerror or exc})"
