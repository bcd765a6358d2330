"""PostgreSQL's TLS in front of a server that has none: `sslmode=require` still works.

Apps written for Heroku ask for TLS (`dj_database_url ... ssl_require=True`,
`PGSSLMODE=require` in `heroku pg:psql`). The embedded cluster speaks TLS itself;
a server named with `--postgres-admin-url` that does not (`ssl = off`) gets this
front: a listener on a port kept in `front.json` that speaks PostgreSQL's own
negotiation. A client's SSLRequest is answered `S` and the connection becomes
TLS with the platform's certificate (so `verify-full` works for a client that
trusts the platform's CA); a GSSENCRequest is answered `N`; a client that asks
for neither goes through as it is. Everything after that is relayed to the
server unchanged, over plain TCP: the server then offers SCRAM without channel
binding, which is what keeps a client's TLS to the front and the server's own
authentication consistent (a TLS leg to the server would make it offer
SCRAM-SHA-256-PLUS bound to a certificate the client never saw).

So the front suits a server on the same machine or a trusted network; a remote
server should speak TLS itself, and then apps reach it directly.

It runs in the platform's process, on its own thread and event loop; a restart
of the platform drops the connections through it, and apps reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import struct
import threading
from concurrent.futures import Future
from pathlib import Path

from slipway.addons._files import private_dir, read_json, write_json
from slipway.addons._ports import pick_port
from slipway.addons.errors import PortInUse, ProviderUnavailable
from slipway.addons.provider import AddonSettings

log = logging.getLogger("slipway.addons.postgres")

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
# A first message longer than this is not a PostgreSQL startup packet.
MAX_STARTUP = 10000
FIRST_MESSAGE_TIMEOUT = 30.0
CHUNK = 65536


async def _relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError, ssl.SSLError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


Upstream = tuple[str, int] | str  # (host, port), or a unix socket's path


class TlsFront:
    """A listener that adds PostgreSQL's TLS in front of `upstream` (see the module)."""

    def __init__(
        self, context: ssl.SSLContext, upstream: Upstream, listen: tuple[list[str], int]
    ) -> None:
        self.context = context
        self.upstream = upstream
        self.listen = listen
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        """Listen now (raises OSError when the port is taken); returns once it does."""
        if self._server is not None:
            return
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="postgres-tls-front", daemon=True)
        thread.start()
        started: Future[asyncio.Server] = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, *self.listen, reuse_address=True), loop
        )
        try:
            self._server = started.result(10)
        except BaseException:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
            loop.close()
            raise
        self._loop, self._thread = loop, thread
        hosts, port = self.listen
        log.info("PostgreSQL TLS front on %s port %d for %s", ",".join(hosts), port, self.upstream)

    def stop(self) -> None:
        loop, server, thread = self._loop, self._server, self._thread
        if loop is None or server is None or thread is None:
            return

        async def close() -> None:
            server.close()
            await server.wait_closed()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
        self._loop = self._server = self._thread = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            first = await asyncio.wait_for(self._negotiate(reader, writer), FIRST_MESSAGE_TIMEOUT)
        except (TimeoutError, ConnectionError, OSError, ssl.SSLError, asyncio.IncompleteReadError):
            first = None
        if first is None:
            with contextlib.suppress(Exception):
                writer.close()
            return
        try:
            if isinstance(self.upstream, str):
                up_reader, up_writer = await asyncio.open_unix_connection(self.upstream)
            else:
                up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError as exc:
            log.warning("the PostgreSQL TLS front cannot reach %s: %s", self.upstream, exc)
            with contextlib.suppress(Exception):
                writer.close()
            return
        up_writer.write(first)
        await asyncio.gather(_relay(reader, up_writer), _relay(up_reader, writer))

    async def _negotiate(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bytes | None:
        """Answer TLS and GSS requests; returns the startup message to pass on (None: the
        client's first bytes are not PostgreSQL's)."""
        encrypted = False
        while True:
            head = await reader.readexactly(8)
            length, code = struct.unpack("!II", head)
            if length < 8 or length > MAX_STARTUP:
                return None
            if length == 8 and code == SSL_REQUEST and not encrypted:
                writer.write(b"S")
                await writer.drain()
                await writer.start_tls(self.context)
                encrypted = True
                continue
            if length == 8 and code == GSSENC_REQUEST:
                writer.write(b"N")
                await writer.drain()
                continue
            rest = await reader.readexactly(length - 8)
            return head + rest


class FrontKeeper:
    """The provider's one front for the named server: its port, kept in `front.json`
    (chosen once from the provider's port range), and the listener on it."""

    def __init__(self, root: Path, settings: AddonSettings) -> None:
        self.root = root
        self.state_path = root / "front.json"
        self.settings = settings
        self._front: TlsFront | None = None
        self._lock = threading.Lock()

    def port(self) -> int | None:
        if not self.state_path.exists():
            return None
        return int(read_json(self.state_path)["port"])

    def ensure(self, upstream: Upstream, exclude: set[int]) -> int:
        """The front's port, listening (a port is chosen and kept on the first call)."""
        with self._lock:
            port = self.port()
            if port is None:
                port = pick_port(self.settings.postgres_ports, exclude, "the PostgreSQL TLS front")
                private_dir(self.root)
                write_json(self.state_path, {"port": port})
            self._start(upstream, port)
            return port

    def start(self, upstream: Upstream) -> None:
        """At a platform start: listen again if a front was ever made."""
        with self._lock:
            port = self.port()
            if port is not None:
                self._start(upstream, port)

    def _start(self, upstream: Upstream, port: int) -> None:
        if self._front is not None and self._front.running:
            return
        cert, key = self.settings.tls_cert, self.settings.tls_key
        if cert is None or key is None:
            raise ProviderUnavailable(
                "The PostgreSQL server named by --postgres-admin-url has no TLS and this "
                "server has no add-on certificate to add it; turn ssl on in that server."
            )
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cert), str(key))
        # Dynos in their own network namespace reach it on the bridge address only.
        front = TlsFront(context, upstream, (self.settings.listen_addresses(), port))
        try:
            front.start()
        except OSError:
            raise PortInUse(
                f"Port {port}, kept for the PostgreSQL TLS front, is in use by another "
                "program; stop that program and start Slipway again.",
                port,
            ) from None
        self._front = front

    def stop(self) -> None:
        with self._lock:
            if self._front is not None:
                self._front.stop()
                self._front = None
