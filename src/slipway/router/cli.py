"""`slipway router`: run the HTTP router as its own process.

The control plane token comes from $SLIPWAY_ROUTER_TOKEN only: a command line is
visible to every user of the machine in `ps`.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import click

from slipway.options import click_options, from_flags
from slipway.router.config import RouterConfig
from slipway.router.errors import ConfigError

TOKEN_ENV = "SLIPWAY_ROUTER_TOKEN"


@click.command("router")
@click_options(RouterConfig)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
def router_command(log_level: str, **flags: Any) -> None:
    """Run Slipway's HTTP router: routes requests by Host header to web dynos."""
    logging.basicConfig(
        level=log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    # httpx logs every control-plane call at INFO: five report posts a second.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        config = from_flags(RouterConfig, flags, token=os.environ.get(TOKEN_ENV) or None)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    from slipway.router.process import run_router  # uvloop and the rest only when serving

    sys.exit(run_router(config))
