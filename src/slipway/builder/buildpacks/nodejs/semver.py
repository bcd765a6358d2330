"""npm-style semver ranges, enough for the engines.node forms people use.

`satisfies("20.11.1", ">=18 <21")`; ranges are OR-ed (`||`) sets of AND-ed comparators, with
npm's sugar (`^`, `~`, `1.x`, `1.2 - 2`) desugared, and npm's rule that a prerelease only
matches a range that names a prerelease of the same version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


def _identifier_key(part: str) -> tuple[int, int, str]:
    # Numeric identifiers sort before alphanumeric ones, numerically among themselves.
    return (0, int(part), "") if part.isdigit() else (1, 0, part)


@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()

    def key(self) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
        # A release sorts after all of its prereleases.
        pre = tuple(_identifier_key(p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, 0 if self.prerelease else 1, pre)

    def triple(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        return f"{text}-{'.'.join(self.prerelease)}" if self.prerelease else text


_VERSION_RE = re.compile(
    r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?$"
)
_PARTIAL_RE = re.compile(
    r"^v?(\d+|[xX*])(?:\.(\d+|[xX*])(?:\.(\d+|[xX*])"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?)?)?$"
)
_OPERATOR_RE = re.compile(r"^(<=|>=|<|>|=|\^|~>|~)?(.*)$")
_HYPHEN_RE = re.compile(r"^(\S+)\s+-\s+(\S+)$")

Comparator = tuple[str, Version]
ComparatorSet = list[Comparator]

_NOTHING: ComparatorSet = [("<", Version(0, 0, 0, ("0",)))]


def parse_version(text: str) -> Version:
    """Parse a full version such as `v20.20.2`; ValueError when it is not one."""
    match = _VERSION_RE.match(text.strip())
    if not match:
        raise ValueError(f"not a version: {text!r}")
    pre = tuple(match.group(4).split(".")) if match.group(4) else ()
    return Version(int(match.group(1)), int(match.group(2)), int(match.group(3)), pre)


@dataclass(frozen=True)
class _Partial:
    major: int | None
    minor: int | None
    patch: int | None
    prerelease: tuple[str, ...]

    def floor(self) -> Version:
        """The lowest version the partial covers (missing parts are zero)."""
        return Version(self.major or 0, self.minor or 0, self.patch or 0, self.prerelease)


def _parse_partial(text: str) -> _Partial:
    match = _PARTIAL_RE.match(text)
    if not match:
        raise ValueError(f"not a version: {text!r}")
    parts: list[int | None] = []
    wildcard = False
    for group in match.groups()[:3]:
        if group is not None and group.isdigit():
            if wildcard:  # npm rejects a number after a wildcard: *.1, 1.x.3
                raise ValueError(f"not a version: {text!r}")
            parts.append(int(group))
        else:
            wildcard = True
            parts.append(None)
    pre = tuple(match.group(4).split(".")) if match.group(4) and parts[2] is not None else ()
    return _Partial(parts[0], parts[1], parts[2], pre)


def _desugar(operator: str, p: _Partial) -> ComparatorSet:
    major, minor, patch = p.major, p.minor, p.patch
    if operator in ("", "="):
        if major is None:
            return []
        if minor is None:
            return [(">=", Version(major, 0, 0)), ("<", Version(major + 1, 0, 0))]
        if patch is None:
            return [(">=", Version(major, minor, 0)), ("<", Version(major, minor + 1, 0))]
        return [("=", p.floor())]
    if operator in ("~", "~>"):
        if major is None:
            return []
        if minor is None:
            return [(">=", Version(major, 0, 0)), ("<", Version(major + 1, 0, 0))]
        return [(">=", p.floor()), ("<", Version(major, minor + 1, 0))]
    if operator == "^":
        if major is None:
            return []
        if minor is None or major > 0:
            return [(">=", p.floor()), ("<", Version(major + 1, 0, 0))]
        if patch is None or minor > 0:
            return [(">=", p.floor()), ("<", Version(0, minor + 1, 0))]
        return [(">=", p.floor()), ("<", Version(0, 0, patch + 1))]
    if operator == ">=":
        return [] if major is None else [(">=", p.floor())]
    if operator == ">":
        if major is None:
            return list(_NOTHING)
        if minor is None:
            return [(">=", Version(major + 1, 0, 0))]
        if patch is None:
            return [(">=", Version(major, minor + 1, 0))]
        return [(">", p.floor())]
    if operator == "<":
        return list(_NOTHING) if major is None else [("<", p.floor())]
    if operator == "<=":
        if major is None:
            return []
        if minor is None:
            return [("<", Version(major + 1, 0, 0))]
        if patch is None:
            return [("<", Version(major, minor + 1, 0))]
        return [("<=", p.floor())]
    raise ValueError(f"unknown operator {operator!r}")  # pragma: no cover - regex prevents it


def _parse_hyphen(low: str, high: str) -> ComparatorSet:
    lower, upper = _parse_partial(low), _parse_partial(high)
    result: ComparatorSet = [] if lower.major is None else [(">=", lower.floor())]
    return result + _desugar("<=", upper)


def parse_range(text: str) -> list[ComparatorSet]:
    """Parse an npm range into OR-ed sets of AND-ed comparators; ValueError when unparseable."""
    alternatives: list[ComparatorSet] = []
    for alternative in re.split(r"\s*\|\|\s*", text.strip()):
        # npm allows whitespace between an operator and its version: ">= 18".
        alternative = re.sub(r"(<=|>=|<|>|=|\^|~>|~)\s+", r"\1", alternative.strip())
        hyphen = _HYPHEN_RE.match(alternative)
        if hyphen:
            alternatives.append(_parse_hyphen(hyphen.group(1), hyphen.group(2)))
            continue
        comparators: ComparatorSet = []
        for token in alternative.split():
            match = _OPERATOR_RE.match(token)
            assert match is not None  # the pattern matches any string
            operator, rest = match.group(1) or "", match.group(2)
            # "=v1.2.3" and ">=v18" are fine; a bare operator is not.
            comparators.extend(_desugar(operator, _parse_partial(rest)))
        alternatives.append(comparators)
    return alternatives


def _compare(version: Version, operator: str, bound: Version) -> bool:
    a, b = version.key(), bound.key()
    if operator == "<":
        return a < b
    if operator == "<=":
        return a <= b
    if operator == ">":
        return a > b
    if operator == ">=":
        return a >= b
    return a == b


def _set_allows(version: Version, comparators: ComparatorSet) -> bool:
    if not all(_compare(version, op, bound) for op, bound in comparators):
        return False
    if not version.prerelease:
        return True
    # npm: a prerelease only matches when a comparator names a prerelease of the same x.y.z.
    return any(bound.prerelease and bound.triple() == version.triple() for _, bound in comparators)


def satisfies(version: str | Version, range_text: str) -> bool:
    """True when `version` is in the npm range; ValueError when either does not parse."""
    parsed = version if isinstance(version, Version) else parse_version(version)
    return any(_set_allows(parsed, c) for c in parse_range(range_text))
