"""Where a buildpack comes from: a built-in name, a local directory, or a git URL.

Git buildpacks are cloned once into `<data dir>/buildpacks/` and reused; a
`#ref` fragment picks a branch or tag, as on Heroku.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from slipway.builder.errors import BuildpackError

BUILTIN_DIR = Path(__file__).parent / "buildpacks"
# The helpers the built-ins share; a built-in finds them beside its own directory.
BUILTIN_COMMON_DIR = BUILTIN_DIR / "common"
# Built-in buildpacks, in Heroku's detection order (Ruby, Node.js, Java (Maven), Python),
# Java's Gradle check being part of heroku/java here.
BUILTINS: dict[str, str] = {
    "heroku/ruby": "ruby",
    "heroku/nodejs": "nodejs",
    "heroku/java": "java",
    "heroku/python": "python",
}
# The URLs people copy from Heroku map to the built-ins.
_ALIASES = {
    "https://github.com/heroku/heroku-buildpack-python": "heroku/python",
    "https://github.com/heroku/heroku-buildpack-python.git": "heroku/python",
    "https://github.com/heroku/heroku-buildpack-nodejs": "heroku/nodejs",
    "https://github.com/heroku/heroku-buildpack-nodejs.git": "heroku/nodejs",
    "https://github.com/heroku/heroku-buildpack-ruby": "heroku/ruby",
    "https://github.com/heroku/heroku-buildpack-ruby.git": "heroku/ruby",
    "https://github.com/heroku/heroku-buildpack-java": "heroku/java",
    "https://github.com/heroku/heroku-buildpack-java.git": "heroku/java",
    "https://github.com/heroku/heroku-buildpack-gradle": "heroku/java",
    "https://github.com/heroku/heroku-buildpack-gradle.git": "heroku/java",
    "python": "heroku/python",
    "nodejs": "heroku/nodejs",
    "ruby": "heroku/ruby",
    "java": "heroku/java",
    "heroku/node": "heroku/nodejs",
    "heroku/gradle": "heroku/java",
}
_GIT_PREFIXES = ("https://", "http://", "git://", "ssh://", "file://", "git@")


@dataclass(frozen=True)
class ResolvedBuildpack:
    url: str
    name: str
    path: Path
    # Directories a build stages next to the buildpack's copy (the built-ins' shared helpers).
    beside: tuple[Path, ...] = ()


def canonical(url: str) -> str:
    return _ALIASES.get(url.strip(), url.strip())


def validate(url: str) -> str:
    """Check a buildpack reference without fetching it; return its canonical form."""
    url = canonical(url)
    if url in BUILTINS:
        return url
    if url.startswith("/"):
        return url
    if url.startswith(_GIT_PREFIXES):
        return url
    known = ", ".join(BUILTINS)
    raise BuildpackError(
        f"Buildpack {url!r} is not known: use a built-in ({known}), an absolute directory "
        "path, or a git URL."
    )


class BuildpackResolver:
    def __init__(self, cache_root: Path) -> None:
        self.cache_root = cache_root
        self._lock = threading.Lock()

    def builtins(self) -> list[ResolvedBuildpack]:
        return [self.resolve(url) for url in BUILTINS]

    def resolve(self, url: str) -> ResolvedBuildpack:
        url = validate(url)
        if url in BUILTINS:
            return ResolvedBuildpack(
                url, url, BUILTIN_DIR / BUILTINS[url], beside=(BUILTIN_COMMON_DIR,)
            )
        local = url.removeprefix("file://")
        if url.startswith("/") or (url.startswith("file:///") and Path(local, "bin").is_dir()):
            # A directory on this machine, as a path or a file:// URL (the official CLI
            # accepts only URLs): used as it is now, never copied into a cache.
            path = Path(local)
            if not (path / "bin" / "compile").is_file():
                raise BuildpackError(
                    f"Buildpack directory {url} has no bin/compile; point at a buildpack's root."
                )
            return ResolvedBuildpack(url, url, path)
        return ResolvedBuildpack(url, url, self._clone(url))

    def _clone(self, url: str) -> Path:
        repo, _, ref = url.partition("#")
        dest = self.cache_root / hashlib.sha256(url.encode()).hexdigest()[:32]
        with self._lock:
            if (dest / "bin" / "compile").is_file():
                return dest
            shutil.rmtree(dest, ignore_errors=True)
            dest.parent.mkdir(parents=True, exist_ok=True)
            argv = ["git", "clone", "--quiet", "--depth", "1"]
            if ref:
                argv += ["--branch", ref]
            tmp = dest.with_suffix(".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            result = subprocess.run(
                [*argv, repo, str(tmp)],
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
                env={"GIT_TERMINAL_PROMPT": "0", "PATH": "/usr/bin:/bin"},
            )
            if result.returncode != 0:
                shutil.rmtree(tmp, ignore_errors=True)
                detail = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
                raise BuildpackError(f"Could not clone buildpack {url}: {detail}")
            if not (tmp / "bin" / "compile").is_file():
                shutil.rmtree(tmp, ignore_errors=True)
                raise BuildpackError(f"Buildpack {url} has no bin/compile.")
            tmp.rename(dest)
            return dest
