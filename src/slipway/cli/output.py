"""Printing: rich on a terminal, plain text when piped, JSON on --json."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

# Piped output is for scripts and grep: never wrapped or truncated to 80 columns.
_PIPE_WIDTH = 1000
console = Console(
    highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else _PIPE_WIDTH
)
err_console = Console(
    stderr=True, highlight=False, soft_wrap=True, width=None if sys.stderr.isatty() else _PIPE_WIDTH
)

HEXAGON = "\u2b22"


def print_json(data: Any) -> None:
    # Plain print: JSON must not be re-wrapped or coloured.
    print(json.dumps(data, indent=2, sort_keys=True))


def header(text: str) -> None:
    console.print(f"[bold]=== {text}[/bold]", markup=True)


def line(text: str = "") -> None:
    console.print(text, markup=False)


def key_values(pairs: list[tuple[str, str]]) -> None:
    width = max((len(k) for k, _ in pairs), default=0) + 1
    for key, value in pairs:
        console.print(f"{(key + ':').ljust(width)} {value}", markup=False)


def table(columns: list[str], rows: list[list[str]]) -> None:
    t = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*r)
    console.print(t)


def when(text: str | None) -> str:
    """Heroku's `2024/05/16 10:29:29 +0000` from an ISO timestamp."""
    if not text:
        return ""
    stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return stamp.strftime("%Y/%m/%d %H:%M:%S %z")


def action(text: str) -> None:
    err_console.print(f"{text}...", end=" ", markup=False)


def done(suffix: str = "") -> None:
    err_console.print(f"done{suffix}", markup=False)
