"""`slipway router`: run the HTTP router as its own process.

The control plane token comes from $SLIPWAY_ROUTER_TOKEN only: a command line is
visible to every user of the machine in `ps`.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click

from slipway.router.config import Address, RouterConfig, parse_address
from slipway.router.errors import ConfigError

TOKEN_ENV = "SLIPWAY_ROUTER_TOKEN"


def _address(ctx: click.Context, param: click.Parameter, value: str) -> Address:
    try:
        return parse_address(value)
    except ConfigError as exc:
        raise click.BadParameter(str(exc)) from None


_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command("router")
@click.option(
    "--listen",
    default="127.0.0.1:8080",
    show_default=True,
    callback=_address,
    help="HTTP listener, HOST:PORT.",
)
@click.option(
    "--tls-listen",
    default="127.0.0.1:8443",
    show_default=True,
    callback=_address,
    help="HTTPS listener, HOST:PORT (opened when --tls-cert and --tls-key are given).",
)
@click.option("--tls-cert", type=_FILE, default=None, help="PEM certificate chain.")
@click.option("--tls-key", type=_FILE, default=None, help="PEM private key.")
@click.option("--tls-ca-cert", type=_FILE, default=None, help="CA to mint per-host certificates.")
@click.option("--tls-ca-key", type=_FILE, default=None, help="That CA's private key.")
@click.option(
    "--control-url",
    default=None,
    help="The control plane's base URL (token in $SLIPWAY_ROUTER_TOKEN).",
)
@click.option(
    "--static-table",
    type=_FILE,
    default=None,
    help="Serve a fixed route table from a JSON file instead (SIGHUP rereads it).",
)
@click.option(
    "--connect-timeout",
    type=float,
    default=5.0,
    show_default=True,
    help="Seconds to connect to a dyno (H19).",
)
@click.option(
    "--request-timeout",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds to the first response byte (H12).",
)
@click.option(
    "--idle-timeout",
    type=float,
    default=55.0,
    show_default=True,
    help="Rolling idle seconds (H15/H28).",
)
@click.option(
    "--boot-timeout",
    type=float,
    default=75.0,
    show_default=True,
    help="Seconds a request waits for a booting dyno (H20).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1, max=64),
    default=1,
    show_default=True,
    help="Router processes sharing the ports (one per core is a good start).",
)
@click.option(
    "--shutdown-timeout",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds in-flight requests get after SIGTERM.",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
def router_command(
    listen: Address,
    tls_listen: Address,
    tls_cert: Path | None,
    tls_key: Path | None,
    tls_ca_cert: Path | None,
    tls_ca_key: Path | None,
    control_url: str | None,
    static_table: Path | None,
    connect_timeout: float,
    request_timeout: float,
    idle_timeout: float,
    boot_timeout: float,
    shutdown_timeout: float,
    workers: int,
    log_level: str,
) -> None:
    """Run Slipway's HTTP router: routes requests by Host header to web dynos."""
    logging.basicConfig(
        level=log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    # httpx logs every control-plane call at INFO: five report posts a second.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        config = RouterConfig(
            listen=listen,
            tls_listen=tls_listen,
            tls_cert=tls_cert,
            tls_key=tls_key,
            tls_ca_cert=tls_ca_cert,
            tls_ca_key=tls_ca_key,
            control_url=control_url,
            token=os.environ.get(TOKEN_ENV) or None,
            static_table=static_table,
            connect_timeout=connect_timeout,
            request_timeout=request_timeout,
            idle_timeout=idle_timeout,
            boot_timeout=boot_timeout,
            shutdown_timeout=shutdown_timeout,
            workers=workers,
        )
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    from slipway.router.process import run_router  # uvloop and the rest only when serving

    sys.exit(run_router(config))
