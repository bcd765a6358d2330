"""What every command shares: the CliContext on click's context object, and common options."""

from __future__ import annotations

import click

from slipway.cli.context import CliContext

app_option = click.option("--app", "-a", "app", default=None, help="App to run the command on.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


def cli_context() -> CliContext:
    ctx = click.get_current_context()
    obj = ctx.find_object(CliContext)
    if obj is None:
        obj = CliContext.from_env(None)
        ctx.obj = obj
    return obj
