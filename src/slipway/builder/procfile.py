"""Procfile parsing by Heroku's rules (pure)."""

from __future__ import annotations

import re

from slipway.builder.errors import ProcfileError

PROCESS_TYPE_RE = re.compile(r"^[-\w]{1,128}$", re.ASCII)
_LINE_RE = re.compile(r"^([^:\s][^:]*?)\s*:\s*(.*)$")


def parse_procfile(text: str) -> dict[str, str]:
    """`web: gunicorn app:app` lines -> {"web": "gunicorn app:app"}; comments and blanks skipped."""
    types: dict[str, str] = {}
    # Windows editors (Notepad) start UTF-8 files with a byte order mark.
    text = text.removeprefix("\ufeff")
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE_RE.match(line)
        if not match:
            raise ProcfileError(
                f"Procfile line {number} is invalid: {raw.strip()!r}; use 'type: command'."
            )
        name, command = match[1].strip(), match[2].strip()
        if not PROCESS_TYPE_RE.match(name):
            raise ProcfileError(
                f"Procfile line {number} has an invalid process type {name!r}: use letters, "
                "digits, '_' and '-' (at most 128 characters)."
            )
        if not command:
            raise ProcfileError(f"Procfile line {number} gives {name!r} no command.")
        types[name] = command
    return types
