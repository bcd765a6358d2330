"""`python -m slipway.router`: the router without the rest of the `slipway` CLI."""

from slipway.router.cli import router_command

router_command(prog_name="slipway router")
