"""heroku/ruby and heroku/java: what they read from an app (pure helpers) and their
detect/release phases run as subprocesses. Their compiles run end to end in
tests/deploy/test_more_languages.py (Bundler, Maven and the JDK in the build sandbox)."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

import slipway.builder.buildpacks as builtins
from slipway.builder.buildpacks.common.output import BuildError
from slipway.builder.buildpacks.java import jdk
from slipway.builder.buildpacks.ruby import gemfile, versions

APPS = Path(__file__).parent.parent / "apps"
ROOT = Path(builtins.__file__).parent


def phase(tmp_path: Path, name: str, which: str, app: Path) -> subprocess.CompletedProcess[str]:
    staged = tmp_path / "bp"
    if not staged.exists():
        for part in ("ruby", "java", "common"):
            shutil.copytree(
                ROOT / part, staged / part, ignore=shutil.ignore_patterns("__pycache__")
            )
    return subprocess.run(
        [str(staged / name / "bin" / which), str(app)], capture_output=True, text=True, check=False
    )


def test_gemfile_lock_of_the_rails_sample() -> None:
    lock = gemfile.read_lock(APPS / "rails")
    assert lock.has("railties")
    assert lock.gems["puma"] == "5.6.5"
    assert lock.bundler == "2.3.15"
    assert gemfile.read_lock(APPS / "sinatra").ruby is not None
    assert gemfile.gemfile_ruby(APPS / "sinatra") == ["~> 3.1"]


def test_a_gemfile_without_a_lock_is_refused(tmp_path: Path) -> None:
    (tmp_path / "Gemfile").write_text('source "https://rubygems.org"\n')
    with pytest.raises(BuildError, match=r"Gemfile\.lock is required"):
        gemfile.read_lock(tmp_path)


def test_ruby_detect_and_release(tmp_path: Path) -> None:
    assert phase(tmp_path, "ruby", "detect", APPS / "sinatra").stdout == "Ruby\n"
    assert phase(tmp_path, "ruby", "detect", APPS / "maven").returncode == 1
    rails = phase(tmp_path, "ruby", "release", APPS / "rails").stdout
    assert 'web: "bin/rails server -p $PORT -e $RAILS_ENV"' in rails
    assert 'RAILS_ENV: "production"' in rails
    assert "SECRET_KEY_BASE:" in rails


@pytest.mark.parametrize(
    ("wanted", "error"),
    [("17", None), ("1.8", r"asks for Java 1\.8"), ("banana", "not a Java version")],
)
def test_jdk_choice(tmp_path: Path, wanted: str, error: str | None) -> None:
    (tmp_path / "system.properties").write_text(f"java.runtime.version={wanted}\n")
    if error is None:
        assert jdk.choose_jdk(tmp_path).major == 17
    else:
        with pytest.raises(BuildError, match=error):
            jdk.choose_jdk(tmp_path)


def test_java_detect_and_release_of_an_executable_jar(tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / "target").mkdir(parents=True)
    (app / "pom.xml").write_text("<project/>")
    with zipfile.ZipFile(app / "target" / "hello-1.0.jar", "w") as jar:
        jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nMain-Class: app.Main\n")
    assert phase(tmp_path, "java", "detect", app).stdout == "Java\n"
    release = phase(tmp_path, "java", "release", app).stdout
    assert 'web: "java -Dserver.port=$PORT $JAVA_OPTS -jar target/hello-1.0.jar"' in release


def test_the_dyno_runs_the_bundler_that_built_it_when_the_locked_one_is_missing() -> None:
    assert versions.bundler_pin("2.5.22", "2.3.15") == "2.3.15"
    assert versions.bundler_pin("1.17.3", "2.3.15") == "2.3.15"
    assert versions.bundler_pin("2.3.7", "2.3.15") is None  # ~> 2.3 is met
    assert versions.bundler_pin("2.1.4", "2.3.15") is None
    assert versions.bundler_pin(None, "2.3.15") is None
    assert versions.bundler_pin("weird", "2.3.15") is None
