"""Settings declared once: each option is a dataclass field that carries its flag.

An options dataclass (the runtime's `RuntimeOptions`, the router's
`RouterConfig`, the server's `ServerConfig` ...) declares every setting once:
its type (the annotation), its default, and in the field's metadata its
command-line flag, help, environment variable and bounds. `click_options`
derives the click options from those fields, descending into nested option
dataclasses, and `from_flags` builds the dataclass back from the parsed values.
A new setting is one field, not an option block, a parameter, a config field
and a constructor argument kept in step by hand.

Declaring a field needs only this module's `option`/`nested` (plain data);
click is imported when a command is built from the declarations.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

if typing.TYPE_CHECKING:
    import click

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

_FLAG = "slipway.flag"
_NESTED = "slipway.nested"


@dataclass(frozen=True)
class Flag:
    """How one field appears on the command line."""

    name: str  # "--boot-timeout"
    help: str = ""
    envvar: str | None = None
    # The flag's unit in the field's: `--idle-after` counts minutes, the field seconds (60).
    scale: float = 1.0
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    hidden: bool = False
    # Booleans: the switch that turns it off ("--no-router").
    off: str | None = None
    # Paths: whether it must exist, and what it may be.
    exists: bool = False
    file_okay: bool = True
    dir_okay: bool = True
    # Shown in --help instead of the default (a computed default, or a parsed one).
    default_text: str | None = None
    # Text on the command line -> the field's value (`HOST:PORT` -> (host, port)); it
    # raises ValueError with one sentence for bad input.
    parse: Callable[[str], Any] | None = None
    metavar: str | None = None


def option(default: Any, flag: str, help: str = "", **kwargs: Any) -> Any:
    """A field with a fixed default and its command-line flag."""
    return field(default=default, metadata={_FLAG: Flag(flag, help, **kwargs)})


def option_factory(factory: Callable[[], Any], flag: str, help: str = "", **kwargs: Any) -> Any:
    """A field whose default is computed (the data dir, one worker per core)."""
    return field(default_factory=factory, metadata={_FLAG: Flag(flag, help, **kwargs)})


def nested(cls: Callable[[], Any]) -> Any:
    """A field holding another options dataclass whose flags belong to the same command."""
    return field(default_factory=cls, metadata={_NESTED: True})


@dataclass(frozen=True)
class _Declared:
    dest: str  # click's parameter name, unique across nesting: "runtime__boot_timeout"
    field: dataclasses.Field[Any]
    flag: Flag
    kind: Any  # the field's type, without `| None`
    optional: bool


def _unoptional(hint: Any) -> tuple[Any, bool]:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0], len(args) < len(typing.get_args(hint))
    return hint, False


def _declared(cls: type[Any], prefix: str = "") -> Iterator[_Declared]:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.metadata.get(_NESTED):
            yield from _declared(hints[f.name], f"{prefix}{f.name}__")
        elif _FLAG in f.metadata:
            kind, optional = _unoptional(hints[f.name])
            yield _Declared(f"{prefix}{f.name}", f, f.metadata[_FLAG], kind, optional)


def _default(d: _Declared) -> Any:
    if d.field.default is not dataclasses.MISSING:
        value = d.field.default
        if isinstance(value, (int, float)) and not isinstance(value, bool) and d.flag.scale != 1:
            return value / d.flag.scale
        return value
    return None  # computed: None on the command line, the factory's value in the dataclass


def _parsed(parse: Callable[[str], Any], metavar: str) -> click.ParamType[Any]:
    import click

    class Parsed(click.ParamType[Any]):
        name = metavar

        def convert(
            self, value: Any, param: click.Parameter | None, ctx: click.Context | None
        ) -> Any:
            if not isinstance(value, str):
                return value  # a default, already the field's type
            try:
                return parse(value)
            except ValueError as exc:
                self.fail(str(exc), param, ctx)

    return Parsed()


def _click_type(d: _Declared) -> Any:
    import click

    flag = d.flag
    if flag.parse is not None:
        return _parsed(flag.parse, flag.metavar or "TEXT")
    if d.kind is int and (flag.min is not None or flag.max is not None):
        return click.IntRange(
            min=None if flag.min is None else int(flag.min),
            max=None if flag.max is None else int(flag.max),
        )
    if d.kind is float and (flag.min is not None or flag.max is not None):
        return click.FloatRange(min=flag.min, max=flag.max)
    if d.kind is str and flag.choices:
        return click.Choice(list(flag.choices))
    if d.kind is Path:
        return click.Path(
            path_type=Path, exists=flag.exists, file_okay=flag.file_okay, dir_okay=flag.dir_okay
        )
    if typing.get_origin(d.kind) is tuple and flag.parse is None:
        return typing.get_args(d.kind)[0]
    return d.kind


def _option(d: _Declared) -> Callable[[F], F]:
    import click

    flag = d.flag
    # A parsed option's default is its text, parsed like anything typed.
    default = flag.default_text if flag.parse and flag.default_text else _default(d)
    is_bool = d.kind is bool
    decls = [f"{flag.name}/{flag.off}" if flag.off else flag.name, d.dest]
    multiple = typing.get_origin(d.kind) is tuple and flag.parse is None
    shown: bool | str = default is not None and default != ()
    if flag.default_text and not flag.parse:
        shown = flag.default_text
    return click.option(
        *decls,
        type=None if is_bool else _click_type(d),
        default=default,
        show_default=shown,
        help=flag.help or None,
        envvar=flag.envvar,
        hidden=flag.hidden,
        is_flag=is_bool,
        multiple=multiple,
    )


def click_options(cls: type[Any]) -> Callable[[F], F]:
    """A decorator adding one click option per declared field of `cls` (and its nested)."""
    declared = list(_declared(cls))

    def decorate(fn: F) -> F:
        # click collects options bottom-up: apply in reverse to keep the declared order.
        for d in reversed(declared):
            fn = _option(d)(fn)
        return fn

    return decorate


def from_flags(cls: type[T], values: Mapping[str, Any], **given: Any) -> T:
    """Build `cls` from parsed click values; `given` overrides fields (and nested ones)."""
    return _build(cls, values, "", given)


def _build(cls: type[T], values: Mapping[str, Any], prefix: str, given: Mapping[str, Any]) -> T:
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in given and not f.metadata.get(_NESTED):
            kwargs[f.name] = given[f.name]
        elif f.metadata.get(_NESTED):
            inner = given.get(f.name, {})
            kwargs[f.name] = _build(hints[f.name], values, f"{prefix}{f.name}__", inner)
        elif _FLAG in f.metadata:
            value = values.get(f"{prefix}{f.name}")
            if value is None:
                continue  # the dataclass's own default (or factory) applies
            scale = f.metadata[_FLAG].scale
            if scale != 1 and isinstance(value, (int, float)) and not isinstance(value, bool):
                value = value * scale
            kwargs[f.name] = value
    return cls(**kwargs)
