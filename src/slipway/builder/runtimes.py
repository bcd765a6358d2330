"""The runtimes the platform supplies to the built-in buildpacks, chosen outside the sandbox.

Before a built-in compiles, the runner asks here for what it will need, and hands it to
the build read-only:

- heroku/nodejs: the Node.js release engines.node asks for, resolved with npm's semver and
  fetched from the npm registry's binary packages once per version into
  `<data dir>/runtimes/node/` (shared by every app: the platform writes it, builds only read
  it, so one app's build cannot plant a Node.js for another). SLIPWAY_NODE_HOME names it.
- heroku/python: the interpreter .python-version, runtime.txt or Pipfile.lock asks for,
  among the machine's (system ones, and installations under the directories the operator
  lists, such as pyenv's or uv's), or one uv downloads when the operator allows it.
  SLIPWAY_PYTHON names it; an installation outside the system directories is bound in.

The buildpacks themselves copy what they are given into the slug. The resolution code is
the buildpacks' own (stdlib modules), so a build that is not given a runtime makes the same
choice itself.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from slipway.builder.buildpacks.common.output import BuildError as BuildpackFailure
from slipway.builder.buildpacks.nodejs import runtime as node_runtime
from slipway.builder.buildpacks.python import interpreters as python_interpreters
from slipway.builder.errors import CompileFailed
from slipway.options import option

log = logging.getLogger("slipway.builder.runtimes")
Emit = Callable[[str], None]
SYSTEM_PREFIXES = ("/usr/", "/bin/", "/opt/")
MAX_PACKAGE_JSON = 1024 * 1024


def _default_python_roots() -> str:
    home = Path.home()
    roots = [
        Path(os.environ.get("PYENV_ROOT", home / ".pyenv")) / "versions",
        Path(os.environ.get("UV_PYTHON_INSTALL_DIR", home / ".local/share/uv/python")),
    ]
    return os.pathsep.join(str(r) for r in roots if r.is_dir())


@dataclass
class RuntimeSources:
    """Where the platform finds the runtimes it puts into slugs."""

    python_roots: str = option(
        "",
        "--python-roots",
        "Directories (colon-separated) whose subdirectories are Python installations apps "
        "may ask for, besides the system's (pyenv's versions/, uv's managed Pythons).",
        default_text="pyenv's and uv's, when present",
        envvar="SLIPWAY_PYTHON_ROOTS",
    )
    python_downloads: bool = option(
        False,
        "--python-downloads",
        "Let uv download a Python build when an app asks for a version none of the "
        "installed ones is.",
        off="--no-python-downloads",
    )

    def roots(self) -> list[str]:
        text = self.python_roots or _default_python_roots()
        return [r for r in text.split(os.pathsep) if r]


@dataclass(frozen=True)
class SuppliedRuntime:
    """A runtime for a build: env_name names path; mount (holding path) is bound read-only."""

    env_name: str
    path: Path
    mount: Path | None = None
    inside: str = ""

    def path_inside(self) -> str:
        if self.mount is None:
            return str(self.path)
        return f"{self.inside}/{self.path.relative_to(self.mount).as_posix()}".rstrip("/")


class RuntimeSupplier:
    def __init__(self, root: Path, sources: RuntimeSources | None = None) -> None:
        self.root = root
        self.sources = sources or RuntimeSources()
        self._node_lock = threading.Lock()
        self._probes: dict[str, python_interpreters.Interpreter | None] = {}

    def supply(
        self, builtin: str, build_dir: Path, config: Mapping[str, str], emit: Emit
    ) -> list[SuppliedRuntime]:
        try:
            if builtin == "heroku/nodejs":
                return [self.node(build_dir, emit)]
            if builtin == "heroku/python":
                return [self.python(build_dir, emit)]
        except BuildpackFailure as exc:
            raise CompileFailed(str(exc)) from exc
        return []

    # -- Node.js ----------------------------------------------------------------

    def _npm_env(self) -> dict[str, str]:
        # The platform's own npm settings, never the app's: what lands in the shared cache
        # comes from the registry the operator configured.
        env = {k: v for k, v in os.environ.items() if not k.lower().startswith("npm_config_")}
        env["npm_config_cache"] = str(self.root / "npm-cache")
        env["npm_config_update_notifier"] = "false"
        return env

    def node(self, build_dir: Path, emit: Emit) -> SuppliedRuntime:
        package = _read_package_json(build_dir)
        env = self._npm_env()
        registry = node_runtime.Registry(env, self.root)
        wanted = _engines_node(package, emit)
        if wanted is None:
            host = subprocess.run(
                ["node", "--version"], capture_output=True, text=True, env=env, check=False
            ).stdout.strip()
            wanted = f"{host.lstrip('v').split('.')[0]}.x" if host else "*"
            emit(f"       engines.node is not set in package.json; using {wanted}")
        else:
            emit(f"       engines.node (package.json): {wanted}")
        arch = node_runtime.package_name()
        cache = self.root / "node"
        for directory in (self.root, cache):
            directory.mkdir(parents=True, exist_ok=True)
            directory.chmod(0o755)  # builds read it as the app's uid, whatever the umask
        with self._node_lock:  # one download of a version, whatever builds ask for it
            version = node_runtime.resolve(
                registry, arch, wanted, node_runtime.installed(cache, arch)
            )
            cached = version in node_runtime.installed(cache, arch)
            if not cached:
                emit(f"       Downloading Node.js {version} ({arch}) from the npm registry")
            runtime = node_runtime.fetch(registry, arch, version, cache)
        emit(
            f"       Resolved engines.node {wanted!r} to {version}"
            + (" (cached)" if cached else "")
        )
        return SuppliedRuntime("SLIPWAY_NODE_HOME", runtime.home, cache, "/runtimes/node")

    # -- Python -----------------------------------------------------------------

    def _probe(self, path: str) -> python_interpreters.Interpreter | None:
        try:
            stamp = os.stat(path)
        except OSError:
            return None
        key = f"{path}\0{stamp.st_mtime_ns}\0{stamp.st_size}"
        if key not in self._probes:
            self._probes[key] = python_interpreters.probe(path)
        return self._probes[key]

    def installed_pythons(self) -> list[python_interpreters.Interpreter]:
        dirs = list(python_interpreters.EXTRA_INTERPRETER_DIRS)
        roots = [*self.sources.roots(), str(self.root / "python")]
        dirs += python_interpreters.installation_dirs(roots)
        found: dict[str, python_interpreters.Interpreter] = {}
        for directory in dirs:
            for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
                if not python_interpreters.EXE_RE.fullmatch(name):
                    continue
                interpreter = self._probe(os.path.join(directory, name))
                if interpreter is not None:
                    found.setdefault(os.path.realpath(interpreter.path), interpreter)
        return list(found.values())

    def python(self, build_dir: Path, emit: Emit) -> SuppliedRuntime:
        request = python_interpreters.requested_version(build_dir)
        installed = self.installed_pythons()
        chosen, note = python_interpreters.choose(installed, request)
        if chosen is None and request is not None and self.sources.python_downloads:
            chosen = self._uv_install(request, emit)
        if chosen is None:
            raise python_interpreters.not_installed(request, installed)
        if note:
            emit(f"       {note}")
        exe = Path(chosen.path)
        if str(exe).startswith(SYSTEM_PREFIXES):
            return SuppliedRuntime(python_interpreters.SUPPLIED_ENV, exe)
        # Bound at its own path: the interpreter's RUNPATH names its libpython there.
        prefix = exe.parent.parent
        return SuppliedRuntime(python_interpreters.SUPPLIED_ENV, exe, prefix, str(prefix))

    def _uv_install(
        self, request: python_interpreters.Request, emit: Emit
    ) -> python_interpreters.Interpreter | None:
        uv = shutil.which("uv")
        if uv is None:
            emit("       Python downloads are allowed but uv is not installed; not downloading.")
            return None
        target = self.root / "python"
        emit(f"       Downloading Python {request.text} with uv")
        done = subprocess.run(
            [uv, "python", "install", request.text, "--install-dir", str(target)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            env={**os.environ, "UV_PYTHON_INSTALL_DIR": str(target)},
        )
        if done.returncode != 0:
            last = (done.stderr.strip() or done.stdout.strip()).splitlines()
            emit(f"       uv could not download Python {request.text}: {last[-1] if last else '?'}")
            return None
        chosen, _ = python_interpreters.choose(self.installed_pythons(), request)
        return chosen


def _read_package_json(build_dir: Path) -> dict[str, object]:
    path = build_dir / "package.json"
    try:
        if path.is_symlink() or path.stat().st_size > MAX_PACKAGE_JSON:
            return {}
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (OSError, ValueError):
        return {}  # the buildpack reports a broken package.json with its own sentence
    return data if isinstance(data, dict) else {}


def _engines_node(package: Mapping[str, object], emit: Emit) -> str | None:
    engines = package.get("engines")
    wanted = engines.get("node") if isinstance(engines, dict) else None
    if isinstance(wanted, str) and wanted.strip():
        return wanted.strip()
    if wanted is not None:
        emit(
            f"       Warning: engines.node must be a string, not {json.dumps(wanted)}; ignoring it."
        )
    return None
