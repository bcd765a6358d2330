"""`slipway server`: the composition root that starts the control plane.

It prepares the data directory, applies migrations, creates the admin account
on the first start, and serves the Platform API. Later parts (git, router,
dyno manager, logs) are started and supervised from here too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import click
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp

from slipway.addons.errors import AddonError
from slipway.addons.provider import AddonSettings, Provider
from slipway.addons.registry import load_providers
from slipway.api.app import RATE_LIMIT_CAPACITY, create_api
from slipway.builder.buildpack_resolver import BuildpackResolver
from slipway.builder.runner import BuildRunner
from slipway.git.http import GitAuthError, GitHttp, PushGrant
from slipway.git.repos import RepoStore
from slipway.logs.drains import DrainDispatcher, DrainSpec
from slipway.logs.history import DEFAULT_LIMIT, LogHistory
from slipway.logs.plex import Logplex
from slipway.logs.sessions import SessionSigner
from slipway.platform import accounts, apps, drains
from slipway.platform.deploys import Deployer, DeployOptions
from slipway.platform.errors import Forbidden, NotFound, Unauthorized
from slipway.platform.events import AppDestroyed, AppLog, DrainsChanged, Event, RuntimeChanged
from slipway.platform.runtime_bridge import RuntimeBridge
from slipway.platform.settings import PlatformSettings
from slipway.platform.tx import Platform
from slipway.privatefile import read_or_create, write_private
from slipway.runtime.local import LocalDriver
from slipway.runtime.manager import DynoManager, RuntimeOptions
from slipway.runtime.rendezvous import Rendezvous
from slipway.runtime.sandbox import Sandbox
from slipway.server.router_supervisor import RouterLaunch, RouterSupervisor, router_argv
from slipway.slugs.store import SlugStore
from slipway.store import Store, StoreError
from slipway.store.engine import sqlite_url
from slipway.tls import TlsFiles, ensure_certificates

log = logging.getLogger("slipway.server")

ADMIN_KEY_FILE = "admin-api-key"
DEFAULT_ADMIN_EMAIL = "admin@slipway.localhost"


def default_data_dir() -> Path:
    """$SLIPWAY_HOME, else ~/.slipway; as root /var/lib/slipway, a system service's place.

    (Root's home is 0700: the embedded PostgreSQL, which runs as the `postgres` user,
    and dynos, which run as their app's uid, could not reach a data dir inside it.)
    """
    if os.environ.get("SLIPWAY_HOME"):
        return Path(os.environ["SLIPWAY_HOME"])
    if os.geteuid() == 0:
        return Path("/var/lib/slipway")
    return Path.home() / ".slipway"


@dataclass(frozen=True)
class ServerConfig:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 5000
    store_url: str | None = None
    admin_email: str = DEFAULT_ADMIN_EMAIL
    base_domain: str = "localhost"
    router_port: int = 8080
    router_tls_port: int = 8443
    router_host: str = "127.0.0.1"
    run_router: bool = True
    # One router process per core (up to 4): proxying is CPU-bound.
    router_workers: int = field(default_factory=lambda: max(1, min(os.cpu_count() or 1, 4)))
    postgres_admin_url: str | None = None
    # Extra `slipway router` options (timeouts), passed through as given.
    router_args: tuple[str, ...] = ()
    git_port: int = 5443
    rate_limit: int = RATE_LIMIT_CAPACITY
    log_level: str = "info"
    access_log: bool = False
    tls_cert: Path | None = None
    tls_key: Path | None = None
    keep_releases: int = 10
    build_timeout: float = 25 * 60
    build_memory_mb: int = 4096
    slug_grace: float = 3600
    log_history: int = DEFAULT_LIMIT
    rendezvous_port: int = 5444
    runtime: RuntimeOptions = field(default_factory=RuntimeOptions)
    max_dynos_per_app: int = 100
    eco_quota_hours: float = 1000.0

    @property
    def public_host(self) -> str:
        # A wildcard bind is reached locally on the loopback address.
        return "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104

    @property
    def api_url(self) -> str:
        return f"http://{self.public_host}:{self.port}"

    @property
    def git_host(self) -> str:
        return f"{self.public_host}:{self.git_port}"


def prepare_data_dir(path: Path) -> Path:
    path = path.expanduser().resolve()
    # Everything the server creates is private (0600/0700): the store, keys, repos, slugs.
    os.umask(0o077)
    path.mkdir(parents=True, exist_ok=True)
    # Others may only traverse (no listing), so a build running as its app's uid can
    # reach the one work and cache directory handed to it; everything else is 0700.
    path.chmod(0o711)
    return path


def build_platform(config: ServerConfig) -> Platform:
    data_dir = prepare_data_dir(config.data_dir)
    store = Store(config.store_url or sqlite_url(data_dir / "slipway.db"))
    store.migrate()
    settings = PlatformSettings(
        base_domain=config.base_domain,
        router_port=config.router_port,
        git_host=config.git_host,
        runs_dynos=True,
        max_dynos_per_app=config.max_dynos_per_app,
        eco_quota_hours=config.eco_quota_hours,
    )
    return Platform(store, settings)


def load_secret(data_dir: Path) -> bytes:
    """The server's own secret (capability URLs are signed with it); made on first start."""
    return bytes.fromhex(read_or_create(data_dir / "secret", secrets.token_hex(32)))


def router_token(data_dir: Path) -> str:
    """The router's credential for /internal/router/*; made on first start, kept 0600."""
    return read_or_create(data_dir / "router-token", secrets.token_urlsafe(32))


def tls_files(config: ServerConfig, data_dir: Path) -> TlsFiles:
    if config.tls_cert and config.tls_key:
        return TlsFiles(config.tls_cert, config.tls_key, None)
    return ensure_certificates(data_dir / "tls", config.base_domain, [config.public_host])


def make_authoriser(platform: Platform) -> Callable[[str, str], PushGrant]:
    def authorise(key: str, app_name: str) -> PushGrant:
        try:
            with platform.tx() as tx:
                account = accounts.authenticate(tx, key)
                app = apps.get_app(tx, account, app_name)
        except Unauthorized as exc:
            raise GitAuthError(
                401, "Invalid credentials; use your API key as the password."
            ) from exc
        except NotFound as exc:
            raise GitAuthError(404, f"Couldn't find that app ({app_name}).") from exc
        except Forbidden as exc:
            raise GitAuthError(403, exc.message) from exc
        return PushGrant(account.id, account.email, app.id)

    return authorise


def connect_logs(platform: Platform, logplex: Logplex, dispatcher: DrainDispatcher) -> None:
    """Platform events become log lines; drains follow the store, now and on every change."""

    def load_drains(app_id: str) -> None:
        with platform.tx() as tx:
            rows = drains.drains_of(tx, app_id)
        dispatcher.set_drains(app_id, [DrainSpec(i, token, url) for i, token, url in rows])

    def on_event(event: Event) -> None:
        if isinstance(event, AppLog):
            logplex.publish(event.app_id, event.source, event.process, event.message)
        elif isinstance(event, DrainsChanged):
            load_drains(event.app_id)
        elif isinstance(event, AppDestroyed):
            dispatcher.set_drains(event.app_id, [])
            logplex.forget(event.app_id)

    platform.bus.subscribe(on_event)
    with platform.tx() as tx:
        app_ids = drains.all_app_ids_with_drains(tx)
    for app_id in app_ids:
        load_drains(app_id)


def connect_runtime(platform: Platform, manager: DynoManager) -> None:
    """Releases, scales and app changes make the dyno manager re-plan the app; the dyno and
    router-feed use cases reach it through the platform's ports."""
    platform.ports.dyno_runtime = manager
    platform.ports.router_feed = manager

    def on_event(event: Event) -> None:
        if isinstance(event, RuntimeChanged):
            manager.converge(event.app_id)
        elif isinstance(event, AppDestroyed):
            manager.forget(event.app_id)

    platform.bus.subscribe(on_event)


def start_runtime(
    config: ServerConfig, platform: Platform, data_dir: Path, tls: TlsFiles, logplex: Logplex
) -> DynoManager:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(tls.cert), str(tls.key))
    manager = DynoManager(
        LocalDriver(data_dir / "runtime"),
        RuntimeBridge(platform, SlugStore(data_dir / "slugs"), logplex.publish),
        config.runtime,
        rendezvous=Rendezvous(context, config.public_host),
        rendezvous_bind=(config.host, config.rendezvous_port),
    )
    connect_runtime(platform, manager)
    manager.start()
    assert manager.rendezvous is not None
    click.echo(
        f"One-off dynos attach on rendezvous://{config.public_host}:{manager.rendezvous.port}"
    )
    return manager


