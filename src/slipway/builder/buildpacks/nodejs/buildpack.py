"""The heroku/nodejs buildpack: detect, compile and release for Heroku buildpack API v2.

This module runs inside the build sandbox with the system's python3, so it uses the
standard library only and must not import anything from slipway.

    bin/detect  BUILD_DIR                     -> prints "Node.js", exit 0 when package.json exists
    bin/compile BUILD_DIR CACHE_DIR ENV_DIR   -> installs dependencies, runs the build, prunes
    bin/release BUILD_DIR                     -> YAML with the default process types
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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

INDENT = " " * 7

# Config vars never copied into the environment of the build's subprocesses.
EXCLUDED_CONFIG_VARS = frozenset(
    {"PATH", "LD_PRELOAD", "LD_LIBRARY_PATH", "GIT_DIR", "CPATH", "CPPATH", "LIBRARY_PATH"}
)

# package.json fields that decide what ends up in node_modules (part of the cache key).
DEPENDENCY_FIELDS = (
    "dependencies",
    "devDependencies",
    "optionalDependencies",
    "peerDependencies",
    "bundleDependencies",
    "bundledDependencies",
    "overrides",
    "resolutions",
    "workspaces",
    "pnpm",
    "packageManager",
)

# Files next to package.json that change how the package manager installs.
INSTALL_CONFIG_FILES = (
    ".npmrc",
    ".yarnrc",
    ".yarnrc.yml",
    "pnpm-workspace.yaml",
    ".pnpmfile.cjs",
)

# Scripts of the app itself that npm runs on `npm ci` / `npm install`, in npm's order.
ROOT_INSTALL_SCRIPTS = (
    "preinstall",
    "install",
    "postinstall",
    "prepublish",
    "preprepare",
    "prepare",
    "postprepare",
)

CACHE_FORMAT = "slipway-nodejs-cache-v1"

PROFILE_SCRIPT = """\
# Added by the heroku/nodejs buildpack; sourced at dyno start with HOME=/app.
export PATH="$HOME/node_modules/.bin:$PATH"
export NODE_ENV="${NODE_ENV:-production}"
"""


class BuildError(Exception):
    """A failure explained to the user in one ` !     ` line."""


# --------------------------------------------------------------------------------------------
# Output, Heroku style: streamed, flushed, headers and 7-space details.


def header(text: str) -> None:
    print(f"-----> {text}", flush=True)


def detail(text: str) -> None:
    for line in text.splitlines() or [""]:
        line = line.rstrip()
        print(f"{INDENT}{line}" if line else "", flush=True)


def error(text: str) -> None:
    print(f" !     {text}", flush=True)


# --------------------------------------------------------------------------------------------
# npm-style semver ranges, enough for the engines.node forms people use.


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


# --------------------------------------------------------------------------------------------
# Reading the app.


def read_package_json(build_dir: Path) -> dict[str, Any]:
    path = build_dir / "package.json"
    if not path.is_file():
        raise BuildError("No package.json in the app; add one at the top level and push again.")
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BuildError(f"package.json is not valid JSON: {exc}; fix it and push again.") from exc
    if not isinstance(data, dict):
        raise BuildError(
            "package.json is not valid JSON: the top level must be an object; "
            "fix it and push again."
        )
    return data


def scripts_of(package: Mapping[str, Any]) -> dict[str, str]:
    scripts = package.get("scripts")
    if not isinstance(scripts, dict):
        return {}
    return {k: v for k, v in scripts.items() if isinstance(v, str) and v.strip()}


def build_script_name(scripts: Mapping[str, str]) -> str | None:
    """`heroku-postbuild` runs instead of `build`; None when there is neither."""
    for name in ("heroku-postbuild", "build"):
        if name in scripts:
            return name
    return None


def read_env_dir(env_dir: Path | None) -> dict[str, str]:
    """The app's config vars, one file per var (trailing newlines dropped, like `$(cat f)`)."""
    if env_dir is None or not env_dir.is_dir():
        return {}
    result: dict[str, str] = {}
    for entry in sorted(env_dir.iterdir()):
        name = entry.name
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or name in EXCLUDED_CONFIG_VARS:
            continue
        if not entry.is_file():
            continue
        value = entry.read_bytes().decode("utf-8", "surrogateescape").rstrip("\n")
        if "\0" not in value:
            result[name] = value
    return result


# --------------------------------------------------------------------------------------------
# Subprocesses.


def run_streamed(cmd: Sequence[str], cwd: Path, env: Mapping[str, str]) -> int:
    """Run `cmd`, printing its output (stdout and stderr) indented as it arrives."""
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
        raise BuildError(
            f"Could not run {cmd[0]}: {exc.strerror}; check that it is installed."
        ) from exc
    assert proc.stdout is not None
    with proc.stdout:
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            # Progress output redraws with carriage returns; keep what was drawn last.
            detail(line.rsplit("\r", 1)[-1])
    return proc.wait()


