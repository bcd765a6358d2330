"""The built-in heroku/nodejs buildpack, run through bin/detect, bin/compile and bin/release
as subprocesses with the real node and npm and the public npm registry (no sandbox)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import slipway.builder.buildpacks.nodejs as nodejs_buildpack
from slipway.builder.buildpacks.nodejs import package_json, semver

BUILDPACK_SRC = Path(nodejs_buildpack.__file__).parent
NPM_TIMEOUT = 180

needs_node = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None, reason="needs node and npm"
)

MAIN_APP: dict[str, Any] = {
    "name": "main-app",
    "version": "1.0.0",
    "private": True,
    "engines": {"node": ">=18"},
    "dependencies": {"ms": "2.1.3", "semver": "7.7.1"},
    "scripts": {
        "start": "node index.js",
        "build": "node -e \"require('fs').writeFileSync('built.txt','ok')\"",
    },
}
INDEX_JS = "console.log(require('ms')(60000))\n"


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


@dataclass
class Built:
    app: Path
    cache: Path
    result: Result
    export: str


def make_app(
    root: Path, package: Mapping[str, Any] | str, files: Mapping[str, str] | None = None
) -> Path:
    root.mkdir(parents=True)
    text = package if isinstance(package, str) else json.dumps(package, indent=2)
    (root / "package.json").write_text(text, encoding="utf-8")
    for name, content in (files or {}).items():
        (root / name).write_text(content, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def python_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PATH entry whose python3 is the system one, as in the sandbox (no slipway importable)."""
    bin_dir = tmp_path_factory.mktemp("python-bin")
    system = Path("/usr/bin/python3")
    (bin_dir / "python3").symlink_to(system if system.exists() else Path(sys.executable))
    return bin_dir


@pytest.fixture(scope="module")
def bp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A writable copy of the buildpack with the shared helpers beside it, as the build runner
    stages a built-in."""
    root = tmp_path_factory.mktemp("bp")
    target = root / "nodejs"
    shutil.copytree(BUILDPACK_SRC, target, ignore=shutil.ignore_patterns("__pycache__", "export"))
    shutil.copytree(
        BUILDPACK_SRC.parent / "common",
        root / "common",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return target


def run_phase(
    bp: Path, python_dir: Path, phase: str, *args: Path, path: str | None = None
) -> Result:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "npm_"))}
    env["PATH"] = os.pathsep.join([str(python_dir), path or os.environ.get("PATH", "")])
    env["STACK"] = "heroku-24"
    env["SOURCE_VERSION"] = "0123456789abcdef0123456789abcdef01234567"
    proc = subprocess.run(
        [str(bp / "bin" / phase), *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=NPM_TIMEOUT,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def compile_app(
    bp: Path,
    python_dir: Path,
    app: Path,
    cache: Path,
    env_dir: Path | None = None,
    path: str | None = None,
) -> Result:
    if env_dir is None:
        env_dir = app.parent / f"{app.name}-env"
        env_dir.mkdir(exist_ok=True)
    result = run_phase(bp, python_dir, "compile", app, cache, env_dir, path=path)
    assert "Traceback" not in result.stdout + result.stderr
    return result


def assert_heroku_style(result: Result) -> None:
    for line in result.lines:
        assert line == "" or line.startswith(("-----> ", " " * 7, " !     ")), line


def assert_failed(result: Result) -> str:
    """The compile failed with a final ` !     ` line; return that line's text."""
    assert result.returncode != 0, result.stdout
    assert result.lines, result.stderr
    assert result.lines[-1].startswith(" !     "), result.stdout
    assert_heroku_style(result)
    return result.lines[-1][7:]


def installed_node() -> str:
    out = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True)
    return out.stdout.strip().lstrip("v")


