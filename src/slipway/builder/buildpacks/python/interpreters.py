"""Which Python builds the app: .python-version or runtime.txt asks, the machine decides.

Every python3.N on the machine is a candidate (Slipway has no interpreters of its own to
download); a request for 3.N picks the newest 3.N installed, preferring the exact patch.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..common.output import BuildError
from .environment import ask, base_env, read_text

EXTRA_INTERPRETER_DIRS = ("/usr/bin", "/usr/local/bin")
# `_base_executable` is the interpreter a virtualenv was made from, so a python3.N found inside
# some venv on PATH still names the real interpreter (and pyenv shims resolve to real paths).
PROBE = (
    "import sys;print('%d.%d.%d' % sys.version_info[:3]);"
    "print(getattr(sys, '_base_executable', '') or sys.executable)"
)
VERSION_RE = re.compile(r"(?:python-?)?(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class Interpreter:
    path: str
    version: tuple[int, int, int]

    @property
    def version_text(self) -> str:
        return ".".join(str(part) for part in self.version)


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


def discover_interpreters() -> list[Interpreter]:
    """Every python3.N in the directories of $PATH, /usr/bin and /usr/local/bin, once each."""
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if os.path.isabs(d)]
    dirs += EXTRA_INTERPRETER_DIRS
    seen_files: set[str] = set()
    seen_exes: set[str] = set()
    found: list[Interpreter] = []
    for directory in dirs:
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for name in names:
            if not re.fullmatch(r"python3\.\d+", name):
                continue
            path = os.path.join(directory, name)
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


def requested_version(build_dir: Path) -> Request | None:
    """The version asked by .python-version (first) or runtime.txt, if any."""
    for name in (".python-version", "runtime.txt"):
        path = build_dir / name
        if not path.is_file():
            continue
        wanted = ""
        for line in read_text(path).splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                wanted = line
                break
        if not wanted:
            continue
        match = VERSION_RE.fullmatch(wanted)
        if match is None:
            raise BuildError(
                f"{name} asks for {wanted!r}, which is not a Python version; "
                "write a version such as 3.11 in it."
            )
        major, minor, patch = match.groups()
        return Request(int(major), int(minor), None if patch is None else int(patch), name)
    return None


def choose_interpreter(build_dir: Path) -> tuple[Interpreter, str | None]:
    """The interpreter to build with, and a note to print when it differs from the request."""
    installed = discover_interpreters()
    if not installed:
        raise BuildError(
            "No Python 3 interpreter (python3.N) was found on this machine; "
            "install one (e.g. apt-get install python3) and build again."
        )
    newest_first = sorted(installed, key=lambda i: i.version, reverse=True)
    request = requested_version(build_dir)
    if request is None:
        return newest_first[0], None
    same_minor = [i for i in newest_first if i.version[:2] == (request.major, request.minor)]
    if not same_minor:
        versions = ", ".join(dict.fromkeys(i.version_text for i in newest_first))
        raise BuildError(
            f"Python {request.text} is not installed on this machine; installed: {versions}. "
            "Set .python-version to one of those."
        )
    exact = [i for i in same_minor if i.version[2] == request.patch]
    chosen = (exact or same_minor)[0]
    note = None
    if request.patch is not None and not exact:
        note = (
            f"{request.source} asks for Python {request.text}; "
            f"using the installed {chosen.version_text} instead."
        )
    return chosen, note
