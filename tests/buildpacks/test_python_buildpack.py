"""The built-in heroku/python buildpack, driven through bin/detect, bin/compile and bin/release
as real subprocesses on temporary directories, with real pip installs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

import slipway.builder.buildpacks.python as python_buildpack
from slipway.builder.buildpacks.python import tools

BUILDPACK_SRC = Path(python_buildpack.__file__).parent
ERROR_PREFIX = " !     "


@dataclass
class Build:
    """One compile: its directories, exit status and output."""

    buildpack: Path
    build_dir: Path
    cache_dir: Path
    env_dir: Path
    returncode: int
    output: str

    @property
    def last_line(self) -> str:
        return self.output.rstrip("\n").splitlines()[-1]

    @property
    def venv(self) -> Path:
        return self.build_dir / ".heroku" / "python"


def copy_buildpack(dest: Path) -> Path:
    """A writable copy of the buildpack with the shared helpers beside it, as the build runner
    stages a built-in."""
    target = dest / "buildpack"
    shutil.copytree(BUILDPACK_SRC, target, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(
        BUILDPACK_SRC.parent / "common",
        dest / "common",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return target


def run_phase(
    buildpack: Path, phase: str, *args: Path, cwd: Path
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, STACK="heroku-24", SOURCE_VERSION="0" * 40)
    # cwd is outside the app, as the app's .python-version must not steer a pyenv shim of python3.
    return subprocess.run(
        [str(buildpack / "bin" / phase), *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def write_files(root: Path, files: Mapping[str, str]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content), encoding="utf-8")


def compile_app(
    base: Path,
    files: Mapping[str, str],
    *,
    cache_dir: Path | None = None,
    config: Mapping[str, str] | None = None,
    name: str = "build",
) -> Build:
    work = base / name
    work.mkdir(parents=True)
    buildpack = copy_buildpack(work)
    build_dir = work / "app"
    build_dir.mkdir()
    write_files(build_dir, files)
    cache_dir = cache_dir or work / "cache"
    cache_dir.mkdir(exist_ok=True)
    env_dir = work / "env"
    env_dir.mkdir()
    for key, value in (config or {}).items():
        (env_dir / key).write_text(value, encoding="utf-8")
    done = run_phase(buildpack, "compile", build_dir, cache_dir, env_dir, cwd=work)
    assert done.stderr == "", done.stderr
    return Build(buildpack, build_dir, cache_dir, env_dir, done.returncode, done.stdout)


def assert_ok(build: Build) -> None:
    assert build.returncode == 0, build.output
    assert "Traceback" not in build.output
    for line in build.output.splitlines():
        assert line.startswith(("-----> ", "       ")) or line.strip() == "", line


def assert_failed(build: Build) -> None:
    assert build.returncode != 0, build.output
    assert build.last_line.startswith(ERROR_PREFIX), build.output
    assert "Traceback" not in build.output.split(" !     ")[-1]


SIX_APP = {"requirements.txt": "six\npyflakes\n", "app.py": "import six\n"}


@pytest.fixture(scope="module")
def six_build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """requirements.txt with six (and pyflakes, for a console script), built once."""
    return compile_app(tmp_path_factory.mktemp("six"), SIX_APP)


@pytest.fixture(scope="module")
def cached_build(tmp_path_factory: pytest.TempPathFactory, six_build: Build) -> Build:
    """The same app in a new build dir, with the first build's cache."""
    return compile_app(tmp_path_factory.mktemp("six-again"), SIX_APP, cache_dir=six_build.cache_dir)


# ------------------------------------------------------------------------------------------
# detect