def start_router(
    config: ServerConfig, data_dir: Path, tls: TlsFiles, token: str
) -> RouterSupervisor | None:
    if not config.run_router:
        return None
    supervisor = RouterSupervisor(
        RouterLaunch(
            argv=router_argv(
                listen=f"{config.router_host}:{config.router_port}",
                tls_listen=f"{config.router_host}:{config.router_tls_port}",
                cert=tls.cert,
                key=tls.key,
                control_url=config.api_url,
                ca=(tls.ca_cert, tls.cert.parent / "ca.key") if tls.ca_cert else None,
                workers=config.router_workers,
            )
            + list(config.router_args),
            token=token,
            pid_file=data_dir / "router.pid",
            log_file=data_dir / "router.log",
        )
    )
    supervisor.start()
    shown = "localhost" if config.router_host in ("127.0.0.1", "0.0.0.0") else config.router_host  # noqa: S104
    click.echo(
        f"Apps answer at http://APP.{config.base_domain}:{config.router_port}/ and "
        f"https://APP.{config.base_domain}:{config.router_tls_port}/ (router on {shown})"
    )
    return supervisor


def start_addons(config: ServerConfig, data_dir: Path) -> dict[str, Provider]:
    """Add-on providers (built-in and entry points), with the servers they run brought back."""
    providers = load_providers(
        data_dir, AddonSettings(postgres_admin_url=config.postgres_admin_url)
    )
    for name, provider in providers.items():
        try:
            provider.start()
        except AddonError as exc:
            # One broken provider must not keep the platform down; its add-ons say why.
            log.error("add-on provider %s did not start: %s", name, exc.message)
    return providers


