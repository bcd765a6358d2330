"""The HAProxy data plane: start it, keep it in step with the route table, stop it.

`HAProxyDataPlane` is driven by the router process (server.py). It writes the
configuration (`haproxy_config.py`), runs HAProxy in master-worker mode as a child,
and applies each new route table at run time through the runtime API (a unix
socket): map entries (host -> the app's backend) and servers (one per web dyno,
added, enabled, put in maintenance and deleted). Each app HAProxy serves gets one
of a pool of pre-allocated backends; only when the pool runs out does it write a
new configuration and reload, hitlessly (the listening sockets pass from the old
worker to the new one, which finishes its connections).

Ordering keeps releases free of failed requests: a new dyno's server is added and
enabled before any host points at it; a host leaves the map before its app's
servers go; a leaving dyno's server is put in maintenance (no new requests, the
ones in flight finish) and deleted once it has no connection left.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from slipway.router.haproxy_config import (
    LUA,
    PAGES,
    Layout,
    Server,
    Settings,
    page_text,
    render,
    server_args,
)
from slipway.router.table import RouteTable

log = logging.getLogger("slipway.router")

MIN_VERSION = (2, 6)
MIN_SLOTS = 64
# The runtime API reads one command line into a buffer; stay well below it.
_LINE_MAX = 8000


def find_haproxy() -> tuple[str | None, str]:
    """The haproxy binary if it is usable, and a sentence saying why not otherwise."""
    binary = shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if os.access(p, os.X_OK)),
        None,
    )
    if binary is None:
        return None, "HAProxy is not installed"
    try:
        out = subprocess.run(
            [binary, "-v"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"HAProxy cannot run ({exc})"
    match = re.search(r"version (\d+)\.(\d+)", out)
    if match is None:
        return None, "HAProxy's version is unknown"
    version = (int(match.group(1)), int(match.group(2)))
    if version < MIN_VERSION:
        return None, f"HAProxy {version[0]}.{version[1]} is older than 2.6"
    return binary, ""


# App id -> (exact hosts, wildcard suffixes, dynos as (name, host, port)).
Desired = dict[str, tuple[list[str], list[str], list[tuple[str, str, int]]]]


@dataclass
class _Backend:
    name: str
    app_id: str | None = None
    # Dyno (name, host, port) -> the server HAProxy knows it by.
    servers: dict[tuple[str, str, int], str] = field(default_factory=dict)


def _dyno_keys(app: object) -> list[tuple[str, str, int]]:
    return [(d.name, d.host, d.port) for d in app.dynos]  # type: ignore[attr-defined]


class HAProxyDataPlane:
    def __init__(self, binary: str, layout: Layout, settings: Settings) -> None:
        self.binary = binary
        self.layout = layout
        self.settings = settings
        self.proc: subprocess.Popen[bytes] | None = None
        self._backends: dict[str, _Backend] = {}
        self._by_app: dict[str, _Backend] = {}
        self._hosts: dict[str, str] = {}  # exact host -> backend
        self._wildcards: dict[str, str] = {}  # suffix after `*.` -> backend
        self._draining: set[tuple[str, str]] = set()  # (backend, server) in maintenance
        self._serial = 0
        self._lock = asyncio.Lock()
        self._latest: RouteTable | None = None
        self._drain_task: asyncio.Task[None] | None = None
        self.applied_version = -1

    # -- lifecycle ------------------------------------------------------------------------

    def app_of(self, backend: str) -> str | None:
        """The app a backend serves (for log lines)."""
        found = self._backends.get(backend)
        return found.app_id if found is not None else None

    async def start(self, table: RouteTable | None = None) -> None:
        layout = self.layout
        layout.root.mkdir(parents=True, exist_ok=True)
        layout.lua.write_text(LUA)
        layout.certs.mkdir(exist_ok=True)
        if not layout.crt_list.exists():
            layout.crt_list.write_text("")
        for name, page in PAGES.items():
            layout.page(name).write_text(page_text(page))
        desired = self._desired(table) if table is not None else {}
        self._write_files(desired, max(MIN_SLOTS, len(desired) * 5 // 4 + 16))
        libc = ctypes.CDLL(None, use_errno=True)

        def die_with_router() -> None:
            libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: HAProxy never outlives us

        self.proc = subprocess.Popen(  # noqa: S603
            [self.binary, "-W", "-f", str(layout.config), "-p", str(layout.pid_file)],
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_router,  # noqa: PLW1509
        )
        await self._wait_ready(None)
        if table is not None:
            self.applied_version = table.version

    async def _wait_ready(self, old_pid: int | None, timeout: float = 15.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise OSError(f"HAProxy exited ({self.proc.returncode}); see the log above")
            with contextlib.suppress(OSError):
                info = await self._send(["show info"])
                match = re.search(r"^Pid: (\d+)", info, re.MULTILINE)
                if match and int(match.group(1)) != old_pid:
                    return
            if loop.time() > deadline:
                raise OSError("HAProxy did not come up in time")
            await asyncio.sleep(0.02)

    async def stop(self, timeout: float) -> None:
        """Soft stop: listeners close now, connections finish (up to `timeout`)."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        if self._drain_task is not None:
            self._drain_task.cancel()
        proc.send_signal(signal.SIGUSR1)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout + 2
        while proc.poll() is None and loop.time() < deadline:
            await asyncio.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    # -- the runtime API ------------------------------------------------------------------

    async def _send(self, commands: list[str]) -> str:
        reader, writer = await asyncio.open_unix_connection(str(self.layout.admin_socket))
        try:
            writer.write(("; ".join(commands) + "\n").encode())
            await writer.drain()
            return (await reader.read()).decode(errors="replace")
        finally:
            writer.close()

    async def _run(self, commands: list[str]) -> None:
        batch: list[str] = []
        size = 0
        for command in commands:
            if batch and size + len(command) + 2 > _LINE_MAX:
                await self._check(batch, await self._send(batch))
                batch, size = [], 0
            batch.append(command)
            size += len(command) + 2
        if batch:
            await self._check(batch, await self._send(batch))

    async def _check(self, batch: list[str], output: str) -> None:
        for text in output.split("\n"):
            lowered = text.lower()
            if any(word in lowered for word in ("unknown", "no such", "error", "invalid")):
                if "still has connections" in lowered or "no such server" in lowered:
                    continue
                log.warning("data plane: %s (in %s)", text.strip(), batch[0][:80])

    # -- route tables ---------------------------------------------------------------------

    def _desired(self, table: RouteTable) -> Desired:
        """App id -> (exact hosts, wildcard suffixes, dynos) for the apps HAProxy serves."""
        suffix = table.base_domain.lower()
        out: Desired = {}
        for app in table.apps:
            if app.maintenance or not app.dynos:
                continue
            hosts = [f"{app.name.lower()}.{suffix}"]
            wild = []
            for domain in app.domains:
                name = domain.strip().lower().rstrip(".")
                if name.startswith("*."):
                    wild.append(name[2:])
                else:
                    hosts.append(name)
            out[app.id] = (hosts, wild, _dyno_keys(app))
        return out

    async def apply(self, table: RouteTable) -> bool:
        """Make HAProxy serve `table`; returns False if a newer one superseded it."""
        self._latest = table
        async with self._lock:
            if self._latest is not table:
                return False  # a newer table is waiting for the lock: it wins
            desired = self._desired(table)
            needed = [a for a in desired if a not in self._by_app]
            free = [b for b in self._backends.values() if b.app_id is None and not b.servers]
            if len(needed) > len(free):
                await self._reload(desired)
            else:
                await self._update(desired)
            self.applied_version = table.version
            return True

    def _new_server(self, dyno: tuple[str, str, int]) -> Server:
        self._serial += 1
        return Server(f"{dyno[0]}-{self._serial}", dyno[1], dyno[2])

    async def _update(self, desired: Desired) -> None:
        s = self.settings
        add: list[str] = []
        for app_id, (_hosts, _wild, dynos) in desired.items():
            backend = self._by_app.get(app_id)
            if backend is None:
                backend = next(
                    b for b in self._backends.values() if b.app_id is None and not b.servers
                )
                backend.app_id = app_id
                self._by_app[app_id] = backend
            for dyno in dynos:
                if dyno not in backend.servers:
                    server = self._new_server(dyno)
                    backend.servers[dyno] = server.name
                    add.append(f"add server {backend.name}/{server.name} {server_args(server, s)}")
                    add.append(f"enable server {backend.name}/{server.name}")
        # Hosts: new ones after their servers exist; gone ones before servers go.
        hosts: dict[str, str] = {}
        wild: dict[str, str] = {}
        for app_id, (exact, wildcards, _dynos) in desired.items():
            name = self._by_app[app_id].name
            for host in exact:
                hosts[host] = name
            for suffix in wildcards:
                wild[suffix] = name
        maps = self._map_commands(self.layout.hosts_map, self._hosts, hosts)
        maps += self._map_commands(self.layout.wildcards_map, self._wildcards, wild)
        self._hosts, self._wildcards = hosts, wild
        remove: list[str] = []
        for backend in list(self._by_app.values()):
            dynos = desired.get(backend.app_id or "", ([], [], []))[2]
            keep = set(dynos)
            for dyno, server in list(backend.servers.items()):
                if dyno not in keep:
                    del backend.servers[dyno]
                    remove.append(f"set server {backend.name}/{server} state maint")
                    self._draining.add((backend.name, server))
            if backend.app_id not in desired:
                self._by_app.pop(backend.app_id or "", None)
                backend.app_id = None
        await self._run(add + maps + remove)
        if self._draining:
            await self._delete_drained()

    def _map_commands(self, path: Path, old: dict[str, str], new: dict[str, str]) -> list[str]:
        commands = []
        for key, value in new.items():
            was = old.get(key)
            if was is None:
                commands.append(f"add map {path} {key} {value}")
            elif was != value:
                commands.append(f"set map {path} {key} {value}")
        commands += [f"del map {path} {key}" for key in old if key not in new]
        return commands

    async def _delete_drained(self) -> None:
        """Delete servers that finished their requests; try again later for the rest."""
        pending = sorted(self._draining)
        out = await self._send([f"del server {b}/{s}" for b, s in pending]) if pending else ""
        still = out.count("still has connections") + out.count("still has")
        if still == 0:
            self._draining.clear()
        else:
            # Which ones failed is not said per command: ask for the servers that exist.
            state = await self._send(["show servers state"])
            alive = {(m.group(1), m.group(2)) for m in re.finditer(r"^\d+ (\S+) \d+ (\S+) ", state, re.MULTILINE)}
            self._draining &= alive
        if self._draining and (self._drain_task is None or self._drain_task.done()):
            self._drain_task = asyncio.get_running_loop().create_task(self._drain_later())

    async def _drain_later(self) -> None:
        while self._draining:
            await asyncio.sleep(1.0)
            async with self._lock:
                with contextlib.suppress(OSError):
                    await self._delete_drained()
                    return

    async def _reload(self, desired: Desired) -> None:
        """Out of backends: a new configuration with room to grow, and a hitless reload."""
        self._write_files(desired, max(MIN_SLOTS, len(desired) * 5 // 4 + 16))
        info = await self._send(["show info"])
        match = re.search(r"^Pid: (\d+)", info, re.MULTILINE)
        old = int(match.group(1)) if match else None
        assert self.proc is not None
        self.proc.send_signal(signal.SIGUSR2)
        await self._wait_ready(old)
        log.info("data plane reloaded with %d app backends", len(self._backends))

    def _write_files(self, desired: Desired, slots: int) -> None:
        """Configuration and maps for `desired`, from scratch."""
        self._backends = {f"app{i}": _Backend(f"app{i}") for i in range(slots)}
        self._by_app = {}
        self._draining = set()
        hosts: dict[str, str] = {}
        wild: dict[str, str] = {}
        rendered: dict[str, list[Server]] = {name: [] for name in self._backends}
        for i, (app_id, (exact, wildcards, dynos)) in enumerate(desired.items()):
            backend = self._backends[f"app{i}"]
            backend.app_id = app_id
            self._by_app[app_id] = backend
            for dyno in dynos:
                server = self._new_server(dyno)
                backend.servers[dyno] = server.name
                rendered[backend.name].append(server)
            for host in exact:
                hosts[host] = backend.name
            for suffix in wildcards:
                wild[suffix] = backend.name
        self._hosts, self._wildcards = hosts, wild
        layout = self.layout
        _write(layout.hosts_map, "".join(f"{k} {v}\n" for k, v in hosts.items()))
        _write(layout.wildcards_map, "".join(f"{k} {v}\n" for k, v in wild.items()))
        _write(layout.config, render(layout, self.settings, rendered))


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
