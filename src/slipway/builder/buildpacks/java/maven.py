"""Maven: `./mvnw` when the app has it, else the machine's `mvn`, with a per-app repository.

    mvn -B -Dmaven.repo.local=CACHE_DIR/java/m2/repository [-s SETTINGS] MAVEN_CUSTOM_OPTS
        MAVEN_CUSTOM_GOALS           (defaults: -DskipTests, clean install)

Settings come from MAVEN_SETTINGS_PATH or the app's settings.xml, as on Heroku. When they
name a `localRepository` (an offline machine's, such as Debian's /usr/share/maven-repo), that
repository is honoured read-only: its artifacts are linked into the app's own repository,
which the build writes, and `<offline>true</offline>` runs Maven offline. Debian's repository
keeps its artifacts at the version `debian`, so Maven then runs through Debian's launcher
(maven-debian-helper), which resolves them.
"""

from __future__ import annotations

import os
import shlex
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..common.output import BuildError, detail, header
from ..common.process import stream

DEBIAN_REPO = Path("/usr/share/maven-repo")
DEBIAN_CLASSWORLDS = Path("/etc/maven/m2-debian.conf")
MAVEN_HOME = Path("/usr/share/maven")


@dataclass(frozen=True)
class Settings:
    path: Path | None
    local_repository: Path | None
    offline: bool


def read_settings(build_dir: Path, config: Mapping[str, str]) -> Settings:
    named = config.get("MAVEN_SETTINGS_PATH")
    path = Path(named) if named else build_dir / "settings.xml"
    if not named and not path.is_file():
        return Settings(None, None, False)
    if not path.is_absolute():
        path = build_dir / path
    try:
        # The app's own file, parsed in its own sandboxed build (expat refuses entity bombs).
        root = ET.fromstring(path.read_bytes())  # noqa: S314
    except (OSError, ET.ParseError) as exc:
        raise BuildError(f"{path.name} cannot be read as Maven settings ({exc}); fix it.") from exc
    ns = root.tag.partition("}")[0] + "}" if root.tag.startswith("{") else ""
    repo = root.findtext(f"{ns}localRepository")
    offline = (root.findtext(f"{ns}offline") or "").strip().lower() == "true"
    return Settings(path, Path(repo.strip()) if repo and repo.strip() else None, offline)


def seed_repository(seed: Path, repo: Path) -> int:
    """Link every artifact version directory of seed into repo (read-only), once; the count."""
    count = 0
    for root, dirs, files in os.walk(seed, followlinks=True):
        if any(f.endswith(".pom") for f in files):
            rel = os.path.relpath(root, seed)
            link = repo / rel
            if not os.path.lexists(link):
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(root)
                count += 1
            dirs[:] = []
    return count


def maven_command(
    build_dir: Path, settings: Settings, repo: Path, config: Mapping[str, str], jdk_home: Path
) -> list[str]:
    goals = shlex.split(config.get("MAVEN_CUSTOM_GOALS") or "clean install")
    opts = shlex.split(config.get("MAVEN_CUSTOM_OPTS") or "-DskipTests")
    args = ["-B", "-Dstyle.color=never", f"-Dmaven.repo.local={repo}"]
    if settings.path is not None:
        args += ["-s", str(settings.path)]
    if settings.offline:
        args.append("-o")
    args += opts + goals
    if (build_dir / "mvnw").is_file():
        return ["sh", "./mvnw", *args]
    debian = settings.local_repository is not None and (
        settings.local_repository.resolve() == DEBIAN_REPO.resolve()
    )
    if debian and DEBIAN_CLASSWORLDS.is_file():
        return [
            str(jdk_home / "bin" / "java"),
            "-cp",
            str(MAVEN_HOME / "boot" / "plexus-classworlds-2.x.jar"),
            f"-Dclassworlds.conf={DEBIAN_CLASSWORLDS}",
            f"-Dmaven.home={MAVEN_HOME}",
            f"-Dmaven.multiModuleProjectDirectory={build_dir}",
            "org.codehaus.plexus.classworlds.launcher.Launcher",
            *args,
        ]
    return ["mvn", *args]


def build_with_maven(
    build_dir: Path, cache_dir: Path, env: Mapping[str, str], config: Mapping[str, str], jdk: Path
) -> None:
    settings = read_settings(build_dir, config)
    repo = cache_dir / "java" / "m2" / "repository"
    repo.mkdir(parents=True, exist_ok=True)
    if settings.local_repository is not None:
        if not settings.local_repository.is_dir():
            raise BuildError(
                f"{settings.path} names the local repository {settings.local_repository}, which "
                "is not on this machine; fix localRepository."
            )
        linked = seed_repository(settings.local_repository, repo)
        detail(f"Using the local repository {settings.local_repository} ({linked} new artifacts)")
    command = maven_command(build_dir, settings, repo, config, jdk)
    header("Executing Maven")
    detail(
        "$ " + " ".join(command if command[0] != str(jdk / "bin/java") else ["mvn", *command[7:]])
    )
    if stream(command, cwd=build_dir, env=env) != 0:
        raise BuildError(
            "Failed to build the app with Maven (see the lines above); fix the build and push "
            "again."
        )


def build_with_gradle(build_dir: Path, env: Mapping[str, str], config: Mapping[str, str]) -> None:
    gradle = ["sh", "./gradlew"] if (build_dir / "gradlew").is_file() else ["gradle"]
    tasks = shlex.split(config.get("GRADLE_TASK") or "")
    if not tasks:
        text = "".join(
            p.read_text(errors="replace") for p in build_dir.glob("build.gradle*") if p.is_file()
        )
        tasks = ["stage"] if "stage" in text else ["build", "-x", "check"]
    header("Building with Gradle")
    detail("$ " + " ".join([*gradle, *tasks]))
    try:
        code = stream([*gradle, *tasks], cwd=build_dir, env=env)
    except BuildError as exc:
        raise BuildError(
            "The app has a build.gradle but no gradlew, and Gradle is not installed on this "
            "machine; commit the Gradle wrapper (gradle wrapper) and push again."
        ) from exc
    if code != 0:
        raise BuildError("Failed to build the app with Gradle (see the lines above).")