def stop_addons(providers: dict[str, Provider]) -> None:
    for name, provider in providers.items():
        try:
            provider.stop()
        except AddonError as exc:
            log.error("add-on provider %s did not stop cleanly: %s", name, exc.message)


def bootstrap(platform: Platform, config: ServerConfig) -> None:
    key_file = config.data_dir.expanduser().resolve() / ADMIN_KEY_FILE
    with platform.tx() as tx:
        created = accounts.bootstrap_admin(tx, config.admin_email)
    if created is not None:
        account, token = created
        write_private(key_file, token + "\n")
        click.echo(f"Created the admin account {account.email}.")
        click.echo(f"Its API key is in {key_file} (readable only by you).")
    click.echo(f"Slipway API listening on {config.api_url}")
    click.echo("Log in with:")
    click.echo(f"  slipway login --api-url {config.api_url} < {key_file}")


class _Server(uvicorn.Server):
    """One of the listeners. A signal stops all of them together.

    uvicorn re-raises SIGINT/SIGTERM after its graceful shutdown, which would skip
    our own clean-up and exit by signal; a stop we asked for should exit 0.
    """

    siblings: list[_Server]
    # Set when a stop begins: endless responses (the router's route stream) end then,
    # or uvicorn's graceful shutdown would wait for them forever.
    stopping: threading.Event

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if hasattr(self, "stopping"):
            self.stopping.set()
        for server in getattr(self, "siblings", [self]):
            uvicorn.Server.handle_exit(server, sig, frame)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            self._captured_signals.clear()


