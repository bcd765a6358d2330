"""Which JDK builds and runs the app: system.properties' java.runtime.version, the machine has.

The JDKs are the machine's (the stack's): every /usr/lib/jvm/*/ with a bin/java and a
`release` file. `17`, `17.0.15`, `1.8` (which is 8) and `1.8.0_392` name a major and maybe a
patch; without system.properties the newest JDK is used. The choice is recorded in the slug.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..common.output import BuildError

JVM_ROOTS = ("/usr/lib/jvm",)
VERSION_RE = re.compile(r"(?:1\.)?(\d+)(?:[._](\d+))?(?:[._](\d+))?.*")


@dataclass(frozen=True)
class Jdk:
    home: Path
    version: str  # JAVA_VERSION from its release file, e.g. "17.0.15"

    @property
    def major(self) -> int:
        return int(self.version.removeprefix("1.").split(".")[0].split("_")[0])


def installed_jdks(roots: tuple[str, ...] = JVM_ROOTS) -> list[Jdk]:
    found: dict[str, Jdk] = {}
    for root in roots:
        for entry in sorted(Path(root).iterdir()) if Path(root).is_dir() else []:
            release = entry / "release"
            if not (entry / "bin" / "java").is_file() or not release.is_file():
                continue
            match = re.search(r'^JAVA_VERSION="([^"]+)"', release.read_text(errors="replace"), re.M)
            if match:
                found.setdefault(os.path.realpath(entry), Jdk(entry, match.group(1)))
    return sorted(found.values(), key=lambda j: _key(j.version), reverse=True)


def _key(version: str) -> tuple[int, ...]:
    match = VERSION_RE.fullmatch(version)
    if match is None:
        return (0,)
    return tuple(int(g or 0) for g in match.groups())


def requested(build_dir: Path) -> str | None:
    path = build_dir / "system.properties"
    if not path.is_file():
        return None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == "java.runtime.version" and value.strip():
            return value.strip()
    return None


def choose_jdk(build_dir: Path) -> Jdk:
    jdks = installed_jdks()
    if not jdks:
        raise BuildError(
            "No JDK was found on this machine (/usr/lib/jvm); install one (e.g. apt-get install "
            "default-jdk-headless) and build again."
        )
    wanted = requested(build_dir)
    if wanted is None:
        return jdks[0]
    match = VERSION_RE.fullmatch(wanted)
    if match is None:
        raise BuildError(
            f"system.properties asks for java.runtime.version={wanted}, which is not a Java "
            "version; write one such as 17."
        )
    major, minor, patch = (int(g) if g else None for g in match.groups())
    for jdk in jdks:
        parts = _key(jdk.version)
        same_minor = minor is None or parts[1:2] == (minor,)
        if parts[0] == major and same_minor and (patch is None or parts[2:3] == (patch,)):
            return jdk
    versions = ", ".join(j.version for j in jdks)
    raise BuildError(
        f"system.properties asks for Java {wanted} but this machine has JDK {versions}; set "
        "java.runtime.version to one of those."
    )