@pytest.mark.parametrize(
    "marker",
    ["requirements.txt", "Pipfile", "pyproject.toml", "setup.py", "uv.lock", ".python-version"],
)
def test_detect_python_app(tmp_path: Path, marker: str) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / marker).write_text("\n")
    done = run_phase(BUILDPACK_SRC, "detect", tmp_path / "app", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout == "Python\n"


def test_detect_other_app(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "package.json").write_text("{}\n")
    (tmp_path / "app" / "sub").mkdir()
    (tmp_path / "app" / "sub" / "requirements.txt").write_text("six\n")
    done = run_phase(BUILDPACK_SRC, "detect", tmp_path / "app", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout.strip() in ("", "no")


# ------------------------------------------------------------------------------------------
# compile: install, cache, relocation


def test_compile_requirements(six_build: Build) -> None:
    assert_ok(six_build)
    assert re.search(r"^-----> Using Python 3\.\d+\.\d+$", six_build.output, re.M)
    assert "-----> Installing requirements with pip\n" in six_build.output
    assert "-----> Python app detected" not in six_build.output
    assert "six" in six_build.output
    python = six_build.venv / "bin" / "python"
    subprocess.run([str(python), "-c", "import six, pyflakes"], check=True, timeout=30)

    profile = (six_build.build_dir / ".profile.d" / "python.sh").read_text()
    assert profile.startswith('export PATH="$HOME/.heroku/python/bin:')
    assert "export PYTHONUNBUFFERED=true" in profile
    assert "export LANG=${LANG:-C.UTF-8}" in profile
    assert "export WEB_CONCURRENCY=${WEB_CONCURRENCY:-2}" in profile
    assert str(six_build.build_dir) not in profile

    export = (six_build.buildpack / "export").read_text()
    assert export.startswith(f'export PATH="{six_build.build_dir}/.heroku/python/bin:')
    assert (six_build.cache_dir / "python" / "key").is_file()
    assert (six_build.cache_dir / "python" / "runtime" / "bin" / "python").exists()
    # The interpreter and its standard library are the slug's own: nothing links outside.
    prefix = six_build.venv
    assert (prefix / "bin" / "python").resolve().is_relative_to(prefix)
    stdlib = subprocess.run(
        [str(prefix / "bin" / "python"), "-I", "-c", "import os; print(os.__file__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(stdlib).is_relative_to(prefix)
    assert not list(prefix.rglob("EXTERNALLY-MANAGED"))


def test_unchanged_requirements_reuse_the_cache(cached_build: Build) -> None:
    assert_ok(cached_build)
    assert "-----> Requirements unchanged; reusing the cached environment" in cached_build.output
    assert "Installing requirements" not in cached_build.output
    assert "Collecting" not in cached_build.output
    assert "Downloading" not in cached_build.output
    python = cached_build.venv / "bin" / "python"
    done = subprocess.run(
        [str(python), "-c", "import six, sys; print(sys.prefix)"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert done.stdout.strip() == str(cached_build.venv)


def test_slug_is_relocatable(tmp_path: Path, cached_build: Build) -> None:
    """The slug works elsewhere (as at /app), once the build directory is gone."""
    slug = tmp_path / "slug"
    shutil.copytree(cached_build.build_dir, slug, symlinks=True)
    moved = cached_build.build_dir.with_name("app-gone")
    cached_build.build_dir.rename(moved)
    try:
        # Debian's python installs console scripts into local/bin (its posix_local scheme),
        # which .profile.d puts on PATH beside bin.
        prefix = slug / ".heroku" / "python"
        script = next(
            p
            for p in (prefix / "bin" / "pyflakes", prefix / "local" / "bin" / "pyflakes")
            if p.exists()
        ).read_text()
        assert script.startswith("#!/usr/bin/env python3\n")
        (tmp_path / "lint.py").write_text("import os\n")
        env = dict(os.environ, HOME=str(slug))
        done = subprocess.run(
            [
                "sh",
                "-c",
                '. "$HOME/.profile.d/python.sh" && command -v python3 && pyflakes "$1"',
                "sh",
                str(tmp_path / "lint.py"),
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        moved.rename(cached_build.build_dir)
    assert done.stdout.splitlines()[0] == str(slug / ".heroku" / "python" / "bin" / "python3")
    assert "'os' imported but unused" in done.stdout, done.stdout + done.stderr
    assert done.returncode == 1  # pyflakes found a problem, i.e. it ran


# ------------------------------------------------------------------------------------------
# compile: failures


def test_unavailable_python_version(tmp_path: Path) -> None:
    build = compile_app(
        tmp_path, {".python-version": "# pinned\n2.7\n", "requirements.txt": "six\n"}
    )
    assert_failed(build)
    assert build.returncode == 1
    assert "Python 2.7 is not installed on this machine" in build.last_line
    assert re.search(r"installed: 3\.\d+\.\d+", build.last_line)
    assert not (build.venv).exists()


def test_broken_requirements(tmp_path: Path) -> None:
    build = compile_app(
        tmp_path, {"requirements.txt": "this-package-does-not-exist-slipway==1.0\n"}
    )
    assert_failed(build)
    assert "requirements.txt" in build.last_line
    assert "-----> Installing requirements with pip" in build.output
    assert not (build.cache_dir / "python" / "key").exists()


def test_pipfile_without_lock(tmp_path: Path) -> None:
    build = compile_app(tmp_path, {"Pipfile": "[packages]\nsix = '*'\n"})
    assert_failed(build)
    assert "pipenv lock" in build.last_line


def test_pipfile_lock(tmp_path: Path) -> None:
    lock = '{"_meta": {}, "default": {"six": {"version": "==1.17.0", "hashes": []}}, "develop": {}}'
    build = compile_app(tmp_path, {"Pipfile": "[packages]\nsix = '*'\n", "Pipfile.lock": lock})
    assert_ok(build)
    python = build.venv / "bin" / "python"
    done = subprocess.run(
        [str(python), "-c", "import six; print(six.__version__)"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert done.stdout.strip() == "1.17.0"


@pytest.fixture(scope="module")
def tool_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A build cache shared by the lock-file builds: uv and Poetry are installed into it once
    (by the buildpack's own installer, as the first such build of an app does)."""
    return tmp_path_factory.mktemp("tool-cache")


def _locked(tool_cache: Path, name: str, project: str, tmp_path: Path) -> dict[str, str]:
    """pyproject.toml and the lock the tool writes for it, with the tool the build installs."""
    command = tools.tool(name, tool_cache, dict(os.environ))
    lock_dir = tmp_path / "lock"
    write_files(lock_dir, {"pyproject.toml": project})
    subprocess.run(
        [str(command), "lock"], cwd=lock_dir, check=True, capture_output=True, timeout=300
    )
    lock = tools.LOCKS[name]
    return {"pyproject.toml": project, lock: (lock_dir / lock).read_text()}


def test_uv_lock(tmp_path: Path, tool_cache: Path) -> None:
    project = "[project]\nname = 'uvapp'\nversion = '0.1.0'\ndependencies = ['six']\n"
    files = _locked(tool_cache, "uv", project, tmp_path)
    build = compile_app(tmp_path, files, cache_dir=tool_cache)
    assert_ok(build)
    assert "-----> Installing requirements with uv" in build.output
    python = build.venv / "bin" / "python"
    subprocess.run([str(python), "-c", "import six"], check=True, timeout=30)
    again = compile_app(tmp_path, files, cache_dir=build.cache_dir, name="again")
    assert "reusing the cached environment" in again.output


def test_poetry_lock_installs_its_main_group(tmp_path: Path, tool_cache: Path) -> None:
    # Poetry 2's layout, not a package (package-mode = false), with several top-level
    # directories: `pip install .` would refuse it ("Multiple top-level packages").
    project = textwrap.dedent(
        """\
        [project]
        name = "poetryapp"
        version = "0.1.0"
        requires-python = ">=3.9"
        dependencies = ["six"]

        [tool.poetry]
        package-mode = false

        [tool.poetry.group.dev.dependencies]
        idna = "*"
        """
    )
    files = {
        **_locked(tool_cache, "poetry", project, tmp_path),
        "templates/index.html": "<p>hi</p>\n",
        "static/app.css": "p {}\n",
        "mypkg/__init__.py": "",
        "otherpkg/__init__.py": "",
    }
    build = compile_app(tmp_path, files, cache_dir=tool_cache)
    assert_ok(build)
    assert "-----> Installing requirements with poetry" in build.output
    assert "Installing the main group pinned in poetry.lock" in build.output
    python = build.venv / "bin" / "python"
    subprocess.run([str(python), "-c", "import six"], check=True, timeout=30)
    dev_group = subprocess.run([str(python), "-c", "import idna"], capture_output=True)
    assert dev_group.returncode != 0, "the dev group is not installed"
    # Poetry itself stays out of the slug.
    assert not list(build.venv.rglob("poetry"))
    # A lock out of date with pyproject.toml fails with what to run.
    stale = compile_app(
        tmp_path,
        {**files, "pyproject.toml": project.replace('["six"]', '["six", "idna"]')},
        cache_dir=tool_cache,
        name="stale",
    )
    assert_failed(stale)
    assert "run poetry lock and commit it" in stale.last_line


def test_pip_install_project_is_never_stale(tmp_path: Path) -> None:
    """`pip install .` copies the app's code into the venv: changed code must not be cached."""
    files = {
        "pyproject.toml": """\
            [build-system]
            requires = ["flit_core>=3.4"]
            build-backend = "flit_core.buildapi"

            [project]
            name = "greeter"
            version = "0.1.0"
            description = "Greets."
            """,
        "greeter.py": "GREETING = 'one'\n",
    }
    first = compile_app(tmp_path, files)
    assert_ok(first)
    second = compile_app(
        tmp_path, {**files, "greeter.py": "GREETING = 'two'\n"}, cache_dir=first.cache_dir, name="b"
    )
    assert_ok(second)
    assert "reusing the cached environment" not in second.output
    done = subprocess.run(
        [
            str(second.venv / "bin" / "python"),
            "-I",
            "-c",
            "import greeter; print(greeter.GREETING)",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert done.stdout.strip() == "two"


# ------------------------------------------------------------------------------------------
# Django


DJANGO_APP = {
    "requirements.txt": "django\ngunicorn\n",
    "manage.py": """\
        import os
        import sys

        if __name__ == "__main__":
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
            from django.core.management import execute_from_command_line

            execute_from_command_line(sys.argv)
        """,
    "mysite/__init__.py": "",
    "mysite/settings.py": """\
        import os
        from pathlib import Path

        BASE_DIR = Path(__file__).resolve().parent.parent
        SECRET_KEY = "test"
        DEBUG = False
        ALLOWED_HOSTS = ["*"]
        INSTALLED_APPS = [
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django.contrib.staticfiles",
        ]
        ROOT_URLCONF = "mysite.urls"
        STATIC_URL = "static/"
        STATIC_ROOT = BASE_DIR / os.environ.get("STATIC_DIRNAME", "staticfiles")
        if os.environ.get("BREAK_STATIC"):
            del STATIC_ROOT
        """,
    "mysite/urls.py": "urlpatterns = []\n",
    "mysite/wsgi.py": """\
        import os

        from django.core.wsgi import get_wsgi_application

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
        application = get_wsgi_application()
        """,
}


@pytest.fixture(scope="module")
def django_build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    # The config var reaches collectstatic; PATH in ENV_DIR must not reach anything.
    config = {"STATIC_DIRNAME": "collected", "PATH": "/nonexistent"}
    return compile_app(tmp_path_factory.mktemp("django"), DJANGO_APP, config=config)


def test_django_collectstatic(django_build: Build) -> None:
    assert_ok(django_build)
    assert "-----> $ python manage.py collectstatic --noinput\n" in django_build.output
    assert "static files copied" in django_build.output
    assert (django_build.build_dir / "collected" / "admin" / "css").is_dir()


def test_django_release(django_build: Build) -> None:
    done = run_phase(
        django_build.buildpack, "release", django_build.build_dir, cwd=django_build.build_dir.parent
    )
    assert done.returncode == 0
    assert done.stdout.startswith('---\ndefault_process_types:\n  web: "gunicorn mysite.wsgi"\n')
    assert '\nruntimes:\n  "Python": "3.' in done.stdout


def test_django_collectstatic_disabled(tmp_path: Path, django_build: Build) -> None:
    build = compile_app(
        tmp_path,
        DJANGO_APP,
        cache_dir=django_build.cache_dir,
        config={"DISABLE_COLLECTSTATIC": "1"},
    )
    assert_ok(build)
    assert "reusing the cached environment" in build.output
    assert "$ python manage.py collectstatic" not in build.output
    assert not (build.build_dir / "staticfiles").exists()


def test_django_collectstatic_failure(tmp_path: Path, django_build: Build) -> None:
    build = compile_app(
        tmp_path, DJANGO_APP, cache_dir=django_build.cache_dir, config={"BREAK_STATIC": "1"}
    )
    assert_failed(build)
    assert build.last_line.startswith(
        " !     Error while running '$ python manage.py collectstatic --noinput'."
    )
    assert "DISABLE_COLLECTSTATIC=1" in build.last_line
    assert "ImproperlyConfigured" in build.output  # Django's traceback, indented, above


# ------------------------------------------------------------------------------------------
# release


def test_release_without_django(six_build: Build) -> None:
    done = run_phase(six_build.buildpack, "release", six_build.build_dir, cwd=six_build.cache_dir)
    assert done.returncode == 0
    yaml = pytest.importorskip("yaml")
    answer = yaml.safe_load(done.stdout)
    assert answer["default_process_types"] == {}
    assert list(answer["runtimes"]) == ["Python"]


def test_release_django_without_gunicorn(tmp_path: Path) -> None:
    app = tmp_path / "app"
    write_files(app, {"manage.py": "", "mysite/wsgi.py": ""})
    done = run_phase(BUILDPACK_SRC, "release", app, cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout == (
        '---\ndefault_process_types:\n  web: "python manage.py runserver 0.0.0.0:$PORT"\n'
    )