@pytest.fixture(scope="module")
def main_lock(tmp_path_factory: pytest.TempPathFactory) -> str:
    """package-lock.json for MAIN_APP, made with `npm install --package-lock-only`."""
    work = make_app(tmp_path_factory.mktemp("lock") / "app", MAIN_APP)
    env = dict(os.environ, npm_config_cache=str(work.parent / "npm-cache"))
    subprocess.run(
        ["npm", "install", "--package-lock-only", "--no-audit", "--no-fund"],
        cwd=work,
        env=env,
        capture_output=True,
        check=True,
        timeout=NPM_TIMEOUT,
    )
    return (work / "package-lock.json").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def first_build(
    tmp_path_factory: pytest.TempPathFactory, bp: Path, python_dir: Path, main_lock: str
) -> Built:
    root = tmp_path_factory.mktemp("first")
    app = make_app(root / "app", MAIN_APP, {"package-lock.json": main_lock, "index.js": INDEX_JS})
    cache = root / "cache"
    cache.mkdir()
    result = compile_app(bp, python_dir, app, cache)
    return Built(app, cache, result, (bp / "export").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------------
# detect and release


@pytest.mark.parametrize(("has_package_json", "code"), [(True, 0), (False, 1)])
def test_detect(
    tmp_path: Path, bp: Path, python_dir: Path, has_package_json: bool, code: int
) -> None:
    if has_package_json:
        (tmp_path / "package.json").write_text("{}", encoding="utf-8")
    else:
        (tmp_path / "index.js").write_text("", encoding="utf-8")
    result = run_phase(bp, python_dir, "detect", tmp_path)
    assert result.returncode == code
    assert result.stdout == ("Node.js\n" if code == 0 else "")


def test_release_without_start_script(tmp_path: Path, bp: Path, python_dir: Path) -> None:
    make_app(tmp_path / "app", {"name": "x", "scripts": {"build": "true"}})
    result = run_phase(bp, python_dir, "release", tmp_path / "app")
    assert result.returncode == 0
    assert result.stdout == "---\ndefault_process_types: {}\n"


# --------------------------------------------------------------------------------------------
# The semver matcher


@pytest.mark.parametrize(
    ("range_text", "version", "expected"),
    [
        ("*", "20.20.2", True),
        ("x", "0.0.1", True),
        ("", "20.20.2", True),
        ("20.1.0", "20.1.0", True),
        ("20.1.0", "20.1.1", False),
        ("v20.1.0", "20.1.0", True),
        ("=20.1.0", "20.1.0", True),
        ("=20.1.0", "20.1.2", False),
        ("20", "20.20.2", True),
        ("20", "21.0.0", False),
        ("20.1", "20.1.9", True),
        ("20.1", "20.2.0", False),
        ("20.x", "20.99.0", True),
        ("20.x", "19.9.9", False),
        ("20.1.x", "20.1.7", True),
        ("20.1.x", "20.2.0", False),
        ("20.X.x", "20.3.4", True),
        (">=18", "20.20.2", True),
        (">=18", "17.9.9", False),
        (">= 18", "18.0.0", True),
        (">=v18", "18.0.0", True),
        (">18.2", "18.2.9", False),
        (">18.2", "18.3.0", True),
        (">18", "18.9.9", False),
        (">18", "19.0.0", True),
        (">20.1.0", "20.1.1", True),
        ("<21", "20.99.99", True),
        ("<21", "21.0.0", False),
        ("<=20.0.0", "20.0.0", True),
        ("<=20.0.0", "20.0.1", False),
        ("<=20", "20.9.9", True),
        ("<=20", "21.0.0", False),
        (">=18 <21", "20.20.2", True),
        (">=18 <21", "21.1.0", False),
        (">=18 <21", "16.0.0", False),
        ("16.x || 18.x", "18.4.0", True),
        ("16.x || 18.x", "20.0.0", False),
        ("^18 || ^20", "20.20.2", True),
        ("^20.1.0", "20.1.0", True),
        ("^20.1.0", "20.99.0", True),
        ("^20.1.0", "20.0.9", False),
        ("^20.1.0", "21.0.0", False),
        ("^0.2.3", "0.2.9", True),
        ("^0.2.3", "0.3.0", False),
        ("^0.2.3", "0.2.2", False),
        ("^0.0.3", "0.0.3", True),
        ("^0.0.3", "0.0.4", False),
        ("^0.x", "0.9.0", True),
        ("^20", "20.5.0", True),
        ("~20.1", "20.1.5", True),
        ("~20.1", "20.2.0", False),
        ("~20.1.2", "20.1.1", False),
        ("~20.1.2", "20.1.9", True),
        ("~20", "20.9.0", True),
        ("~20", "21.0.0", False),
        ("18 - 20", "20.20.2", True),
        ("18 - 20", "21.0.0", False),
        ("18 - 20", "17.9.9", False),
        ("18.1.0 - 20.1.0", "20.1.0", True),
        ("18.1.0 - 20.1.0", "20.1.1", False),
        ("<21", "21.0.0-pre", False),
        (">=20.0.0-rc.1", "20.0.0-rc.2", True),
        (">=20.0.0-rc.1", "20.0.0-rc.0", False),
        (">=19", "21.0.0-nightly", False),
    ],
)
def test_semver_ranges(range_text: str, version: str, expected: bool) -> None:
    assert semver.satisfies(version, range_text) is expected


@pytest.mark.parametrize("bad", ["banana", ">=", "1.2.3.4", "^", "lts/*", ">=18 <"])
def test_semver_unparseable_range(bad: str) -> None:
    with pytest.raises(ValueError, match="not a version"):
        semver.parse_range(bad)


def test_heroku_postbuild_runs_instead_of_build() -> None:
    assert (
        package_json.build_script_name({"build": "a", "heroku-postbuild": "b"})
        == "heroku-postbuild"
    )
    assert package_json.build_script_name({"build": "a"}) == "build"
    assert package_json.build_script_name({"start": "a"}) is None


# --------------------------------------------------------------------------------------------
# compile with real npm


@needs_node
def test_compile_installs_builds_and_writes_runtime_files(
    first_build: Built, bp: Path, python_dir: Path
) -> None:
    result, app = first_build.result, first_build.app
    assert result.returncode == 0, result.stdout + result.stderr
    assert_heroku_style(result)
    assert f"-----> Using Node.js {installed_node()}" in result.lines
    assert "       engines.node (package.json): >=18" in result.lines
    assert "npm ci" in result.stdout
    assert "-----> Build" in result.lines
    assert "       Running build" in result.lines
    assert (app / "node_modules" / "ms" / "package.json").is_file()
    assert (app / "built.txt").read_text(encoding="utf-8") == "ok"
    assert (first_build.cache / "nodejs" / "key").is_file()
    assert (first_build.cache / "nodejs" / "node_modules" / "ms").is_dir()

    profile = (app / ".profile.d" / "nodejs.sh").read_text(encoding="utf-8")
    assert 'export PATH="$HOME/node_modules/.bin:$PATH"' in profile
    assert str(app) not in profile
    assert first_build.export == f'export PATH="{app}/node_modules/.bin:$PATH"\n'

    release = run_phase(bp, python_dir, "release", app)
    assert release.returncode == 0
    assert release.stdout == "---\ndefault_process_types:\n  web: npm start\n"


@needs_node
def test_node_modules_is_relocatable(first_build: Built, tmp_path: Path) -> None:
    bin_dir = first_build.app / "node_modules" / ".bin"
    links = list(bin_dir.iterdir())
    assert links
    for link in links:
        assert link.is_symlink(), link
        assert not os.readlink(link).startswith("/"), link
    moved = tmp_path / "elsewhere" / "app"
    shutil.copytree(first_build.app, moved, symlinks=True)
    out = subprocess.run(
        [str(moved / "node_modules" / ".bin" / "semver"), "1.2.3"],
        cwd=moved,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "1.2.3"
    run = subprocess.run(["node", "index.js"], cwd=moved, capture_output=True, text=True)
    assert run.stdout.strip() == "1m", run.stderr


@needs_node
def test_second_compile_reuses_cached_node_modules(
    first_build: Built, bp: Path, python_dir: Path, tmp_path: Path, main_lock: str
) -> None:
    # A logging npm in front of the real one: the second build must not install anything.
    fake_bin = tmp_path / "fake-bin"
    fake_bin.mkdir()
    log = tmp_path / "npm.log"
    real_npm = shutil.which("npm")
    assert real_npm is not None
    (fake_bin / "npm").write_text(
        f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{real_npm}" "$@"\n', encoding="utf-8"
    )
    (fake_bin / "npm").chmod(0o755)

    app = make_app(
        tmp_path / "app2", MAIN_APP, {"package-lock.json": main_lock, "index.js": INDEX_JS}
    )
    path = os.pathsep.join([str(fake_bin), os.environ.get("PATH", "")])
    result = compile_app(bp, python_dir, app, first_build.cache, path=path)
    assert result.returncode == 0, result.stdout
    assert "-----> Dependencies unchanged; reusing cached node_modules" in result.lines
    assert "Installing dependencies" not in result.stdout
    calls = log.read_text(encoding="utf-8").splitlines()
    assert not [c for c in calls if c.split()[:1] in (["ci"], ["install"], ["i"])], calls
    assert (app / "built.txt").read_text(encoding="utf-8") == "ok"
    check = subprocess.run(
        ["node", "-e", "console.log(require('ms')(2000))"],
        cwd=app,
        capture_output=True,
        text=True,
    )
    assert check.stdout.strip() == "2s", check.stderr


@needs_node
def test_dev_dependencies_reach_the_build_and_are_pruned(
    tmp_path: Path, bp: Path, python_dir: Path
) -> None:
    script = (
        "require('is-number'); require('fs').writeFileSync('built.txt', "
        "process.env.GREETING + ' ' + process.env.NODE_ENV)"
    )
    app = make_app(
        tmp_path / "app",
        {
            "name": "dev-app",
            "version": "1.0.0",
            "dependencies": {"ms": "2.1.3"},
            "devDependencies": {"is-number": "7.0.0"},
            "scripts": {"build": f'node -e "{script}"'},
        },
    )
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    (env_dir / "GREETING").write_text("hello", encoding="utf-8")
    (env_dir / "PATH").write_text("/nonexistent", encoding="utf-8")  # must be ignored
    cache = tmp_path / "cache"
    result = compile_app(bp, python_dir, app, cache, env_dir)
    assert result.returncode == 0, result.stdout
    assert "       Using npm" in result.stdout
    assert "npm install" in result.stdout
    assert (app / "built.txt").read_text(encoding="utf-8") == "hello production"
    assert "-----> Pruning devDependencies" in result.lines
    assert not (app / "node_modules" / "is-number").exists()
    assert (app / "node_modules" / "ms").is_dir()
    # The cache keeps the full tree, devDependencies included.
    assert (cache / "nodejs" / "node_modules" / "is-number").is_dir()


@needs_node
def test_engines_node_mismatch_fails(tmp_path: Path, bp: Path, python_dir: Path) -> None:
    app = make_app(tmp_path / "app", {"name": "x", "engines": {"node": ">=99"}})
    result = compile_app(bp, python_dir, app, tmp_path / "cache")
    assert result.returncode == 1
    version = installed_node()
    assert assert_failed(result) == (
        f'package.json asks for Node.js ">=99" (engines.node) but this machine has {version}; '
        "change engines.node or install that Node.js version."
    )
    assert not (app / "node_modules").exists()


@needs_node
def test_unparseable_engines_node_warns_and_continues(
    tmp_path: Path, bp: Path, python_dir: Path
) -> None:
    app = make_app(tmp_path / "app", {"name": "x", "version": "1.0.0", "engines": {"node": "lts"}})
    result = compile_app(bp, python_dir, app, tmp_path / "cache")
    assert result.returncode == 0, result.stdout
    assert '       Warning: cannot understand engines.node "lts"; ignoring it.' in result.lines


@needs_node
def test_invalid_package_json_fails(tmp_path: Path, bp: Path, python_dir: Path) -> None:
    app = make_app(tmp_path / "app", '{"name": "x",, }')
    result = compile_app(bp, python_dir, app, tmp_path / "cache")
    message = assert_failed(result)
    assert message.startswith("package.json is not valid JSON: ")
    assert message.endswith("; fix it and push again.")


@needs_node
def test_failing_build_script_fails(tmp_path: Path, bp: Path, python_dir: Path) -> None:
    app = make_app(
        tmp_path / "app",
        {
            "name": "x",
            "version": "1.0.0",
            "scripts": {"build": "node -e \"console.log('boom'); process.exit(3)\""},
        },
    )
    result = compile_app(bp, python_dir, app, tmp_path / "cache")
    assert assert_failed(result) == "The build script failed; see the lines above."
    assert "       boom" in result.lines


@needs_node
def test_missing_dependency_fails(tmp_path: Path, bp: Path, python_dir: Path) -> None:
    app = make_app(
        tmp_path / "app",
        {"name": "x", "version": "1.0.0", "dependencies": {"slipway-no-such-pkg-zz9": "1.0.0"}},
    )
    result = compile_app(bp, python_dir, app, tmp_path / "cache")
    message = assert_failed(result)
    assert message.startswith("`npm install` failed; check the dependencies in package.json")
    assert "E404" in result.stdout
    assert not (tmp_path / "cache" / "nodejs" / "key").exists()


@needs_node
def test_pnpm_lock_without_pnpm_fails(tmp_path: Path, bp: Path, python_dir: Path) -> None:
    app = make_app(tmp_path / "app", {"name": "x"}, {"pnpm-lock.yaml": "lockfileVersion: '9.0'\n"})
    path = os.pathsep.join(
        d
        for d in os.environ.get("PATH", "").split(os.pathsep)
        if d and not Path(d, "pnpm").exists()
    )
    result = compile_app(bp, python_dir, app, tmp_path / "cache", path=path)
    message = assert_failed(result)
    assert "pnpm-lock.yaml" in message
    assert "pnpm is not installed" in message


@needs_node
def test_app_install_scripts_run_again_on_cache_reuse(
    tmp_path: Path, bp: Path, python_dir: Path
) -> None:
    # npm runs the app's own postinstall on install; a cache hit must run it too, once.
    package = {
        "name": "post-app",
        "version": "1.0.0",
        "dependencies": {"ms": "2.1.3"},
        "scripts": {"postinstall": "node -e \"require('fs').appendFileSync('post.txt','x')\""},
    }
    cache = tmp_path / "cache"
    for name in ("first", "second"):
        app = make_app(tmp_path / name, package)
        result = compile_app(bp, python_dir, app, cache)
        assert result.returncode == 0, result.stdout
        assert (app / "post.txt").read_text(encoding="utf-8") == "x"
    assert "-----> Dependencies unchanged; reusing cached node_modules" in result.lines
    assert "       Running postinstall" in result.lines
