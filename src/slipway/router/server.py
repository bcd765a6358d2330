"""Router: one router in an event loop: listeners, the sweeper, the control link, a clean stop.

`await start()` binds the listeners (with SNI certificates for TLS) and starts the
timeout sweeper and the control link; `await shutdown()` stops accepting, lets
in-flight requests finish (up to `shutdown_timeout`), sends the last router lines
and closes everything. The process around it (signals, workers) is `process.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import ssl
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from slipway.router.client import ClientConnection, Listener
from slipway.router.config import RouterConfig
from slipway.router.control import ControlLink
from slipway.router.dataplane import HAProxyDataPlane
from slipway.router.errors import TableError
from slipway.router.haproxy_config import PIPE_SIZE, Layout, Settings
from slipway.router.haproxy_log import LogCollector
from slipway.router.priority import BackgroundPriority
from slipway.router.reports import FORMAT_SLICE, ReportQueue
from slipway.router.state import RouterState
from slipway.router.table import Certificate, RouteTable

log = logging.getLogger("slipway.router")

LISTEN_BACKLOG = 2048


class Router:
    """One router. `await start()`, then `await shutdown()` to stop it gracefully."""

    def __init__(self, config: RouterConfig, haproxy: str | None = None) -> None:
        self.config = config
        # The HAProxy binary when HAProxy is the data plane (this process its
        # controller and fallback), None when this process serves alone.
        self.haproxy = haproxy
        self.dataplane: HAProxyDataPlane | None = None
        self._collector: asyncio.Task[None] | None = None
        self._own_dir: Path | None = None  # a temporary data plane directory, removed at stop
        self._syncs: set[asyncio.Task[None]] = set()
        self.state: RouterState | None = None
        self.control: ControlLink | None = None
        self.http_port: int | None = None
        self.https_port: int | None = None
        self._servers: list[asyncio.Server] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._names: tuple[int, dict[str, str]] = (-1, {})  # table version, app id -> name

    async def start(self) -> None:
        config = self.config
        loop = asyncio.get_running_loop()
        reports = ReportQueue(config.report_buffer)
        if config.control_url is not None:
            self.control = ControlLink(config, reports, self.apply_table, self._control_status)
            wake = self.control.wake
        else:

            def wake(app_id: str) -> None:
                log.warning("app %s sleeps and there is no control plane to wake it", app_id)

        self.state = RouterState(loop, config, reports, wake)
        if config.static_table is not None:
            self.reload_static_table()
        if self.haproxy is not None:
            await self._start_data_plane(self.haproxy)
        else:
            await self._start_listeners()
        self._tasks.append(loop.create_task(self._sweep()))
        if self.control is not None:
            self._tasks.append(loop.create_task(self.control.run()))
        else:
            self._tasks.append(loop.create_task(self._print_lines()))

    async def _start_listeners(self) -> None:
        config = self.config
        self.http_port = await self._listen("http", config.listen, None)
        if config.tls_enabled:
            self.https_port = await self._listen(
                "https", config.tls_listen, _tls_context(config, self._known_host, self._table)
            )
            assert self.state is not None
            self.state.https_port = self.https_port

    async def _start_data_plane(self, binary: str) -> None:
        """HAProxy on the public listeners; this router behind it, on loopback."""
        config = self.config
        state = self.state
        assert state is not None
        loopback = ("127.0.0.1", 0)
        fallback_http = await self._listen("http", loopback, None, proxied=True)
        fallback_https = await self._listen("https", loopback, None, proxied=True)
        if config.data_plane_dir is None:
            root = self._own_dir = Path(tempfile.mkdtemp(prefix="slipway-haproxy-"))
        else:
            root = config.data_plane_dir
        root.mkdir(parents=True, exist_ok=True)
        root.chmod(0o700)
        layout = Layout(root)
        default_cert = None
        ca = None
        if config.tls_enabled:
            assert config.tls_cert is not None
            assert config.tls_key is not None
            default_cert = root / "default.pem"
            _write_pem(default_cert, config.tls_cert, config.tls_key)
            if config.tls_ca_cert is not None and config.tls_ca_key is not None:
                ca = (config.tls_ca_cert, config.tls_ca_key)
        log_read, log_write = _log_pipe()
        settings = Settings(
            log_fd=log_write,
            listen=config.listen,
            tls_listen=config.tls_listen if config.tls_enabled else None,
            default_cert=default_cert,
            ca=ca,
            fallback_http=fallback_http,
            fallback_https=fallback_https,
            threads=config.workers,
            connect_timeout=config.connect_timeout,
            request_timeout=config.request_timeout,
            idle_timeout=config.idle_timeout,
            boot_timeout=config.boot_timeout,
            shutdown_timeout=config.shutdown_timeout,
            max_connections=config.max_connections,
            global_maxconn=_global_maxconn(config.max_connections),
            max_in_flight_per_dyno=config.max_in_flight_per_dyno,
            backlog_per_dyno=config.backlog_per_dyno,
            max_request_line=config.max_request_line,
            max_header_line=config.max_header_line,
            max_headers=config.max_headers,
        )
        dataplane = self.dataplane = HAProxyDataPlane(binary, layout, settings)
        # Formatting HAProxy's lines is batch work: it yields the core to HAProxy and
        # the dynos (priority.py). Not so without HAProxy, where this loop serves
        # every request and must never wait behind a busy machine.
        state.reports.background = BackgroundPriority()
        collector = LogCollector(state.reports, dataplane.dyno_of, log_read)
        table = state.table if state.table.version else None
        await dataplane.start(table)
        self._collector = asyncio.get_running_loop().create_task(collector.run())
        self._tasks.append(self._collector)
        self.http_port = config.listen[1]
        log.info("data plane: HAProxy (%s), files in %s", binary, root)
        log.info("listening on http://%s:%d", config.listen[0], self.http_port)
        if config.tls_enabled:
            self.https_port = state.https_port = config.tls_listen[1]
            log.info("listening on https://%s:%d", config.tls_listen[0], self.https_port)
        if table is not None:
            log.info("route table v%d applied (%d apps)", table.version, len(table.apps))

    def apply_table(self, table: RouteTable) -> None:
        assert self.state is not None
        self.state.apply_table(table)
        dataplane = self.dataplane
        if dataplane is None:
            if self.haproxy is None:
                log.info("route table v%d applied (%d apps)", table.version, len(table.apps))
            return
        task = asyncio.get_running_loop().create_task(self._sync(dataplane, table))
        self._syncs.add(task)
        task.add_done_callback(self._syncs.discard)

    async def _sync(self, dataplane: HAProxyDataPlane, table: RouteTable) -> None:
        """Bring HAProxy to `table`; the line says when the next request sees it."""
        try:
            if await dataplane.apply(table):
                log.info("route table v%d applied (%d apps)", table.version, len(table.apps))
        except OSError as exc:
            log.warning("data plane did not take route table v%d: %s", table.version, exc)

    def _known_host(self, name: str) -> bool:
        return self.state is not None and self.state.table.resolve(name.encode()) is not None

    def _table(self) -> RouteTable | None:
        return self.state.table if self.state is not None else None

    def _control_status(self, up: bool) -> None:
        if self.state is not None:
            self.state.control_connected = up
        if not up and self.dataplane is not None:
            # The control plane may be restarting, and its dynos with it: every request
            # goes to this router, which holds one whose dyno refuses until the next table.
            task = asyncio.get_running_loop().create_task(self.dataplane.all_to_fallback())
            self._syncs.add(task)
            task.add_done_callback(self._syncs.discard)

    def reload_static_table(self) -> None:
        assert self.config.static_table is not None
        try:
            table = RouteTable.from_json(json.loads(self.config.static_table.read_text()))
        except (OSError, ValueError) as exc:
            raise TableError(f"cannot read {self.config.static_table}: {exc}") from exc
        self.apply_table(table)

    async def _listen(
        self,
        protocol: str,
        address: tuple[str, int],
        tls: ssl.SSLContext | None,
        *,
        proxied: bool = False,
    ) -> int:
        loop = asyncio.get_running_loop()
        state = self.state
        assert state is not None
        holder: list[Listener] = []
        server = await loop.create_server(
            lambda: ClientConnection(state, holder[0]),
            address[0],
            address[1],
            ssl=tls,
            backlog=LISTEN_BACKLOG,
            reuse_address=True,
            reuse_port=self.config.workers > 1 and not proxied,
            start_serving=False,
        )
        port: int = server.sockets[0].getsockname()[1]
        # X-Forwarded-Port is the port actually bound (it differs when asked for 0).
        holder.append(Listener(protocol, port, proxied=proxied))
        await server.start_serving()
        self._servers.append(server)
        if not proxied:
            log.info("listening on %s://%s:%d", protocol, address[0], port)
        return port

    async def _sweep(self) -> None:
        """Check every connection's timers each tick: one loop instead of a timer each."""
        state = self.state
        assert state is not None
        config = self.config
        clock = state.clock
        while True:
            if not state.connections and not state.pool and not state.holds:
                # Nothing to time out: sleep until a client connects (no idle ticking).
                state.busy.clear()
                await state.busy.wait()
            await asyncio.sleep(config.sweep_interval)
            now = clock.tick()
            for conn in list(state.connections):
                try:
                    conn.check_timeouts(now)
                except Exception:
                    log.exception("router timeout check failed")
                    conn.abort()
            try:
                state.pool.sweep(now, config.idle_timeout)
                state.rewake()
            except Exception:
                log.exception("router sweep failed")

    async def _print_lines(self) -> None:
        """Without a control plane, router lines go to stdout, a batch per interval."""
        state = self.state
        assert state is not None
        while True:
            await asyncio.sleep(self.config.report_interval)
            state.reports.activity.clear()  # only the control plane uses it
            while len(state.reports):
                self._print(FORMAT_SLICE)
                await asyncio.sleep(0)  # let requests through between slices
            sys.stdout.flush()

    def _print(self, limit: int) -> None:
        state = self.state
        assert state is not None
        table = state.table
        if self._names[0] != table.version:  # once per table, not per slice of lines
            self._names = (table.version, {app.id: app.name for app in table.apps})
        names = self._names[1]
        sys.stdout.write(
            "".join(
                f"{names.get(app_id, app_id)} heroku[router]: {line}\n"
                for app_id, line in state.reports.take(limit)
            )
        )

    async def shutdown(self) -> None:
        """Stop accepting, let in-flight requests finish, then close everything."""
        state = self.state
        assert state is not None
        loop = asyncio.get_running_loop()
        if self.dataplane is not None:
            # HAProxy stops listening at once and lets its connections finish; requests
            # it passed to this router finish here meanwhile.
            await self.dataplane.stop(self.config.shutdown_timeout)
            if self._collector is not None:
                # HAProxy has exited: the lines of its last requests are in the pipe,
                # which the collector reads to its end.
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self._collector), 2.0)
            if self._own_dir is not None:
                import shutil

                shutil.rmtree(self._own_dir, ignore_errors=True)
        for server in self._servers:
            server.close()
        for conn in list(state.connections):
            conn.shutdown()
        deadline = loop.time() + self.config.shutdown_timeout
        while state.connections and loop.time() < deadline:
            await asyncio.sleep(0.05)
        if state.connections:
            log.warning("closing %d connections still open", len(state.connections))
        for conn in list(state.connections):
            conn.abort()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.control is not None:
            await self.control.aclose()
        else:
            self._print(len(state.reports))
            sys.stdout.flush()
            if state.reports.dropped:
                log.warning("%d router lines dropped (buffer full)", state.reports.dropped)
        state.pool.close_all()


