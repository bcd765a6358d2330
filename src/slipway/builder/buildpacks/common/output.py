"""What a buildpack prints, Heroku style, and the failure that ends its output.

Lines are flushed one by one: the pusher sees each step as it happens.
"""

from __future__ import annotations

INDENT = " " * 7


class BuildError(Exception):
    """A failure reported as the build's last ` !     ` line: what went wrong, what to do."""


def header(text: str) -> None:
    print(f"-----> {text}", flush=True)


def detail(text: str) -> None:
    """Each line of text, indented under the last header (blank lines stay empty)."""
    for line in text.splitlines() or [""]:
        line = line.rstrip()
        print(f"{INDENT}{line}" if line else "", flush=True)


def error(text: str) -> None:
    print(f" !     {text}", flush=True)