def serve(config: ServerConfig) -> None:
    logging.basicConfig(
        level=config.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    try:
        platform = build_platform(config)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    data_dir = config.data_dir.expanduser().resolve()
    bootstrap(platform, config)
    tls = tls_files(config, data_dir)
    secret = load_secret(data_dir)
    deployer = Deployer(
        platform,
        BuildRunner(Sandbox(), BuildpackResolver(data_dir / "buildpacks")),
        SlugStore(data_dir / "slugs"),
        data_dir,
        secret,
        config.api_url,
        DeployOptions(
            keep_releases=config.keep_releases,
            build_memory_mb=config.build_memory_mb,
            build_timeout=config.build_timeout,
            slug_grace=config.slug_grace,
        ),
    )
    dispatcher = DrainDispatcher()
    dispatcher.start()
    logplex = Logplex(LogHistory(data_dir / "logs", limit=config.log_history), dispatcher)
    logplex.start()
    connect_logs(platform, logplex, dispatcher)
    runtime = start_runtime(config, platform, data_dir, tls, logplex)
    providers = start_addons(config, data_dir)
    deployer.runtime = runtime
    token = router_token(data_dir)
    api = create_api(
        platform,
        deployer=deployer,
        router_token=token,
        addon_providers=providers,
        logplex=logplex,
        log_sessions=SessionSigner(secret),
        public_url=config.api_url,
        ca_cert=tls.ca_cert,
        rate_limit=config.rate_limit,
    )
    git = GitHttp(
        RepoStore(data_dir / "repos"),
        make_authoriser(platform),
        deployer.push_tokens.issue,
        deployer.push_tokens.revoke,
        f"{config.api_url}/internal/pushes",
    )
    tls_app = Starlette(routes=[*git.routes(), Mount("/", app=api)])

    def listener(app: ASGIApp, port: int, tls_files: TlsFiles | None = None) -> _Server:
        return _Server(
            uvicorn.Config(
                app,
                host=config.host,
                port=port,
                log_level=config.log_level,
                # Off by default: request lines can carry capability tokens in URLs.
                access_log=config.access_log,
                server_header=False,
                timeout_graceful_shutdown=10,
                ssl_certfile=str(tls_files.cert) if tls_files else None,
                ssl_keyfile=str(tls_files.key) if tls_files else None,
            )
        )

    router = start_router(config, data_dir, tls, token)
    stopping = api.state.stopping
    servers = [listener(api, config.port), listener(tls_app, config.git_port, tls)]
    for server in servers:
        server.siblings = servers
        server.stopping = stopping
    click.echo(f"git push over HTTPS on https://{config.git_host}/APP.git")
    if tls.ca_cert:
        click.echo(f"The platform's CA certificate: {tls.ca_cert}")
    try:
        # uvicorn turns SIGINT/SIGTERM into a graceful shutdown: in-flight
        # requests finish (and commit) before the process exits.
        asyncio.run(_serve_all(servers))
    finally:
        if router is not None:
            router.stop()
        runtime.close()
        stop_addons(providers)
        logplex.close()
        dispatcher.close()
        platform.store.dispose()
        click.echo("Slipway stopped.")


async def _serve_all(servers: list[_Server]) -> None:
    await asyncio.gather(*(s.serve() for s in servers))


@click.command("server")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Where Slipway keeps its state (default: $SLIPWAY_HOME or ~/.slipway).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the API binds to.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port of the API.")
@click.option(
    "--store",
    "store_url",
    envvar="SLIPWAY_STORE",
    default=None,
    help="Database URL, e.g. postgresql://user@host/db (default: SQLite in the data dir).",
)
@click.option("--admin-email", default=DEFAULT_ADMIN_EMAIL, show_default=True)
@click.option("--base-domain", default="localhost", show_default=True, help="Apps are APP.DOMAIN.")
@click.option(
    "--router-port", default=8080, show_default=True, type=int, help="The router's HTTP port."
)
@click.option(
    "--router-tls-port", default=8443, show_default=True, type=int, help="Its HTTPS port."
)
@click.option(
    "--router-host",
    default="127.0.0.1",
    show_default=True,
    help="Where the router listens (0.0.0.0 to serve other machines).",
)
@click.option("--router/--no-router", "run_router", default=True, show_default=True)
@click.option(
    "--router-workers",
    type=click.IntRange(min=1, max=64),
    default=None,
    help="Router processes sharing its ports (default: one per core, up to 4).",
)
@click.option(
    "--router-option",
    "router_args",
    multiple=True,
    help="Pass an option to `slipway router`, e.g. --router-option=--request-timeout=10.",
)
@click.option("--git-port", default=5443, show_default=True, type=int)
@click.option(
    "--rate-limit",
    default=RATE_LIMIT_CAPACITY,
    show_default=True,
    type=click.IntRange(min=1),
    help="API requests per account before throttling (refills at 75/min).",
)
@click.option(
    "--tls-cert",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Your own certificate (PEM) for the HTTPS listener, instead of the platform's CA.",
)
@click.option(
    "--tls-key", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None
)
@click.option(
    "--keep-releases",
    default=10,
    show_default=True,
    type=click.IntRange(min=1),
    help="Slugs of this many recent releases per app are kept; older ones are collected.",
)
@click.option(
    "--build-timeout",
    default=25 * 60,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Seconds a buildpack's compile may take.",
)
@click.option("--build-memory", default=4096, show_default=True, type=click.IntRange(min=64))
@click.option("--slug-grace", default=3600.0, hidden=True, type=click.FloatRange(min=0))
@click.option(
    "--log-history",
    default=DEFAULT_LIMIT,
    show_default=True,
    type=click.IntRange(min=1),
    help="Lines of log history kept per app.",
)
@click.option(
    "--rendezvous-port",
    default=5444,
    show_default=True,
    type=int,
    help="TLS port where `heroku run` / `slipway run` attach to one-off dynos.",
)
@click.option(
    "--boot-timeout",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Seconds a web dyno has to bind $PORT before R10.",
)
@click.option(
    "--stop-timeout",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds between SIGTERM and SIGKILL (R12).",
)
@click.option(
    "--restart-backoff",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Wait before the 2nd restart of a crashed dyno; doubles each crash.",
)
@click.option(
    "--restart-backoff-cap",
    default=1200.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Longest wait between crash restarts.",
)
@click.option(
    "--dyno-cycle-hours",
    default=24.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Daily cycling: restart dynos after this many hours (+ up to 216 min); 0 = off.",
)
@click.option(
    "--release-timeout",
    default=3600.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Seconds the release phase may take.",
)
@click.option(
    "--idle-after",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0.01),
    help="Minutes without a request after which apps that sleep (eco) go idle.",
)
@click.option("--max-dynos-per-app", default=100, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--eco-hours",
    default=1000.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Eco dyno hours per account per month.",
)
@click.option("--eco-report-interval", default=60.0, hidden=True, type=click.FloatRange(min=0.1))
@click.option(
    "--postgres-admin-url",
    envvar="SLIPWAY_POSTGRES_ADMIN_URL",
    default=None,
    help="A PostgreSQL server for heroku-postgresql add-ons (default: a cluster the "
    "platform runs under its data dir).",
)
@click.option("--log-level", default="info", show_default=True)
@click.option("--access-log/--no-access-log", default=False, show_default=True)
def server_command(
    data_dir: Path | None,
    host: str,
    port: int,
    store_url: str | None,
    admin_email: str,
    base_domain: str,
    router_port: int,
    router_tls_port: int,
    router_host: str,
    run_router: bool,
    router_workers: int | None,
    router_args: tuple[str, ...],
    git_port: int,
    rate_limit: int,
    tls_cert: Path | None,
    tls_key: Path | None,
    keep_releases: int,
    build_timeout: float,
    build_memory: int,
    slug_grace: float,
    log_history: int,
    rendezvous_port: int,
    boot_timeout: float,
    stop_timeout: float,
    restart_backoff: float,
    restart_backoff_cap: float,
    dyno_cycle_hours: float,
    release_timeout: float,
    idle_after: float,
    max_dynos_per_app: int,
    eco_hours: float,
    eco_report_interval: float,
    postgres_admin_url: str | None,
    log_level: str,
    access_log: bool,
) -> None:
    """Start the Slipway platform (API and store) with embedded defaults."""
    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("Pass --tls-cert and --tls-key together.")
    serve(
        ServerConfig(
            data_dir=data_dir or default_data_dir(),
            host=host,
            port=port,
            store_url=store_url,
            admin_email=admin_email,
            base_domain=base_domain,
            router_port=router_port,
            router_tls_port=router_tls_port,
            router_host=router_host,
            run_router=run_router,
            **({"router_workers": router_workers} if router_workers else {}),
            router_args=router_args,
            git_port=git_port,
            rate_limit=rate_limit,
            log_level=log_level,
            access_log=access_log,
            tls_cert=tls_cert,
            tls_key=tls_key,
            keep_releases=keep_releases,
            build_timeout=build_timeout,
            build_memory_mb=build_memory,
            slug_grace=slug_grace,
            log_history=log_history,
            rendezvous_port=rendezvous_port,
            runtime=RuntimeOptions(
                boot_timeout=boot_timeout,
                stop_timeout=stop_timeout,
                backoff_base=restart_backoff,
                backoff_cap=restart_backoff_cap,
                cycle_interval=dyno_cycle_hours * 3600,
                release_timeout=release_timeout,
                eco_report_interval=eco_report_interval,
                idle_after=idle_after * 60,
            ),
            max_dynos_per_app=max_dynos_per_app,
            eco_quota_hours=eco_hours,
            postgres_admin_url=postgres_admin_url,
        )
    )
