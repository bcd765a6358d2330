"""The heroku/java buildpack's phases (Heroku buildpack API v2), as common/launch.py runs them:

    detect  BUILD_DIR                     "Java" for pom.xml (Maven), "Gradle" for build.gradle
    compile BUILD_DIR CACHE_DIR ENV_DIR   chooses the JDK, builds with Maven or Gradle
    release BUILD_DIR                     a web process for an executable jar, the runtimes

The JDK is the machine's (the stack's); .profile.d/jvm.sh sets JAVA_HOME and sizes the heap
from the dyno's memory (DYNO_RAM, in MB) as Heroku's JVM buildpack does.
"""

from __future__ import annotations

import os
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

from ..common import phases
from ..common.files import config_var_files, write_export
from ..common.output import BuildError, header
from ..common.runtimes import record, release_yaml
from .jdk import choose_jdk
from .maven import build_with_gradle, build_with_maven

BUILDPACK_DIR = Path(__file__).absolute().parent
GRADLE_FILES = ("build.gradle", "build.gradle.kts", "settings.gradle", "settings.gradle.kts")
# Heroku's heap sizes by dyno memory (MB), the largest that fits; -Xss for the small ones.
PROFILE = """\
# Added by the heroku/java buildpack; sourced at dyno start with HOME=/app.
export JAVA_HOME="{java_home}"
export PATH="$JAVA_HOME/bin:$PATH"
mem="${{DYNO_RAM:-512}}"
if [ "$mem" -ge 14336 ]; then heap="-Xmx12g"
elif [ "$mem" -ge 2560 ]; then heap="-Xmx2g"
elif [ "$mem" -ge 1024 ]; then heap="-Xmx671m -XX:CICompilerCount=2"
else heap="-Xmx300m -Xss512k -XX:CICompilerCount=2"
fi
case " ${{JAVA_OPTS:-}} " in
  *" -Xmx"*) ;;
  *) export JAVA_OPTS="$heap -Dfile.encoding=UTF-8 ${{JAVA_OPTS:-}}" ;;
esac
"""


def detect(args: Sequence[Path]) -> int:
    if (args[0] / "pom.xml").is_file() or (args[0] / "mvnw").is_file():
        print("Java", flush=True)
        return 0
    if any((args[0] / name).is_file() for name in GRADLE_FILES):
        print("Gradle", flush=True)
        return 0
    return 1


def compile_app(args: Sequence[Path]) -> int:
    build_dir, cache_dir = args[0], args[1]
    env_dir = args[2] if len(args) > 2 else None
    config = {
        p.name: p.read_text(encoding="utf-8", errors="replace").rstrip("\n")
        for p in config_var_files(env_dir, {"PATH", "LD_PRELOAD", "LD_LIBRARY_PATH"})
    }
    jdk = choose_jdk(build_dir)
    header(f"Using JDK {jdk.version} ({jdk.home})")
    env = dict(os.environ)
    env.update(config)
    env["JAVA_HOME"] = str(jdk.home)
    env["PATH"] = f"{jdk.home / 'bin'}{os.pathsep}{os.environ['PATH']}"
    env["MAVEN_OPTS"] = config.get("MAVEN_OPTS") or "-Xmx1024m"
    env.setdefault("GRADLE_USER_HOME", str(cache_dir / "java" / "gradle"))
    if (build_dir / "pom.xml").is_file() or (build_dir / "mvnw").is_file():
        build_with_maven(build_dir, cache_dir, env, config, jdk.home)
    else:
        build_with_gradle(build_dir, env, config)
    profile_d = build_dir / ".profile.d"
    profile_d.mkdir(parents=True, exist_ok=True)
    (profile_d / "jvm.sh").write_text(PROFILE.format(java_home=jdk.home), encoding="utf-8")
    write_export(BUILDPACK_DIR, jdk.home / "bin")
    record(build_dir, "JDK", jdk.version)
    return 0


def executable_jar(build_dir: Path) -> str | None:
    """The built jar whose manifest names a Main-Class (a Spring Boot-style jar)."""
    candidates = [
        *sorted((build_dir / "target").glob("*.jar")),
        *sorted((build_dir / "build" / "libs").glob("*.jar")),
    ]
    for jar in candidates:
        if jar.name.endswith(("-sources.jar", "-javadoc.jar", "-plain.jar")):
            continue
        try:
            with zipfile.ZipFile(jar) as archive:
                manifest = archive.read("META-INF/MANIFEST.MF").decode("utf-8", "replace")
        except (OSError, KeyError, zipfile.BadZipFile):
            continue
        if "\nMain-Class:" in "\n" + manifest:
            return jar.relative_to(build_dir).as_posix()
    return None


def release(args: Sequence[Path]) -> int:
    build_dir = args[0]
    jar = executable_jar(build_dir)
    types = {"web": f"java -Dserver.port=$PORT $JAVA_OPTS -jar {jar}"} if jar else {}
    sys.stdout.write(release_yaml(build_dir, ("JDK",), types))
    sys.stdout.flush()
    return 0


def main(argv: Sequence[str]) -> int:
    try:
        return phases.run(
            {"detect": (detect, 1, 1), "compile": (compile_app, 2, 3), "release": (release, 1, 1)},
            argv,
            "Java",
        )
    except BuildError:  # pragma: no cover - phases.run reports every BuildError
        return 1
