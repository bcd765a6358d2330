"""Settings declared once: the click options derived from dataclass fields, and back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from slipway.options import click_options, from_flags, nested, option, option_factory


def _pair(text: str) -> tuple[str, int]:
    host, _, port = text.partition(":")
    if not port.isdigit():
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


@dataclass(frozen=True)
class Inner:
    idle_after: float = option(1800.0, "--idle-after", "Minutes idle.", scale=60, min=0.01)
    unflagged: int = 7


@dataclass(frozen=True)
class Outer:
    port: int = option(5000, "--port", "The port.", min=1, max=65535)
    name: str | None = option(None, "--name", "A name.", envvar="TEST_NAME")
    router: bool = option(True, "--router", off="--no-router")
    verbose: bool = option(False, "--verbose")
    where: tuple[str, int] = option(
        ("127.0.0.1", 80), "--where", parse=_pair, default_text="127.0.0.1:80"
    )
    extra: tuple[str, ...] = option((), "--extra")
    workers: int = option_factory(lambda: 3, "--workers", default_text="three")
    data: Path | None = option(None, "--data", dir_okay=False)
    inner: Inner = nested(Inner)


def _parse(*args: str, env: dict[str, str] | None = None) -> tuple[int, Any, str]:
    seen: list[Outer] = []

    @click.command()
    @click_options(Outer)
    def command(**flags: Any) -> None:
        seen.append(from_flags(Outer, flags))

    result = CliRunner().invoke(command, list(args), env=env)
    return result.exit_code, seen[0] if seen else None, result.output


def test_defaults_come_from_the_fields() -> None:
    code, parsed, _ = _parse()
    assert code == 0
    assert parsed == Outer()
    assert parsed.workers == 3
    assert parsed.inner.idle_after == 1800.0


def test_values_types_scale_and_nesting() -> None:
    code, parsed, output = _parse(
        "--port=8000",
        "--no-router",
        "--verbose",
        "--where=example.org:8443",
        "--extra=a",
        "--extra=b",
        "--workers=9",
        "--idle-after=0.5",
        "--data=/tmp/x",
    )
    assert code == 0, output
    assert parsed == Outer(
        port=8000,
        router=False,
        verbose=True,
        where=("example.org", 8443),
        extra=("a", "b"),
        workers=9,
        data=Path("/tmp/x"),
        inner=Inner(idle_after=30.0),
    )


def test_environment_variable() -> None:
    assert _parse(env={"TEST_NAME": "from-env"})[1].name == "from-env"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--port=0",), "1<=x<=65535"),
        (("--where=nowhere",), "expected HOST:PORT"),
        (("--idle-after=0",), "0.01"),
    ],
)
def test_bad_values_are_usage_errors(args: tuple[str, ...], needle: str) -> None:
    code, parsed, output = _parse(*args)
    assert code == 2
    assert parsed is None
    assert needle in output


def test_help_shows_each_default_once() -> None:
    @click.command()
    @click_options(Outer)
    def command(**flags: Any) -> None: ...

    text = CliRunner().invoke(command, ["--help"], terminal_width=200).output
    assert "[default: 5000; 1<=x<=65535]" in text
    assert "[default: 127.0.0.1:80]" in text
    assert "[default: (three)]" in text
    assert "[default: 30.0; x>=0.01]" in text
    assert text.index("--port") < text.index("--idle-after")
    assert "unflagged" not in text
