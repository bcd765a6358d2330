"""`slipway server`: the composition root that starts the control plane.

It prepares the data directory, applies migrations, creates the admin account
on the first start, and serves the Platform API. Later parts (git, router,
dyno manager, logs) are started and supervised from here too.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import uvicorn

from slipway.api.app import RATE_LIMIT_CAPACITY, create_api
from slipway.platform import accounts
from slipway.platform.settings import PlatformSettings
from slipway.platform.tx import Platform
from slipway.store import Store, StoreError
from slipway.store.engine import sqlite_url

log = logging.getLogger("slipway.server")

ADMIN_KEY_FILE = "admin-api-key"
DEFAULT_ADMIN_EMAIL = "admin@slipway.localhost"


def default_data_dir() -> Path:
    return Path(os.environ.get("SLIPWAY_HOME") or Path.home() / ".slipway")


@dataclass(frozen=True)
class ServerConfig:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 5000
    store_url: str | None = None
    admin_email: str = DEFAULT_ADMIN_EMAIL
    base_domain: str = "localhost"
    router_port: int = 8080
    git_port: int = 5443
    rate_limit: int = RATE_LIMIT_CAPACITY
    log_level: str = "info"
    access_log: bool = False

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}"


def prepare_data_dir(path: Path) -> Path:
    path = path.expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    # The data dir holds the store and keys: nobody else may read it.
    path.chmod(0o700)
    return path


def write_secret(path: Path, content: str) -> None:
    """Create a 0600 file atomically, so the key is never readable by others, even briefly."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(content)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


def build_platform(config: ServerConfig) -> Platform:
    data_dir = prepare_data_dir(config.data_dir)
    store = Store(config.store_url or sqlite_url(data_dir / "slipway.db"))
    store.migrate()
    settings = PlatformSettings(
        base_domain=config.base_domain,
        router_port=config.router_port,
        git_host=f"{config.host}:{config.git_port}",
    )
    return Platform(store, settings)


def bootstrap(platform: Platform, config: ServerConfig) -> None:
    key_file = config.data_dir.expanduser().resolve() / ADMIN_KEY_FILE
    with platform.tx() as tx:
        created = accounts.bootstrap_admin(tx, config.admin_email)
    if created is not None:
        account, token = created
        write_secret(key_file, token + "\n")
        click.echo(f"Created the admin account {account.email}.")
        click.echo(f"Its API key is in {key_file} (readable only by you).")
    click.echo(f"Slipway API listening on {config.api_url}")
    click.echo("Log in with:")
    click.echo(f"  slipway login --api-url {config.api_url} < {key_file}")


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGINT/SIGTERM after its graceful shutdown, which would skip
    our own clean-up and exit by signal; a stop we asked for should exit 0."""

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
    bootstrap(platform, config)
    api = create_api(platform, rate_limit=config.rate_limit)
    server = _Server(
        uvicorn.Config(
            api,
            host=config.host,
            port=config.port,
            log_level=config.log_level,
            # Off by default: request lines can carry capability tokens in URLs.
            access_log=config.access_log,
            server_header=False,
        )
    )
    try:
        # uvicorn turns SIGINT/SIGTERM into a graceful shutdown: in-flight
        # requests finish (and commit) before the process exits.
        server.run()
    finally:
        platform.store.dispose()
        click.echo("Slipway stopped.")


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
@click.option("--router-port", default=8080, show_default=True, type=int)
@click.option("--git-port", default=5443, show_default=True, type=int)
@click.option(
    "--rate-limit",
    default=RATE_LIMIT_CAPACITY,
    show_default=True,
    type=click.IntRange(min=1),
    help="API requests per account before throttling (refills at 75/min).",
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
    git_port: int,
    rate_limit: int,
    log_level: str,
    access_log: bool,
) -> None:
    """Start the Slipway platform (API and store) with embedded defaults."""
    serve(
        ServerConfig(
            data_dir=data_dir or default_data_dir(),
            host=host,
            port=port,
            store_url=store_url,
            admin_email=admin_email,
            base_domain=base_domain,
            router_port=router_port,
            git_port=git_port,
            rate_limit=rate_limit,
            log_level=log_level,
            access_log=access_log,
        )
    )
