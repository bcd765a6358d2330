"""What the official CLI printed, as one line: it wraps messages to the terminal's width."""

from __future__ import annotations


def flat(text: str) -> str:
    """Join the CLI's wrapped lines (each continuation starts with its U+203A margin)."""
    return " ".join(text.replace("›", " ").split())
