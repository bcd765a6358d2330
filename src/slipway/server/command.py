"""`slipway server`: the command line, derived from the settings declared in ServerConfig."""

from __future__ import annotations

from typing import Any

import click

from slipway.options import click_options, from_flags
from slipway.server.compose import serve
from slipway.server.config import ServerConfig


@click.command("server")
@click_options(ServerConfig)
def server_command(**flags: Any) -> None:
    """Start the Slipway platform (API and store) with embedded defaults."""
    config = from_flags(ServerConfig, flags)
    if (config.tls_cert is None) != (config.tls_key is None):
        raise click.UsageError("Pass --tls-cert and --tls-key together.")
    serve(config)
