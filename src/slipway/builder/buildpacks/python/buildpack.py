"""The built-in heroku/python buildpack: bin/detect, bin/compile and bin/release (API v2).

This module runs inside the build sandbox with the machine's /usr/bin/python3, where neither
the slipway package nor its dependencies can be imported: it uses the standard library only.

    buildpack.py detect  BUILD_DIR
    buildpack.py compile BUILD_DIR CACHE_DIR ENV_DIR
    buildpack.py release BUILD_DIR

Layout produced by compile:

    BUILD_DIR/.heroku/python      a virtualenv holding the app's dependencies; it is relocatable
                                  (see fix_scripts) because the slug runs at /app
    BUILD_DIR/.profile.d/python.sh  puts that virtualenv first on PATH when a dyno starts
    <buildpack>/export            puts it first on PATH for later buildpacks of the same build
    CACHE_DIR/python/venv, key    a copy of the virtualenv and the hash of what it was built
                                  from; an unchanged app reuses it and runs no pip at all
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

INDENT = " " * 7
VENV_REL = Path(".heroku") / "python"
APP_HOME = "/app"
BUILDPACK_DIR = Path(__file__).absolute().parent
CACHE_FORMAT = "slipway-python-cache 1"

DETECT_FILES = (
    "requirements.txt",
    "Pipfile",
    "Pipfile.lock",
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "uv.lock",
    "poetry.lock",
    "runtime.txt",
    ".python-version",
)
# Config vars that would break the build's own interpreters if they reached pip or Django.
DENIED_CONFIG_VARS = frozenset(
    {"PATH", "PYTHONHOME", "PYTHONPATH", "LD_PRELOAD", "LD_LIBRARY_PATH"}
)
EXTRA_INTERPRETER_DIRS = ("/usr/bin", "/usr/local/bin")
# `_base_executable` is the interpreter a virtualenv was made from, so a python3.N found inside
# some venv on PATH still names the real interpreter (and pyenv shims resolve to real paths).
PROBE = (
    "import sys;print('%d.%d.%d' % sys.version_info[:3]);"
    "print(getattr(sys, '_base_executable', '') or sys.executable)"
)
VERSION_RE = re.compile(r"(?:python-?)?(\d+)\.(\d+)(?:\.(\d+))?")
SCRIPT_MARKER = b".heroku/python/bin/python"
RELOCATED_SHEBANG = b"#!/usr/bin/env python3"
PIP_MIN_FOR_PYTHON_OPTION = (22, 3)
COLLECTSTATIC = "$ python manage.py collectstatic --noinput"
# Directories that are not the app's own source (VCS data, what builds and other buildpacks
# generate) and are left out when hashing the tree.
TREE_SKIP_DIRS = frozenset(
    {".git", ".hg", ".heroku", ".profile.d", "__pycache__", ".venv", "node_modules"}
)


class BuildError(Exception):
    """A failure reported as the build's last ` !     ` line: what went wrong, what to do."""


# --------------------------------------------------------------------------------------------
# Output, Heroku style


def header(text: str) -> None:
    print(f"-----> {text}", flush=True)


def detail(text: str) -> None:
    for line in text.splitlines() or [""]:
        print(f"{INDENT}{line}", flush=True)


def error(text: str) -> None:
    print(f" !     {text}", flush=True)


# --------------------------------------------------------------------------------------------
# Subprocesses


