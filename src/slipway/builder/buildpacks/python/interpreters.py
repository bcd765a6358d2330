"""Which Python runs the app: .python-version, runtime.txt or Pipfile.lock asks, the machine has.

The candidates are the interpreters the platform has: every python3.N on PATH, in /usr/bin
and /usr/local/bin, and each installation (a prefix holding bin/python3.N) under the
directories the operator lists, such as pyenv's `versions/` or uv's managed Pythons. A
request for 3.N picks the newest 3.N, preferring the exact patch; without one the newest
wins. The platform makes the choice outside the sandbox and names it in SLIPWAY_PYTHON
(slipway.builder.runtimes); a build without that chooses among what it can see.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..common.output import BuildError
from .environment import ask, base_env, read_text

EXTRA_INTERPRETER_DIRS = ("/usr/bin", "/usr/local/bin")
SUPPLIED_ENV = "SLIPWAY_PYTHON"
# `_base_executable` is the interpreter a virtualenv was made from, so a python3.N found inside
# some venv on PATH still names the real interpreter (and pyenv shims resolve to real paths).
PROBE = (
    "import sys;print('%d.%d.%d' % sys.version_info[:3]);"
    "print(getattr(sys, '_base_executable', '') or sys.executable)"
)
VERSION_RE = re.compile(r"(?:python-?)?(\d+)\.(\d+)(?:\.(\d+))?")
EXE_RE = re.compile(r"python3\.\d+")


@dataclass(frozen=True)
class Interpreter:
    path: str
    version: tuple[int, int, int]

    @property
    def version_text(self) -> str:
        return ".".join(str(part) for part in self.version)

    @property
    def short(self) -> str:
        return f"{self.version[0]}.{self.version[1]}"


@dataclass(frozen=True)
class Request:
    major: int
    minor: int
    patch: int | None
    source: str

    @property
    def text(self) -> str:
        base = f"{self.major}.{self.minor}"
        return base if self.patch is None else f"{base}.{self.patch}"


def probe(path: str) -> Interpreter | None:
    # cwd=/ so that a pyenv shim does not read the app's .python-version; -I ignores PYTHON*.
    code, out = ask([path, "-I", "-c", PROBE], cwd="/", env=base_env(), timeout=30)
    lines = out.strip().splitlines()
    if code != 0 or len(lines) < 2:
        return None
    match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", lines[-2].strip())
    if match is None:
        return None
    reported = lines[-1].strip()
    exe = reported if reported and os.access(reported, os.X_OK) else path
    major, minor, patch = (int(part) for part in match.groups())
    return Interpreter(exe, (major, minor, patch))


def _executables(directory: str) -> list[str]:
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    return [os.path.join(directory, n) for n in names if EXE_RE.fullmatch(n)]


def installation_dirs(roots: Iterable[str]) -> list[str]:
    """bin/ of every installation (a prefix with bin/python3.N) directly under each root."""
    found: list[str] = []
    for root in roots:
        try:
            entries = sorted(os.listdir(root))
        except OSError:
            continue
        for entry in entries:
            bin_dir = os.path.join(root, entry, "bin")
            if _executables(bin_dir):
                found.append(bin_dir)
    return found


def discover_interpreters(roots: Sequence[str] = ()) -> list[Interpreter]:
    """Every python3.N on $PATH, in /usr/bin and /usr/local/bin, and under roots, once each."""
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if os.path.isabs(d)]
    dirs += EXTRA_INTERPRETER_DIRS
    dirs += installation_dirs(roots)
    seen_files: set[str] = set()
    seen_exes: set[str] = set()
    found: list[Interpreter] = []
    for directory in dirs:
        for path in _executables(directory):
            real = os.path.realpath(path)
            if real in seen_files or not os.path.isfile(path) or not os.access(path, os.X_OK):
                continue
            seen_files.add(real)
            interpreter = probe(path)
            if interpreter is None:
                continue
            real_exe = os.path.realpath(interpreter.path)
            if real_exe in seen_exes:
                continue
            seen_exes.add(real_exe)
            found.append(interpreter)
    return found


def _parse_request(wanted: str, source: str) -> Request:
    match = VERSION_RE.fullmatch(wanted)
    if match is None:
        raise BuildError(
            f"{source} asks for {wanted!r}, which is not a Python version; "
            "write a version such as 3.12 in it."
        )
    major, minor, patch = match.groups()
    return Request(int(major), int(minor), None if patch is None else int(patch), source)


def _pipfile_request(build_dir: Path) -> Request | None:
    path = build_dir / "Pipfile.lock"
    if not path.is_file():
        return None
    try:
        lock = json.loads(read_text(path))
    except ValueError:
        return None  # the install step reports a broken Pipfile.lock
    requires = lock.get("_meta", {}).get("requires", {}) if isinstance(lock, dict) else {}
    if not isinstance(requires, dict):
        return None
    for key in ("python_full_version", "python_version"):
        value = requires.get(key)
        if isinstance(value, str) and value.strip():
            return _parse_request(value.strip(), "Pipfile.lock")
    return None


def requested_version(build_dir: Path) -> Request | None:
    """The version asked by .python-version, runtime.txt or Pipfile.lock (in that order)."""
    for name in (".python-version", "runtime.txt"):
        path = build_dir / name
        if not path.is_file() or path.is_symlink():
            continue
        wanted = ""
        for line in read_text(path).splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                wanted = line
                break
        if wanted:
            return _parse_request(wanted, name)
    return _pipfile_request(build_dir)


def system_default() -> str | None:
    """The stack's own python3 (/usr/bin/python3 on Debian), which an app that asks for no
    version gets, as Heroku gives such an app its default version."""
    for directory in EXTRA_INTERPRETER_DIRS:
        path = os.path.join(directory, "python3")
        if os.access(path, os.X_OK):
            return os.path.realpath(path)
    return None


def choose(
    installed: Sequence[Interpreter], request: Request | None
) -> tuple[Interpreter | None, str | None]:
    """The interpreter for the request (None when no installed one fits), and a note to print
    when the patch differs from the one asked for."""
    newest_first = sorted(installed, key=lambda i: i.version, reverse=True)
    if request is None:
        default = system_default()
        for interpreter in newest_first:
            if os.path.realpath(interpreter.path) == default:
                return interpreter, None
        return (newest_first[0] if newest_first else None), None
    same_minor = [i for i in newest_first if i.version[:2] == (request.major, request.minor)]
    if not same_minor:
        return None, None
    exact = [i for i in same_minor if i.version[2] == request.patch]
    chosen = (exact or same_minor)[0]
    note = None
    if request.patch is not None and not exact:
        note = (
            f"{request.source} asks for Python {request.text}; "
            f"using the installed {chosen.version_text} instead."
        )
    return chosen, note


def not_installed(request: Request | None, installed: Sequence[Interpreter]) -> BuildError:
    if not installed:
        return BuildError(
            "No Python 3 interpreter (python3.N) was found on this machine; "
            "install one (e.g. apt-get install python3) and build again."
        )
    newest_first = sorted(installed, key=lambda i: i.version, reverse=True)
    versions = ", ".join(dict.fromkeys(i.version_text for i in newest_first))
    assert request is not None
    return BuildError(
        f"Python {request.text} is not installed on this machine; installed: {versions}. "
        f"Set {request.source} to one of those."
    )


def choose_interpreter(build_dir: Path) -> tuple[Interpreter, str | None]:
    """The interpreter to build with: the platform's choice, or the best one in sight."""
    supplied = os.environ.get(SUPPLIED_ENV)
    if supplied:
        interpreter = probe(supplied)
        if interpreter is None:
            raise BuildError(f"{SUPPLIED_ENV} names {supplied}, which does not run (a bug).")
        return interpreter, None
    installed = discover_interpreters()
    request = requested_version(build_dir)
    chosen, note = choose(installed, request)
    if chosen is None:
        raise not_installed(request, installed)
    return chosen, note