def capture(cmd: Sequence[str], cwd: Path, env: Mapping[str, str]) -> str:
    """Run a short command and return its stdout; BuildError when it cannot run or fails."""
    try:
        result = subprocess.run(
            list(cmd),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
            timeout=120,
        )
    except FileNotFoundError as exc:
        raise BuildError(
            f"{cmd[0]} is not installed on this machine; install Node.js with npm and build again."
        ) from exc
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BuildError(
            f"Could not run `{' '.join(cmd)}`: {exc}; check the installation."
        ) from exc
    if result.returncode != 0:
        detail(result.stdout.decode("utf-8", "replace") + result.stderr.decode("utf-8", "replace"))
        raise BuildError(
            f"`{' '.join(cmd)}` failed; check the Node.js installation on this machine."
        )
    return result.stdout.decode("utf-8", "replace").strip()


# --------------------------------------------------------------------------------------------
# Package managers.


@dataclass(frozen=True)
class PackageManager:
    name: str  # npm, yarn or pnpm
    version: str
    lock_file: str | None  # the lock file that chose it (npm may have none)

    def run_script(self, script: str, *, alone: bool = False) -> list[str]:
        if self.name == "npm" and alone:
            # --ignore-scripts: only this script, without its pre/post companions.
            return ["npm", "run", "--ignore-scripts", script]
        return [self.name, "run", script]

    def install_command(self, cache_dir: Path) -> list[str]:
        if self.name == "pnpm":
            store = str(cache_dir / "pnpm-store")
            return ["pnpm", "install", "--frozen-lockfile", "--prod=false", "--store-dir", store]
        if self.name == "yarn":
            if self.version.startswith("1."):
                return ["yarn", "install", "--frozen-lockfile", "--production=false"]
            return ["yarn", "install", "--immutable"]
        if self.lock_file is not None:
            return ["npm", "ci", "--include=dev"]
        return ["npm", "install", "--include=dev"]


def choose_package_manager(build_dir: Path, env: Mapping[str, str]) -> PackageManager:
    locks = [
        name
        for name in ("pnpm-lock.yaml", "yarn.lock", "package-lock.json", "npm-shrinkwrap.json")
        if (build_dir / name).is_file()
    ]
    lock = locks[0] if locks else None
    name = {"pnpm-lock.yaml": "pnpm", "yarn.lock": "yarn"}.get(lock or "", "npm")
    if len(locks) > 1 and not set(locks) <= {"package-lock.json", "npm-shrinkwrap.json"}:
        detail(f"Warning: several lock files ({', '.join(locks)}); using {lock} and {name}.")
    if name != "npm" and shutil.which(name, path=env.get("PATH")) is None:
        raise BuildError(
            f"The app has {lock} but {name} is not installed on this machine; "
            f"install {name} or delete {lock} to use npm."
        )
    return PackageManager(name, capture([name, "--version"], build_dir, env), lock)


# --------------------------------------------------------------------------------------------
# The node_modules cache.


