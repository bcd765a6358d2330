"""`slipway server`: the command line, derived from the settings declared in ServerConfig."""

from __future__ import annotations

from typing import Any

import click

from slipway.options import click_options, from_flags
from slipway.runtime.manager import RuntimeOptions
from slipway.server.compose import serve
from slipway.server.config import ServerConfig


@click.command("server")
@click_options(ServerConfig)
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
@click.option("--eco-report-interval", default=60.0, hidden=True, type=click.FloatRange(min=0.1))
def server_command(
    boot_timeout: float,
    stop_timeout: float,
    restart_backoff: float,
    restart_backoff_cap: float,
    dyno_cycle_hours: float,
    release_timeout: float,
    idle_after: float,
    eco_report_interval: float,
    **flags: Any,
) -> None:
    """Start the Slipway platform (API and store) with embedded defaults."""
    config = from_flags(
        ServerConfig,
        flags,
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
    )
    if (config.tls_cert is None) != (config.tls_key is None):
        raise click.UsageError("Pass --tls-cert and --tls-key together.")
    serve(config)
