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
import hashlib
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
    raw_bad_request,
    render,
)
from slipway.router.table import Certificate, RouteTable

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
Dyno = tuple[str, str, int]
Desired = dict[str, tuple[list[str], list[str], list[Dyno]]]


@dataclass
class _Backend:
    """One pre-allocated app backend: a fixed number of server slots `s1`..`sN`.

    Slots are servers HAProxy knows from its configuration, pointed at a dyno at
    run time (`set server ... addr`), so their kept-alive connections are pooled
    (servers added at run time are not, in 2.6)."""

    name: str
    size: int
    app_id: str | None = None
    servers: dict[Dyno, str] = field(default_factory=dict)  # dyno -> slot
    names: dict[str, str] = field(default_factory=dict)  # slot -> dyno name (logs)
    free: list[str] = field(default_factory=list)
    draining: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if not self.free and not self.servers:
            self.free = [f"s{i}" for i in range(self.size, 0, -1)]


def _dyno_keys(app: object) -> list[Dyno]:
    return [(d.name, d.host, d.port) for d in app.dynos]  # type: ignore[attr-defined]


def _slots_for(dynos: int) -> int:
    # Room for a release's new dynos next to the old ones while they drain.
    return max(4, 2 * dynos)


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
        self._lock = asyncio.Lock()
        self._latest: RouteTable | None = None
        # The contract's certificates as HAProxy holds them: file -> (fingerprint, names).
        self._certs: dict[Path, tuple[str, tuple[str, ...]]] = {}
        self._drain_task: asyncio.Task[None] | None = None
        self.applied_version = -1
        self.worker_pid: int | None = None

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self, table: RouteTable | None = None) -> None:
        layout = self.layout
        layout.root.mkdir(parents=True, exist_ok=True)
        layout.lua.write_text(LUA)
        layout.certs.mkdir(exist_ok=True)
        if not layout.crt_list.exists():
            layout.crt_list.write_text("")
        for name, page in PAGES.items():
            layout.page(name).write_text(page_text(page))
        layout.raw_400.write_bytes(raw_bad_request())
        self._write_files(self._desired(table) if table is not None else {})
        libc = ctypes.CDLL(None, use_errno=True)

        def die_with_router() -> None:
            libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: HAProxy never outlives us

        self.proc = subprocess.Popen(
            [self.binary, "-W", "-f", str(layout.config), "-p", str(layout.pid_file)],
            stdin=subprocess.DEVNULL,
            pass_fds=(self.settings.log_fd,),
            preexec_fn=die_with_router,
        )
        # HAProxy holds the log pipe's write end now (and hands it on at each reload):
        # once it has exited the controller reads the end of the pipe.
        os.close(self.settings.log_fd)
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
                    self.worker_pid = int(match.group(1))
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
        # Release the public ports now (new connections are refused at once), then the
        # soft stop lets the connections in progress finish.
        frontends = ["http"] if self.settings.tls_listen is None else ["http", "https"]
        with contextlib.suppress(OSError):
            await self._send([f"shutdown frontend {name}" for name in frontends])
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
                log.warning("data plane: %s (in %s)", text.strip(), batch[0][:80])

    # -- route tables ---------------------------------------------------------------------

    def _desired(self, table: RouteTable) -> Desired:
        """App id -> (exact hosts, wildcard suffixes, dynos) for the apps HAProxy serves."""
        suffix = table.base_domain.lower()
        # A platform host wins over an app's custom domain of the same name, as in the
        # table's own lookup: it is left to the Python router, which forwards it.
        platform_hosts = {service.name.lower().rstrip(".") for service in table.services}
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
            hosts = [host for host in hosts if host not in platform_hosts]
            out[app.id] = (hosts, wild, _dyno_keys(app))
        return out

    async def apply(self, table: RouteTable) -> bool:
        """Make HAProxy serve `table`; returns False if a newer one superseded it."""
        self._latest = table
        async with self._lock:
            if self._latest is not table:
                return False  # a newer table is waiting for the lock: it wins
            desired = self._desired(table)
            if self._needs_reload(desired):
                await self._reload(desired)
            else:
                await self._update(desired)
            if self.settings.tls_listen is not None:
                await self._certificates(table)
            self.applied_version = table.version
            return True

    def _needs_reload(self, desired: Desired) -> bool:
        free = [b for b in self._backends.values() if b.app_id is None and not b.draining]
        for app_id, (_hosts, _wild, dynos) in desired.items():
            backend = self._by_app.get(app_id)
            if backend is None:
                fits = [b for b in free if len(b.free) >= len(dynos)]
                if not fits:
                    return True
                free.remove(fits[0])
            elif len([d for d in dynos if d not in backend.servers]) > len(backend.free):
                return True
        return False

    def dyno_of(self, backend: str, slot: str) -> tuple[str, str] | None:
        """(app id, dyno name) of a backend's slot, for log lines."""
        found = self._backends.get(backend)
        if found is None or found.app_id is None:
            return None
        return found.app_id, found.names.get(slot, "")

    async def _update(self, desired: Desired) -> None:
        add: list[str] = []
        for app_id, (_hosts, _wild, dynos) in desired.items():
            backend = self._by_app.get(app_id)
            if backend is None:
                backend = next(
                    b
                    for b in self._backends.values()
                    if b.app_id is None and not b.draining and len(b.free) >= len(dynos)
                )
                backend.app_id = app_id
                self._by_app[app_id] = backend
            for dyno in dynos:
                if dyno not in backend.servers:
                    slot = backend.free.pop()
                    backend.servers[dyno] = slot
                    backend.names[slot] = dyno[0]
                    where = f"{backend.name}/{slot}"
                    add.append(f"set server {where} addr {dyno[1]} port {dyno[2]}")
                    add.append(f"set server {where} state ready")
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
            keep = set(desired.get(backend.app_id or "", ([], [], []))[2])
            for dyno, slot in list(backend.servers.items()):
                if dyno not in keep:
                    # No new requests; the ones in flight finish. The slot is reused
                    # once it has no connection left.
                    del backend.servers[dyno]
                    remove.append(f"set server {backend.name}/{slot} state maint")
                    backend.draining.add(slot)
            if backend.app_id not in desired:
                self._by_app.pop(backend.app_id or "", None)
                backend.app_id = None
        await self._run(add + maps + remove)
        if any(b.draining for b in self._backends.values()):
            await self._reclaim()

    async def all_to_fallback(self) -> None:
        """Send every request to the Python router until the next table."""
        async with self._lock:
            if not self._hosts and not self._wildcards:
                return
            with contextlib.suppress(OSError):
                await self._run(
                    [f"clear map {self.layout.hosts_map}", f"clear map {self.layout.wildcards_map}"]
                )
                self._hosts, self._wildcards = {}, {}
                self._latest = None
                log.info("data plane: every request to the fallback until the next table")

    # -- certificates (SNI) -----------------------------------------------------------

    def _cert_path(self, cert: Certificate) -> Path:
        # One file per set of names: a renewal (new fingerprint) replaces it in place.
        digest = hashlib.sha256("\n".join(cert.names).encode()).hexdigest()[:16]
        return self.layout.certs / f"{digest}.pem"

    def _minted(self, table: RouteTable) -> dict[Path, Certificate]:
        """Local mode: a certificate from the platform's CA for every routed host that
        no certificate of the table names (minted once, kept in the data plane's dir)."""
        ca = self.settings.ca
        if ca is None:
            return {}
        named = {name for cert in table.certificates for name in cert.names}
        suffix = table.base_domain.lower()
        hosts = set()
        for app in table.apps:
            hosts.add(f"{app.name.lower()}.{suffix}")
            hosts.update(d.lower().rstrip(".") for d in app.domains if not d.startswith("*."))
        # Platform hosts (the table's `services`, e.g. dashboard.localhost).
        hosts.update(service.name.lower().rstrip(".") for service in table.services)
        out = {}
        for host in sorted(hosts - named):
            digest = hashlib.sha256(host.encode()).hexdigest()[:16]
            chain, key = (
                self.layout.certs / f"minted-{digest}.crt",
                self.layout.certs / f"minted-{digest}.key",
            )
            out[self.layout.certs / f"minted-{digest}.pem"] = Certificate(
                (host,), str(chain), str(key), "minted"
            )
        return out

    def _mint(self, certs: list[Certificate]) -> None:
        """Write the minted certificates that are not on disk yet (in a thread)."""
        from slipway.privatefile import write_private
        from slipway.tls import issue_certificate

        assert self.settings.ca is not None
        for cert in certs:
            if Path(cert.key).exists() and Path(cert.cert).exists():
                continue
            chain, key = issue_certificate(*self.settings.ca, list(cert.names))
            write_private(Path(cert.key), key)
            Path(cert.cert).write_bytes(chain)

    async def _certificates(self, table: RouteTable) -> None:
        """Load new and renewed certificates at run time; no connection is dropped."""
        wanted: dict[Path, Certificate] = {self._cert_path(c): c for c in table.certificates}
        minted = self._minted(table)
        new = [c for p, c in minted.items() if p not in self._certs]
        if new:
            await asyncio.get_running_loop().run_in_executor(None, self._mint, new)
        wanted.update(minted)
        crt_list = self.layout.crt_list
        changed = False
        for path, cert in wanted.items():
            held = self._certs.get(path)
            if held is not None and held == (cert.fingerprint, cert.names):
                continue
            try:
                pem = _read_pem(cert)
            except OSError as exc:
                log.warning("cannot read the certificate for %s: %s", cert.names[0], exc)
                continue
            from slipway.privatefile import write_private

            write_private(path, pem.encode())
            if held is None:
                await self._payload(f"new ssl cert {path}", None)
            await self._payload(f"set ssl cert {path}", pem)
            await self._payload(f"commit ssl cert {path}", None)
            if held is None:
                await self._payload(
                    f"add ssl crt-list {crt_list}",
                    f"{path} [alpn h2,http/1.1] {' '.join(cert.names)}",
                )
            elif held[1] != cert.names:
                log.warning("certificate names changed for %s; they apply after a reload", path)
            self._certs[path] = (cert.fingerprint, cert.names)
            changed = True
        for path in [p for p in self._certs if p not in wanted]:
            await self._payload(f"del ssl crt-list {crt_list} {path}", None)
            await self._payload(f"del ssl cert {path}", None)
            del self._certs[path]
            path.unlink(missing_ok=True)
            changed = True
        if changed:
            # The same list on disk, for the next start or reload.
            _write(
                crt_list,
                "".join(
                    f"{path} [alpn h2,http/1.1] {' '.join(names)}\n"
                    for path, (_fp, names) in self._certs.items()
                ),
            )

    async def _payload(self, command: str, payload: str | None) -> None:
        reader, writer = await asyncio.open_unix_connection(str(self.layout.admin_socket))
        try:
            text = command + "\n" if payload is None else f"{command} <<\n{payload.strip()}\n\n"
            writer.write(text.encode())
            await writer.drain()
            out = (await reader.read()).decode(errors="replace")
        finally:
            writer.close()
        await self._check([command], out)

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

    async def _reclaim(self) -> None:
        """Free the draining slots whose requests have finished; later for the rest."""
        stats = await self._send(["show stat -1 4 -1"])
        busy: set[tuple[str, str]] = set()
        for row in stats.splitlines():
            cols = row.split(",")
            if len(cols) > 4 and not row.startswith("#") and cols[4] not in ("", "0"):
                busy.add((cols[0], cols[1]))
        for backend in self._backends.values():
            for slot in list(backend.draining):
                if (backend.name, slot) not in busy:
                    backend.draining.discard(slot)
                    backend.names.pop(slot, None)
                    backend.free.append(slot)
        if any(b.draining for b in self._backends.values()) and (
            self._drain_task is None or self._drain_task.done()
        ):
            self._drain_task = asyncio.get_running_loop().create_task(self._reclaim_later())

    async def _reclaim_later(self) -> None:
        # Only while some slot drains: a request in flight ends within the timeouts.
        while any(b.draining for b in self._backends.values()):
            await asyncio.sleep(1.0)
            async with self._lock:
                with contextlib.suppress(OSError):
                    await self._reclaim()
                    return

    async def _reload(self, desired: Desired) -> None:
        """Out of room: a new configuration with room to grow, and a hitless reload."""
        self._write_files(desired)
        info = await self._send(["show info"])
        match = re.search(r"^Pid: (\d+)", info, re.MULTILINE)
        old = int(match.group(1)) if match else None
        assert self.proc is not None
        self.proc.send_signal(signal.SIGUSR2)
        await self._wait_ready(old)
        log.info("data plane reloaded with %d app backends", len(self._backends))

    def _write_files(self, desired: Desired) -> None:
        """Configuration and maps for `desired`, from scratch."""
        count = max(MIN_SLOTS, len(desired) * 5 // 4 + 16)
        sizes = [_slots_for(len(dynos)) for _h, _w, dynos in desired.values()]
        sizes += [_slots_for(1)] * (count - len(sizes))
        self._backends = {f"app{i}": _Backend(f"app{i}", size) for i, size in enumerate(sizes)}
        self._by_app = {}
        hosts: dict[str, str] = {}
        wild: dict[str, str] = {}
        rendered: dict[str, list[Server | None]] = {}
        for i, (app_id, (exact, wildcards, dynos)) in enumerate(desired.items()):
            backend = self._backends[f"app{i}"]
            backend.app_id = app_id
            self._by_app[app_id] = backend
            for dyno in dynos:
                slot = backend.free.pop()
                backend.servers[dyno] = slot
                backend.names[slot] = dyno[0]
            for host in exact:
                hosts[host] = backend.name
            for suffix in wildcards:
                wild[suffix] = backend.name
        for backend in self._backends.values():
            by_slot = {slot: dyno for dyno, slot in backend.servers.items()}
            rendered[backend.name] = [
                Server(f"s{i}", by_slot[f"s{i}"][1], by_slot[f"s{i}"][2])
                if f"s{i}" in by_slot
                else None
                for i in range(1, backend.size + 1)
            ]
        self._hosts, self._wildcards = hosts, wild
        layout = self.layout
        _write(layout.hosts_map, "".join(f"{k} {v}\n" for k, v in hosts.items()))
        _write(layout.wildcards_map, "".join(f"{k} {v}\n" for k, v in wild.items()))
        _write(layout.config, render(layout, self.settings, rendered))


def _read_pem(cert: Certificate) -> str:
    chain = Path(cert.cert).read_text()
    key = Path(cert.key).read_text()
    return chain.rstrip("\n") + "\n" + key


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