def cache_key(
    build_dir: Path,
    package: Mapping[str, Any],
    node_version: str,
    pm: PackageManager,
    env: Mapping[str, str],
) -> str:
    digest = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    add("format", CACHE_FORMAT.encode())
    add("node", node_version.encode())
    add("package-manager", f"{pm.name} {pm.version}".encode())
    add("stack", env.get("STACK", "").encode())
    fields = {k: package[k] for k in DEPENDENCY_FIELDS if k in package}
    add("package.json", json.dumps(fields, sort_keys=True).encode())
    for name in (pm.lock_file, *INSTALL_CONFIG_FILES):
        if name is not None and (build_dir / name).is_file():
            add(name, (build_dir / name).read_bytes())
    # Install settings given as config vars (npm_config_*, YARN_*, PNPM_*).
    for name in sorted(env):
        if (
            name.lower().startswith(("npm_config_", "yarn_", "pnpm_"))
            and name != "npm_config_cache"
        ):
            add(f"env:{name}", env[name].encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def remove_path(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def restore_cache(cache: Path, key: str, build_dir: Path) -> bool:
    """Copy cached node_modules into the app when the key matches; False when it does not."""
    key_file, cached = cache / "key", cache / "node_modules"
    try:
        if not (key_file.is_file() and cached.is_dir()):
            return False
        if key_file.read_text(encoding="utf-8").strip() != key:
            return False
        shutil.copytree(cached, build_dir / "node_modules", symlinks=True)
    except OSError as exc:
        detail(f"Warning: could not reuse cached node_modules ({exc}); installing instead.")
        remove_path(build_dir / "node_modules")
        return False
    return True


def save_cache(cache: Path, key: str, build_dir: Path) -> None:
    """Replace the cache with a copy of node_modules; the key is written last."""
    source = build_dir / "node_modules"
    key_file, cached, staging = cache / "key", cache / "node_modules", cache / "node_modules.new"
    try:
        cache.mkdir(parents=True, exist_ok=True)
        remove_path(key_file)
        remove_path(staging)
        if not source.is_dir():
            remove_path(cached)
            return
        detail("Caching node_modules for the next build")
        shutil.copytree(source, staging, symlinks=True)
        remove_path(cached)
        staging.rename(cached)
        key_file.write_text(key + "\n", encoding="utf-8")
    except OSError as exc:
        detail(f"Warning: could not cache node_modules ({exc}); the next build installs again.")


# --------------------------------------------------------------------------------------------
# compile


def build_env(build_dir: Path, cache_dir: Path, config: Mapping[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(config)
    env["NODE_ENV"] = env.get("NODE_ENV") or "production"
    forced = {
        "npm_config_cache": str(cache_dir / "npm"),
        "npm_config_update_notifier": "false",
        "npm_config_fund": "false",
        "npm_config_audit": "false",
    }
    for name in [k for k in env if k.lower() in forced]:
        del env[name]
    env.update(forced)
    env["PATH"] = os.pathsep.join(
        [str(build_dir / "node_modules" / ".bin"), os.environ.get("PATH", os.defpath)]
    )
    return env


def check_engines(package: Mapping[str, Any], node_version: str) -> None:
    engines = package.get("engines")
    wanted = engines.get("node") if isinstance(engines, dict) else None
    if wanted is None:
        detail("engines.node is not set in package.json; using the installed Node.js")
        return
    if not isinstance(wanted, str):
        detail(f"Warning: engines.node must be a string, not {json.dumps(wanted)}; ignoring it.")
        return
    detail(f"engines.node (package.json): {wanted}")
    try:
        ok = satisfies(node_version, wanted)
    except ValueError:
        detail(f'Warning: cannot understand engines.node "{wanted}"; ignoring it.')
        return
    if not ok:
        raise BuildError(
            f'package.json asks for Node.js "{wanted}" (engines.node) but this machine has '
            f"{node_version}; change engines.node or install that Node.js version."
        )


def run_script(
    pm: PackageManager, script: str, build_dir: Path, env: Mapping[str, str], title: str
) -> None:
    header(title)
    detail(f"Running {script}")
    if run_streamed(pm.run_script(script), build_dir, env) != 0:
        raise BuildError(f"The {script} script failed; see the lines above.")


def install_dependencies(
    pm: PackageManager,
    package: Mapping[str, Any],
    build_dir: Path,
    cache_dir: Path,
    env: Mapping[str, str],
    node_version: str,
) -> None:
    scripts = scripts_of(package)
    node_modules = build_dir / "node_modules"
    if node_modules.exists() or node_modules.is_symlink():
        detail("Warning: node_modules is checked in; ignoring it and installing afresh.")
        remove_path(node_modules)

    use_cache = env.get("NODE_MODULES_CACHE", "true").lower() != "false"
    cache = cache_dir / "nodejs"
    key = cache_key(build_dir, package, node_version, pm, env)
    install_scripts = [s for s in ROOT_INSTALL_SCRIPTS if s in scripts]
    if use_cache and pm.name != "npm" and install_scripts:
        # Only npm can rerun the app's own install scripts exactly; reinstall instead.
        use_cache = False
    if use_cache and restore_cache(cache, key, build_dir):
        header("Dependencies unchanged; reusing cached node_modules")
        # npm ran these on install; they may write outside node_modules, so run them again.
        for script in install_scripts:
            detail(f"Running {script}")
            if run_streamed(pm.run_script(script, alone=True), build_dir, env) != 0:
                raise BuildError(f"The {script} script failed; see the lines above.")
        return

    header("Installing dependencies")
    command = pm.install_command(cache_dir)
    source = f" ({pm.lock_file})" if pm.lock_file else ""
    detail(f"Using {pm.name} {pm.version}{source}: {' '.join(command[:2])}")
    detail(f"NODE_ENV={env['NODE_ENV']}")
    if not use_cache:
        detail("Not using the node_modules cache")
    if run_streamed(command, build_dir, env) != 0:
        files = "package.json" + (f" and {pm.lock_file}" if pm.lock_file else "")
        raise BuildError(
            f"`{' '.join(command[:2])}` failed; check the dependencies in {files} "
            "(see the lines above) and push again."
        )
    if use_cache:
        save_cache(cache, key, build_dir)


def prune(pm: PackageManager, build_dir: Path, env: Mapping[str, str]) -> None:
    header("Pruning devDependencies")
    skip = env.get("NPM_CONFIG_PRODUCTION", env.get("YARN_PRODUCTION", "")).lower() == "false"
    if skip:
        detail("Skipping pruning: NPM_CONFIG_PRODUCTION/YARN_PRODUCTION is false")
        return
    if pm.name != "npm":
        detail(f"Skipping pruning for {pm.name}; devDependencies stay in the slug")
        return
    if not (build_dir / "node_modules").is_dir():
        detail("No node_modules; nothing to prune")
        return
    if run_streamed(["npm", "prune", "--omit=dev"], build_dir, env) != 0:
        raise BuildError("Pruning devDependencies failed; see the lines above.")


def shell_double_quoted(text: str) -> str:
    return re.sub(r'(["\\$`])', r"\\\1", text)


def write_runtime_files(build_dir: Path) -> None:
    profile_d = build_dir / ".profile.d"
    profile_d.mkdir(parents=True, exist_ok=True)
    (profile_d / "nodejs.sh").write_text(PROFILE_SCRIPT, encoding="utf-8")
    bin_dir = shell_double_quoted(str(build_dir / "node_modules" / ".bin"))
    try:
        (Path(__file__).parent / "export").write_text(
            f'export PATH="{bin_dir}:$PATH"\n', encoding="utf-8"
        )
    except OSError as exc:
        detail(f"Warning: could not write the buildpack export file ({exc.strerror}).")


def compile_app(build_dir: Path, cache_dir: Path, env_dir: Path | None) -> None:
    if not build_dir.is_dir():
        raise BuildError(f"The build directory {build_dir} does not exist; this is a platform bug.")
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BuildError(f"Cannot create the cache directory {cache_dir}: {exc.strerror}.") from exc
    package = read_package_json(build_dir)
    env = build_env(build_dir, cache_dir, read_env_dir(env_dir))

    raw_version = capture(["node", "--version"], build_dir, env)
    try:
        node_version = str(parse_version(raw_version))
    except ValueError as exc:
        raise BuildError(f"`node --version` printed {raw_version!r}; reinstall Node.js.") from exc
    header(f"Using Node.js {node_version}")
    check_engines(package, node_version)

    pm = choose_package_manager(build_dir, env)
    scripts = scripts_of(package)
    if "heroku-prebuild" in scripts:
        run_script(pm, "heroku-prebuild", build_dir, env, "Prebuild")
    install_dependencies(pm, package, build_dir, cache_dir, env, node_version)
    build = build_script_name(scripts)
    if build is not None:
        run_script(pm, build, build_dir, env, "Build")
    prune(pm, build_dir, env)
    if "heroku-cleanup" in scripts:
        run_script(pm, "heroku-cleanup", build_dir, env, "Cleanup")
    write_runtime_files(build_dir)


# --------------------------------------------------------------------------------------------
# detect, release, main


def detect(build_dir: Path) -> int:
    if (build_dir / "package.json").is_file():
        print("Node.js", flush=True)
        return 0
    return 1


def release(build_dir: Path) -> str:
    try:
        package = read_package_json(build_dir)
    except BuildError:
        package = {}
    if "start" in scripts_of(package) or (build_dir / "server.js").is_file():
        # npm start runs `node server.js` when there is no start script.
        return "---\ndefault_process_types:\n  web: npm start\n"
    return "---\ndefault_process_types: {}\n"


USAGE = (
    "usage: buildpack.py detect BUILD_DIR | compile BUILD_DIR CACHE_DIR [ENV_DIR]"
    " | release BUILD_DIR"
)


def main(argv: Sequence[str]) -> int:
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="replace")
    phase, args = (argv[0], list(argv[1:])) if argv else ("", [])
    try:
        if phase == "detect" and len(args) == 1:
            return detect(Path(args[0]))
        if phase == "release" and len(args) == 1:
            sys.stdout.write(release(Path(args[0])))
            sys.stdout.flush()
            return 0
        if phase == "compile" and len(args) in (2, 3):
            env_dir = Path(args[2]).absolute() if len(args) == 3 else None
            compile_app(Path(args[0]).absolute(), Path(args[1]).absolute(), env_dir)
            return 0
        print(USAGE, file=sys.stderr, flush=True)
        return 2
    except BuildError as exc:
        error(str(exc))
        return 1
    except KeyboardInterrupt:
        error("The build was interrupted.")
        return 130
    except Exception as exc:  # never a traceback: one line saying what broke
        error(
            f"The Node.js buildpack hit an internal error ({type(exc).__name__}: {exc}); report it."
        )
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