def _log_pipe() -> tuple[int, int]:
    """The pipe HAProxy's threads write their log lines into, as large as allowed."""
    import fcntl

    read, write = os.pipe()
    for size in (PIPE_SIZE, 1 << 20):
        try:
            fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, size)
            break
        except OSError:
            continue
    return read, write


def _global_maxconn(per_listener: int) -> int:
    """Connections HAProxy may hold in all: each takes two descriptors (client, dyno)."""
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = hard if hard != resource.RLIM_INFINITY else 1 << 20
    return max(256, min(per_listener * 2 + 100, (limit - 200) // 2))


def _write_pem(path: Path, cert: Path, key: Path) -> None:
    """HAProxy's form of a certificate: chain and key in one private file."""
    from slipway.privatefile import write_private

    write_private(path, cert.read_bytes().rstrip(b"\n") + b"\n" + key.read_bytes())


class CertificateContexts:
    """An SSL context per certificate the table names, by fingerprint: a renewed
    certificate (new fingerprint) is loaded for the next handshakes, while connections
    already open keep theirs, so nothing is dropped."""

    def __init__(self) -> None:
        self._contexts: dict[str, ssl.SSLContext] = {}

    def context_for(self, cert: Certificate) -> ssl.SSLContext | None:
        context = self._contexts.get(cert.fingerprint)
        if context is None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            try:
                context.load_cert_chain(cert.cert, cert.key)
            except (OSError, ssl.SSLError) as exc:
                log.error("cannot load the certificate for %s: %s", cert.names[0], exc)
                return None
            context.set_alpn_protocols(["http/1.1"])
            if len(self._contexts) > 10_000:
                self._contexts.clear()
            self._contexts[cert.fingerprint] = context
        return context


def _tls_context(
    config: RouterConfig,
    known: Callable[[str], bool],
    table: Callable[[], RouteTable | None] = lambda: None,
) -> ssl.SSLContext:
    """The HTTPS listener's context. By SNI: a certificate the table names (ACM's, a
    user's), else one minted from the platform's CA for a routed host (local mode),
    else the default certificate (--tls-cert: the operator's wildcard, or the CA's)."""
    assert config.tls_cert is not None
    assert config.tls_key is not None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config.tls_cert, config.tls_key)
    context.set_alpn_protocols(["http/1.1"])
    minted = None
    if config.tls_ca_cert is not None and config.tls_ca_key is not None:
        from slipway.tls import HostCertificates

        minted = HostCertificates(config.tls_ca_cert, config.tls_ca_key)
    served = CertificateContexts()

    def pick(sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        if not name:
            return
        current = table()
        cert = current.certificate_for(name) if current is not None else None
        if cert is not None:
            chosen = served.context_for(cert)
            if chosen is not None:
                sock.context = chosen
                return
        # Only hosts the table routes get a certificate minted: no signing oracle.
        if minted is not None and known(name):
            sock.context = minted.context_for(name)
            sock.context.set_alpn_protocols(["http/1.1"])

    context.sni_callback = pick
    return context