def base_env(config: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment, plus the app's config vars, minus what breaks interpreters."""
    env = dict(os.environ)
    if config:
        env.update(config)
    for name in ("PYTHONHOME", "PYTHONPATH"):
        env.pop(name, None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def stream(cmd: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> int:
    """Run cmd, copying its stdout and stderr line by line, indented, as they come."""
    try:
        proc = subprocess.Popen(
            list(cmd),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
    except OSError as exc:
        detail(f"could not run {cmd[0]}: {exc}")
        return 127
    assert proc.stdout is not None
    with proc.stdout:
        for raw in proc.stdout:
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            # Progress output redraws with \r: keep only what the last redraw says.
            detail(text.rsplit("\r", 1)[-1])
    return proc.wait()


def capture(
    cmd: Sequence[str], *, cwd: Path | str, env: Mapping[str, str], timeout: float | None = None
) -> tuple[int, str]:
    """Run cmd quietly; return its exit status and combined output (127 if it cannot start)."""
    try:
        done = subprocess.run(
            list(cmd),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return 127, str(exc)
    return done.returncode, done.stdout.decode("utf-8", "replace")


# --------------------------------------------------------------------------------------------
# Interpreters


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
    code, out = capture([path, "-I", "-c", PROBE], cwd="/", env=base_env(), timeout=30)
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


# --------------------------------------------------------------------------------------------
# What to install, and the cache key that covers it


@dataclass
class Plan:
    kind: str  # "requirements", "pipfile", "uv", "project" or "none"
    tool: str  # "pip" or "uv"
    key_files: list[Path] = field(default_factory=list)
    hash_tree: bool = False  # the install copies app code into the venv: key on the whole tree


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise BuildError(f"Could not read {path.name} ({exc.strerror}); check the file.") from exc


LOCAL_REQUIREMENT_RE = re.compile(r"(?:^|\s|@)\s*(?:\.\.?(?:/|$|\[)|/|file:)")


def scan_requirements(path: Path, seen: set[Path]) -> bool:
    """Add path and the files it includes (-r, -c) to seen; True if it installs local code."""
    real = path.resolve()
    if real in seen or not path.is_file():
        return False
    seen.add(real)
    local = False
    for raw in read_text(path).splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not line:
            continue
        include = re.match(
            r"(?:-r|-c|--requirement|--constraint)(?:\s*=\s*|\s+|(?=[^\s-]))(\S+)", line
        )
        if include:
            target = path.parent / include.group(1)
            local |= scan_requirements(target, seen)
            continue
        if line.startswith(("-e", "--editable")):
            target_text = re.sub(r"^(?:-e|--editable)\s*=?\s*", "", line)
            if "://" not in target_text or target_text.startswith("file:"):
                local = True
            continue
        if LOCAL_REQUIREMENT_RE.search(line):
            local = True
    return local


def pyproject_is_package(build_dir: Path) -> bool:
    path = build_dir / "pyproject.toml"
    if not path.is_file():
        return False
    try:
        data = tomllib.loads(read_text(path))
    except tomllib.TOMLDecodeError as exc:
        raise BuildError(f"pyproject.toml is not valid TOML ({exc}); fix it.") from exc
    tool = data.get("tool")
    uv = tool.get("uv") if isinstance(tool, dict) else None
    uv_package = uv.get("package") if isinstance(uv, dict) else None
    if isinstance(uv_package, bool):
        return uv_package
    return "build-system" in data


def make_plan(build_dir: Path) -> Plan:
    def has(name: str) -> bool:
        return (build_dir / name).is_file()

    if has("requirements.txt"):
        seen: set[Path] = set()
        local = scan_requirements(build_dir / "requirements.txt", seen)
        return Plan("requirements", "pip", sorted(seen), hash_tree=local)
    if has("Pipfile.lock"):
        _, local = pipfile_requirements(build_dir)
        return Plan("pipfile", "pip", [build_dir / "Pipfile.lock"], hash_tree=local)
    if has("Pipfile"):
        raise BuildError(
            "Pipfile found but no Pipfile.lock; run pipenv lock and commit Pipfile.lock."
        )
    if has("uv.lock"):
        if shutil.which("uv") is None:
            raise BuildError(
                "uv.lock found but uv is not installed on this machine; install uv on the "
                "build machine or commit a requirements.txt (uv export > requirements.txt)."
            )
        files = [build_dir / "uv.lock", build_dir / "pyproject.toml"]
        return Plan("uv", "uv", [f for f in files if f.is_file()], pyproject_is_package(build_dir))
    if has("pyproject.toml") or has("setup.py"):
        files = [build_dir / n for n in ("pyproject.toml", "setup.py", "setup.cfg") if has(n)]
        return Plan("project", "pip", files, hash_tree=True)
    return Plan("none", "pip")


def tree_digest(build_dir: Path) -> str:
    """A hash of the app's source tree (for installs that copy the app's code into the venv)."""
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(build_dir):
        dirs[:] = sorted(d for d in dirs if d not in TREE_SKIP_DIRS)
        for name in sorted(files):
            path = Path(root) / name
            rel = path.relative_to(build_dir).as_posix()
            digest.update(f"\0file {rel}\0".encode())
            if path.is_symlink():
                digest.update(os.readlink(path).encode())
                continue
            try:
                with path.open("rb") as handle:
                    for chunk in iter(lambda: handle.read(1 << 16), b""):
                        digest.update(chunk)
            except OSError:
                digest.update(b"\0unreadable")
    return digest.hexdigest()


def cache_key(build_dir: Path, interpreter: Interpreter, plan: Plan) -> str:
    digest = hashlib.sha256()
    digest.update(f"{CACHE_FORMAT}\0".encode())
    # The venv's bin/python links to the interpreter's path, so the path is part of the key.
    digest.update(f"python {interpreter.version_text} {interpreter.path}\0".encode())
    digest.update(f"plan {plan.kind}\0".encode())
    for path in plan.key_files:
        rel = os.path.relpath(path, build_dir)
        digest.update(f"\0dep {rel}\0".encode())
        digest.update(path.read_bytes())
    if plan.hash_tree:
        digest.update(f"\0tree {tree_digest(build_dir)}".encode())
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# The virtualenv


def remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def create_venv(interpreter: Interpreter, venv: Path) -> bool:
    """Create the virtualenv; True if it has its own pip.

    Route chosen: `<interpreter> -m venv`, which on this Debian machine works because
    python3-venv ships ensurepip with a bundled pip wheel, so the venv gets its own pip, needs
    no network to bootstrap and installs with `venv/bin/python -m pip`. Where ensurepip is
    missing (Debian without python3-venv), `-m venv` fails; then the venv is made
    `--without-pip` and packages go in through an outside pip's `--python` option
    (see outside_pip).
    """
    venv.parent.mkdir(parents=True, exist_ok=True)
    env = base_env()
    # -I keeps the app's files (cwd, PYTHON* variables) out of the interpreter's sys.path.
    code, out = capture([interpreter.path, "-I", "-m", "venv", str(venv)], cwd=venv.parent, env=env)
    if code == 0 and venv_python(venv).exists():
        return True
    remove(venv)
    code2, out2 = capture(
        [interpreter.path, "-I", "-m", "venv", "--without-pip", str(venv)],
        cwd=venv.parent,
        env=env,
    )
    if code2 == 0 and venv_python(venv).exists():
        detail("This Python has no ensurepip (python3-venv), so the environment has no pip;")
        detail("packages are installed with an outside pip instead.")
        return False
    detail(out.strip() or out2.strip())
    raise BuildError(
        f"Could not create a virtualenv with {interpreter.path} -m venv; "
        "install the python3-venv package for that Python on the build machine."
    )


def pip_version(python: str) -> tuple[int, ...] | None:
    code, out = capture([python, "-I", "-m", "pip", "--version"], cwd="/", env=base_env())
    match = re.match(r"pip (\d+)\.(\d+)", out.strip()) if code == 0 else None
    return None if match is None else tuple(int(p) for p in match.groups())


def outside_pip(interpreter: Interpreter, venv: Path) -> list[str]:
    """A pip from outside the venv that can install into it (pip >= 22.3 has --python)."""
    for python in dict.fromkeys([interpreter.path, sys.executable]):
        version = pip_version(python)
        if version is not None and version >= PIP_MIN_FOR_PYTHON_OPTION:
            return [python, "-I", "-m", "pip", "--python", str(venv_python(venv))]
    raise BuildError(
        f"Python {interpreter.version_text} has neither ensurepip nor a pip of version 22.3 or "
        "later, so nothing can be installed; install python3-venv or python3-pip on the "
        "build machine."
    )


def pip_env(config: Mapping[str, str], cache_dir: Path | None, venv: Path) -> dict[str, str]:
    env = base_env(config)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', os.defpath)}"
    env["VIRTUAL_ENV"] = str(venv)
    if cache_dir is not None:
        env["PIP_CACHE_DIR"] = str(cache_dir / "pip")
        env["UV_CACHE_DIR"] = str(cache_dir / "uv")
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    env["PIP_PROGRESS_BAR"] = "off"
    env["PIP_ROOT_USER_ACTION"] = "ignore"
    return env


def pipfile_requirements(build_dir: Path) -> tuple[list[str], bool]:
    """Requirement lines for the `default` packages pinned in Pipfile.lock; True if local."""
    try:
        lock = json.loads(read_text(build_dir / "Pipfile.lock"))
    except json.JSONDecodeError as exc:
        raise BuildError(
            f"Pipfile.lock is not valid JSON ({exc}); run pipenv lock and commit it."
        ) from exc
    default = lock.get("default", {}) if isinstance(lock, dict) else None
    if not isinstance(default, dict):
        raise BuildError("Pipfile.lock has no `default` section; run pipenv lock and commit it.")
    lines: list[str] = []
    local = False
    sources = lock.get("_meta", {}).get("sources", [])
    for source in sources if isinstance(sources, list) else []:
        url = source.get("url") if isinstance(source, dict) else None
        if isinstance(url, str) and "pypi.org/simple" not in url:
            lines.append(f"--extra-index-url {url}")
    for name, spec in sorted(default.items()):
        if not isinstance(spec, dict):
            spec = {"version": spec} if isinstance(spec, str) else {}
        extras = spec.get("extras")
        extra = f"[{','.join(extras)}]" if isinstance(extras, list) and extras else ""
        version = spec.get("version")
        if isinstance(spec.get("git"), str):
            url = spec["git"] if spec["git"].startswith("git+") else f"git+{spec['git']}"
            ref = f"@{spec['ref']}" if isinstance(spec.get("ref"), str) else ""
            line = f"{name}{extra} @ {url}{ref}"
        elif isinstance(spec.get("path"), str):
            local = True
            line = f"{spec['path']}{extra}"
        elif isinstance(spec.get("file"), str):
            line = f"{name}{extra} @ {spec['file']}"
        elif isinstance(version, str) and version not in ("", "*"):
            pinned = version if version[0] in "=<>!~" else f"=={version}"
            line = f"{name}{extra}{pinned}"
        else:
            line = f"{name}{extra}"
        markers = spec.get("markers")
        if isinstance(markers, str) and markers:
            line = f"{line} ; {markers}"
        lines.append(line)
    return lines, local


def install(
    plan: Plan,
    build_dir: Path,
    venv: Path,
    pip: list[str],
    env: Mapping[str, str],
) -> None:
    if plan.kind == "none":
        header("No requirements.txt, Pipfile.lock, uv.lock, pyproject.toml or setup.py found")
        detail("The environment has no packages besides the standard library.")
        return
    header(f"Installing requirements with {plan.tool}")
    if plan.kind == "requirements":
        code = stream([*pip, "install", "-r", "requirements.txt"], cwd=build_dir, env=env)
        failure = "pip could not install the packages in requirements.txt; see the lines above."
    elif plan.kind == "pipfile":
        lines, _ = pipfile_requirements(build_dir)
        detail(
            f"Installing the {sum(not x.startswith('-') for x in lines)} packages pinned in "
            "Pipfile.lock (default)"
        )
        with tempfile.TemporaryDirectory(prefix="slipway-pipfile-") as tmp:
            req = Path(tmp) / "requirements.txt"
            req.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
            code = stream([*pip, "install", "-r", str(req)], cwd=build_dir, env=env)
        failure = "pip could not install the packages pinned in Pipfile.lock; see the lines above."
    elif plan.kind == "uv":
        uv_env = dict(env)
        uv_env["UV_PROJECT_ENVIRONMENT"] = str(venv)
        uv_env["UV_PYTHON"] = str(venv_python(venv))
        uv_env["UV_PYTHON_DOWNLOADS"] = "never"
        uv_env.setdefault("UV_NO_PROGRESS", "1")
        cmd = ["uv", "sync", "--locked", "--no-dev", "--no-editable"]
        code = stream(cmd, cwd=build_dir, env=uv_env)
        failure = (
            "uv sync --locked could not install the packages in uv.lock; see the lines above "
            "(if uv.lock is out of date, run uv lock and commit it)."
        )
    else:
        code = stream([*pip, "install", "."], cwd=build_dir, env=env)
        failure = "pip could not install this project (pip install .); see the lines above."
    if code != 0:
        raise BuildError(failure)


def fix_scripts(venv: Path, build_dir: Path) -> None:
    """Make the venv independent of where it was built.

    pip writes scripts with a shebang naming BUILD_DIR/.heroku/python/bin/python, which exists
    neither at /app nor in the next build's BUILD_DIR. They become `#!/usr/bin/env python3`,
    which finds the venv's python because .profile.d (and the export file) put the venv's bin
    first on PATH. Long paths get pip's `#!/bin/sh` + `'''exec' "/path/python"` form instead:
    the second line is a harmless Python string, so only the first line changes there too.
    Editable installs (`-e .`) record BUILD_DIR in .pth files; those now say /app.
    bin/python itself is a symlink to the system interpreter, the same at build and run time.
    """
    bin_dir = venv / "bin"
    for entry in sorted(bin_dir.iterdir()) if bin_dir.is_dir() else []:
        if entry.is_symlink() or not entry.is_file():
            continue
        with entry.open("rb") as handle:
            head = handle.read(4096)
        if not head.startswith(b"#!"):
            continue
        lines = head.split(b"\n", 2)
        first = lines[0]
        second = lines[1] if len(lines) > 1 else b""
        relocate = SCRIPT_MARKER in first or (
            first.strip() == b"#!/bin/sh"
            and second.startswith(b"'''exec'")
            and SCRIPT_MARKER in second
        )
        if relocate:
            data = entry.read_bytes()
            entry.write_bytes(RELOCATED_SHEBANG + data[len(first) :])
    old = str(build_dir).encode()
    for site in venv.glob("lib/python*/site-packages"):
        for path in [*site.glob("*.pth"), *site.glob("__editable__*.py"), *site.glob("*.egg-link")]:
            data = path.read_bytes()
            if old in data:
                path.write_bytes(data.replace(old, APP_HOME.encode()))


# --------------------------------------------------------------------------------------------
# The cache


def restore_cache(cache_dir: Path, venv: Path, key: str) -> bool:
    root = cache_dir / "python"
    try:
        if (root / "key").read_text(encoding="utf-8").strip() != key:
            return False
    except OSError:
        return False
    cached = root / "venv"
    if not venv_python(cached).exists():
        return False
    try:
        shutil.copytree(cached, venv, symlinks=True)
    except (OSError, shutil.Error):
        remove(venv)
        return False
    code, _ = capture([str(venv_python(venv)), "-I", "-c", "pass"], cwd="/", env=base_env())
    if code != 0:
        remove(venv)
        return False
    return True


def save_cache(cache_dir: Path, venv: Path, key: str) -> None:
    """Replace the cached venv; the key is written last, so a broken copy never matches."""
    root = cache_dir / "python"
    staging = root / "venv.new"
    try:
        root.mkdir(parents=True, exist_ok=True)
        (root / "key").unlink(missing_ok=True)
        remove(staging)
        shutil.copytree(venv, staging, symlinks=True)
        remove(root / "venv")
        staging.rename(root / "venv")
        (root / "key.new").write_text(f"{key}\n", encoding="utf-8")
        os.replace(root / "key.new", root / "key")
    except (OSError, shutil.Error) as exc:
        detail(f"Could not save the environment to the build cache ({exc}).")
        detail("The build goes on; the next build installs the requirements again.")


# --------------------------------------------------------------------------------------------
# Django


def config_flag(config: Mapping[str, str], name: str) -> bool:
    return config.get(name, "").strip().lower() not in ("", "0", "false", "no")


def collectstatic(build_dir: Path, venv: Path, config: Mapping[str, str]) -> None:
    if not (build_dir / "manage.py").is_file():
        return
    env = base_env(config)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', os.defpath)}"
    env["VIRTUAL_ENV"] = str(venv)
    python = str(venv_python(venv))
    code, _ = capture([python, "-c", "import django"], cwd=build_dir, env=env)
    if code != 0:
        return
    if config_flag(config, "DISABLE_COLLECTSTATIC"):
        header("Skipping Django collectstatic since DISABLE_COLLECTSTATIC is set")
        return
    header(COLLECTSTATIC)
    code = stream([python, "manage.py", "collectstatic", "--noinput"], cwd=build_dir, env=env)
    if code != 0:
        raise BuildError(
            f"Error while running '{COLLECTSTATIC}'. See the traceback above; fix the app, "
            "or set DISABLE_COLLECTSTATIC=1 to skip it."
        )


# --------------------------------------------------------------------------------------------
# Environment files


def sh_double_quoted(text: str) -> str:
    return re.sub(r'([\\"$`])', r"\\\1", text)


def write_env_files(build_dir: Path) -> None:
    profile_d = build_dir / ".profile.d"
    profile_d.mkdir(parents=True, exist_ok=True)
    (profile_d / "python.sh").write_text(
        'export PATH="$HOME/.heroku/python/bin:$PATH"\n'
        "export PYTHONUNBUFFERED=true\n"
        "export LANG=${LANG:-C.UTF-8}\n"
        "export WEB_CONCURRENCY=${WEB_CONCURRENCY:-2}\n",
        encoding="utf-8",
    )
    bin_dir = sh_double_quoted(str(build_dir / VENV_REL / "bin"))
    try:
        (BUILDPACK_DIR / "export").write_text(f'export PATH="{bin_dir}:$PATH"\n', encoding="utf-8")
    except OSError as exc:
        raise BuildError(
            f"Could not write {BUILDPACK_DIR / 'export'} ({exc.strerror}); "
            "the buildpack directory must be a writable copy."
        ) from exc


def read_config(env_dir: Path | None) -> dict[str, str]:
    config: dict[str, str] = {}
    if env_dir is None or not env_dir.is_dir():
        return config
    for path in sorted(env_dir.iterdir()):
        if path.name in DENIED_CONFIG_VARS or not path.is_file():
            continue
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", path.name):
            continue
        try:
            config[path.name] = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
    return config


# --------------------------------------------------------------------------------------------
# Phases


def detect(args: Sequence[str]) -> int:
    if args and any((Path(args[0]) / name).is_file() for name in DETECT_FILES):
        print("Python", flush=True)
        return 0
    print("no", flush=True)
    return 1


def compile_app(args: Sequence[str]) -> int:
    if not args:
        raise BuildError("compile needs BUILD_DIR [CACHE_DIR [ENV_DIR]]; the caller is broken.")
    build_dir = Path(args[0]).resolve()
    cache_dir = Path(args[1]).absolute() if len(args) > 1 and args[1] else None
    env_dir = Path(args[2]).absolute() if len(args) > 2 and args[2] else None
    if not build_dir.is_dir():
        raise BuildError(f"The build directory {build_dir} does not exist; the caller is broken.")
    config = read_config(env_dir)

    interpreter, note = choose_interpreter(build_dir)
    header(f"Using Python {interpreter.version_text}")
    if note:
        detail(note)

    plan = make_plan(build_dir)
    key = cache_key(build_dir, interpreter, plan)
    venv = build_dir / VENV_REL
    remove(venv)
    if cache_dir is not None and restore_cache(cache_dir, venv, key):
        header("Requirements unchanged; reusing the cached environment")
    else:
        own_pip = create_venv(interpreter, venv)
        env = pip_env(config, cache_dir, venv)
        if plan.kind in ("none", "uv"):
            pip: list[str] = []
        elif own_pip:
            pip = [str(venv_python(venv)), "-I", "-m", "pip"]
        else:
            pip = outside_pip(interpreter, venv)
        install(plan, build_dir, venv, pip, env)
        fix_scripts(venv, build_dir)
        if cache_dir is not None:
            save_cache(cache_dir, venv, key)

    write_env_files(build_dir)
    collectstatic(build_dir, venv, config)
    return 0


def find_wsgi_project(build_dir: Path) -> str | None:
    candidates = [
        p.parent.name
        for p in sorted(build_dir.glob("*/wsgi.py"))
        if not p.parent.name.startswith(".") and p.parent.name.isidentifier()
    ]
    if not candidates:
        return None
    manage = read_text(build_dir / "manage.py")
    settings = re.search(r"""DJANGO_SETTINGS_MODULE['"]\s*,\s*['"]([\w.]+)['"]""", manage)
    if settings:
        package = settings.group(1).split(".")[0]
        if package in candidates:
            return package
    return candidates[0]


def release(args: Sequence[str]) -> int:
    if not args:
        raise BuildError("release needs BUILD_DIR; the caller is broken.")
    build_dir = Path(args[0])
    venv = build_dir / VENV_REL
    web = None
    if (build_dir / "manage.py").is_file():
        has_gunicorn = any(venv.glob("lib/python*/site-packages/gunicorn/__init__.py"))
        project = find_wsgi_project(build_dir) if has_gunicorn else None
        if project:
            web = f"gunicorn {project}.wsgi"
    print("---")
    if web:
        print("default_process_types:")
        print(f"  web: {web}")
    else:
        print("default_process_types: {}")
    sys.stdout.flush()
    return 0


PHASES = {"detect": detect, "compile": compile_app, "release": release}


def main(argv: Sequence[str]) -> int:
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="backslashreplace")
    if not argv or argv[0] not in PHASES:
        error(f"usage: buildpack.py {{{'|'.join(PHASES)}}} BUILD_DIR [CACHE_DIR ENV_DIR]")
        return 2
    try:
        return PHASES[argv[0]](argv[1:])
    except BuildError as exc:
        error(str(exc))
    except KeyboardInterrupt:
        error("The build was interrupted; run it again.")
    except Exception as exc:
        error(
            f"The Python buildpack failed unexpectedly ({type(exc).__name__}: {exc}); "
            "build again, and report a bug if it keeps happening."
        )
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
