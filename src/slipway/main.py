"""The `slipway` program: the API client's commands plus `slipway server`.

The CLI (`cli/`) knows nothing of the server side; this module is where the
two meet, so `slipway server` is one more command of the same program.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from slipway.cli.main import cli


def _server() -> click.Command:
    # The server is the one command that is not an API client; import it lazily
    # so everyday commands do not load the whole platform.
    from slipway.server import server_command

    return server_command


class _LazyServer(click.Command):
    def __init__(self) -> None:
        super().__init__("server", help="Start the Slipway platform with embedded defaults.")

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        return _server().make_context(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        return _server().invoke(ctx)

    def get_help(self, ctx: click.Context) -> str:
        return _server().get_help(ctx)


cli.add_command(_LazyServer())

__all__ = ["cli", "main"]


def main() -> None:
    try:
        cli.main(prog_name="slipway")
    except KeyboardInterrupt:
        sys.exit(130)
