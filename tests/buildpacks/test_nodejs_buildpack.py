"""The built-in heroku/nodejs buildpack, run through bin/detect, bin/compile and bin/release
as subprocesses with the real node and npm and the public npm registry (no sandbox).

The Node.js release for the slug is fetched once per module (`node_home`) and handed to the
compiles in SLIPWAY_NODE_HOME, as the platform hands it; the tests about resolving
engines.node run without it, so the buildpack resolves and fetches by itself."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import slipway.builder.buildpacks.nodejs as nodejs_buildpack
from slipway.builder.buildpacks.nodejs import package_json, runtime
from slipway.builder.buildpacks.nodejs import package_managers as pm

BUILDPACK_SRC = Path(nodejs_buildpack.__file__).parent
NPM_TIMEOUT = 180

needs_node = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None, reason="needs node and npm"
)

MAIN_APP: dict[str, Any] = {
    "name": "main-app",
    "version": "1.0.0",
    "private": True,
    "engines": {"node": "20.x"},
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


@pytest.fixture(scope="module", autouse=True)
def node_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path | None]:
    """Node.js 20.x for the slugs, fetched once, named in SLIPWAY_NODE_HOME for every compile."""
    if shutil.which("npm") is None:
        yield None
        return
    root = tmp_path_factory.mktemp("node-runtimes")
    registry = runtime.Registry(dict(os.environ, npm_config_cache=str(root / "npm")), root)
    package = runtime.package_name()
    version = runtime.resolve(registry, package, "20.x", [])
    home = runtime.fetch(registry, package, version, root / "node").home
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SLIPWAY_NODE_HOME", str(home))
        yield home


def run_phase(
    bp: Path,
    python_dir: Path,
    phase: str,
    *args: Path,
    path: str | None = None,
    supplied: bool = True,
) -> Result:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "npm_"))}
    if not supplied:
        env.pop("SLIPWAY_NODE_HOME", None)
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
    supplied: bool = True,
) -> Result:
    if env_dir is None:
        env_dir = app.parent / f"{app.name}-env"
        env_dir.mkdir(exist_ok=True)
    result = run_phase(bp, python_dir, "compile", app, cache, env_dir, path=path, supplied=supplied)
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


def slug_node(app: Path) -> str:
    node = app / ".heroku" / "node" / "bin" / "node"
    out = subprocess.run([str(node), "--version"], capture_output=True, text=True, check=True)
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


@pytest.mark.parametrize(
    ("package", "files", "web"),
    [
        ({"scripts": {"start": "node a.js"}}, {"a.js": ""}, "npm start"),
        ({"main": "lib/app.js"}, {"lib/app.js": ""}, "node lib/app.js"),
        ({}, {"index.js": ""}, "node index.js"),
        ({}, {"server.js": ""}, "node server.js"),
        ({"main": "../outside.js"}, {}, None),
    ],
)
def test_release_default_web(
    tmp_path: Path,
    bp: Path,
    python_dir: Path,
    package: dict[str, Any],
    files: dict[str, str],
    web: str | None,
) -> None:
    app = make_app(tmp_path / "app", {"name": "x", **package})
    for name, content in files.items():
        (app / name).parent.mkdir(parents=True, exist_ok=True)
        (app / name).write_text(content)
    result = run_phase(bp, python_dir, "release", app)
    assert result.returncode == 0
    expected = f'  web: "{web}"\n' if web else "default_process_types: {}\n"
    assert expected in result.stdout


# --------------------------------------------------------------------------------------------
# Ranges: npm's own semver package, run by the machine's node


@needs_node
def test_npm_semver_picks_the_newest_match(tmp_path: Path) -> None:
    registry = runtime.Registry(dict(os.environ), tmp_path)
    versions = ["16.20.2", "18.0.0", "18.20.8", "20.1.0", "20.19.5", "21.0.0-pre", "22.3.0"]
    cases = {
        "18.x": "18.20.8",
        "^20.1.0": "20.19.5",
        ">=18 <21": "20.19.5",
        "16 || 18.0.0": "18.0.0",
        "~20.1": "20.1.0",
        "18 - 20": "20.19.5",
        "*": "22.3.0",
        ">=23": None,
        "4.0.0": None,
    }
    for wanted, expected in cases.items():
        assert registry.max_satisfying(versions, wanted) == expected, wanted
    for bad in ("banana", ">=18 <", "lts"):
        with pytest.raises(ValueError, match="not a version range"):
            registry.max_satisfying(versions, bad)


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
    assert f"-----> Using Node.js {slug_node(app)}" in result.lines
    assert slug_node(app).startswith("20.")
    assert "npm ci" in result.stdout
    assert "-----> Build" in result.lines
    assert "       Running build" in result.lines
    assert (app / "node_modules" / "ms" / "package.json").is_file()
    assert (app / "built.txt").read_text(encoding="utf-8") == "ok"
    assert (first_build.cache / "nodejs" / "key").is_file()
    assert (first_build.cache / "nodejs" / "node_modules" / "ms").is_dir()

    profile = (app / ".profile.d" / "nodejs.sh").read_text(encoding="utf-8")
    assert 'export PATH="$HOME/.heroku/node/bin:$HOME/node_modules/.bin:$PATH"' in profile
    assert str(app) not in profile
    assert first_build.export == (
        f'export PATH="{app}/.heroku/node/bin:{app}/node_modules/.bin:$PATH"\n'
    )

    release = run_phase(bp, python_dir, "release", app)
    assert release.returncode == 0
    assert release.stdout == (
        '---\ndefault_process_types:\n  web: "npm start"\n'
        f'runtimes:\n  "Node.js": "{slug_node(app)}"\n'
    )


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
    # The second build installs nothing: no npm ci/install runs (its output would show).
    app = make_app(
        tmp_path / "app2", MAIN_APP, {"package-lock.json": main_lock, "index.js": INDEX_JS}
    )
    result = compile_app(bp, python_dir, app, first_build.cache)
    assert result.returncode == 0, result.stdout
    assert "-----> Dependencies unchanged; reusing cached node_modules" in result.lines
    assert "Installing dependencies" not in result.stdout
    assert "npm ci" not in result.stdout
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
def test_engines_node_no_release_satisfies(tmp_path: Path, bp: Path, python_dir: Path) -> None:
    app = make_app(tmp_path / "app", {"name": "x", "engines": {"node": ">=99"}})
    result = compile_app(bp, python_dir, app, tmp_path / "cache", supplied=False)
    assert result.returncode == 1
    message = assert_failed(result)
    assert message.startswith('No Node.js release satisfies engines.node ">=99" (the newest is ')
    assert message.endswith("); change engines.node in package.json.")
    assert not (app / "node_modules").exists()
    assert not (app / ".heroku" / "node").exists()


@needs_node
def test_unparseable_engines_node_fails(tmp_path: Path, bp: Path, python_dir: Path) -> None:
    app = make_app(tmp_path / "app", {"name": "x", "version": "1.0.0", "engines": {"node": "lts"}})
    result = compile_app(bp, python_dir, app, tmp_path / "cache", supplied=False)
    assert assert_failed(result) == (
        'engines.node in package.json is "lts", which is not a version range; write one such '
        'as "20.x" or ">=18 <21".'
    )


@needs_node
def test_engines_node_fetched_by_the_buildpack_itself(
    tmp_path: Path, bp: Path, python_dir: Path
) -> None:
    """Without the platform's Node.js, the build resolves and fetches into its own cache."""
    app = make_app(tmp_path / "app", {"name": "x", "version": "1.0.0", "engines": {"node": "18.x"}})
    result = compile_app(bp, python_dir, app, tmp_path / "cache", supplied=False)
    assert result.returncode == 0, result.stdout
    assert slug_node(app).startswith("18.")
    assert f"       Resolved engines.node '18.x' to {slug_node(app)}" in result.lines
    assert (tmp_path / "cache" / "node-runtimes").is_dir()


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
@needs_node
@pytest.mark.parametrize("tool", ["pnpm", "yarn"])
def test_a_lock_of_a_tool_the_machine_lacks_installs_it(
    tmp_path: Path, bp: Path, python_dir: Path, tool: str
) -> None:
    """pnpm-lock.yaml or yarn.lock on a machine without pnpm or yarn: the build installs the
    tool into the slug's Node.js, as Heroku's does, then the app's packages with it."""
    npm_env = dict(os.environ, npm_config_cache=str(tmp_path / "npm"))
    tools = tmp_path / "tools"
    subprocess.run(
        ["npm", "install", "--global", "--prefix", str(tools), "--no-audit", f"{tool}@"
         + {"pnpm": "9", "yarn": "1"}[tool]],
        env=npm_env, check=True, capture_output=True, timeout=NPM_TIMEOUT,
    )  # fmt: skip
    package = {
        "name": "lockapp",
        "version": "1.0.0",
        "private": True,
        "dependencies": {"ms": "2.1.3"},
        "scripts": {"start": "node index.js"},
    }
    lock_dir = make_app(tmp_path / "lock", package)
    lock_only = {"pnpm": ["install", "--lockfile-only"], "yarn": ["install", "--ignore-scripts"]}
    subprocess.run(
        [str(tools / "bin" / tool), *lock_only[tool]],
        cwd=lock_dir, env=npm_env, check=True, capture_output=True, timeout=NPM_TIMEOUT,
    )  # fmt: skip
    lock = {"pnpm": "pnpm-lock.yaml", "yarn": "yarn.lock"}[tool]
    files = {lock: (lock_dir / lock).read_text(encoding="utf-8"), "index.js": INDEX_JS}
    app = make_app(tmp_path / "app", package, files)
    path = os.pathsep.join(
        d for d in os.environ.get("PATH", "").split(os.pathsep) if d and not Path(d, tool).exists()
    )
    result = compile_app(bp, python_dir, app, tmp_path / "cache", path=path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"-----> Installing {tool} " in result.stdout
    assert (app / ".heroku" / "node" / "bin" / tool).exists()
    assert (app / "node_modules" / "ms").is_dir()


@needs_node
def test_engines_npm_is_installed_into_the_slug(tmp_path: Path, bp: Path, python_dir: Path) -> None:
    package = {**MAIN_APP, "engines": {"node": "20.x", "npm": "9.x"}, "scripts": {}}
    app = make_app(tmp_path / "app", package, {"index.js": INDEX_JS})
    result = compile_app(bp, python_dir, app, tmp_path / "cache")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "-----> Installing npm 9.x (engines.npm)" in result.lines
    npm = subprocess.run(
        [str(app / ".heroku" / "node" / "bin" / "npm"), "--version"],
        capture_output=True, text=True, check=True, timeout=60,
        env=dict(os.environ, PATH=f"{app / '.heroku' / 'node' / 'bin'}:{os.environ['PATH']}"),
    )  # fmt: skip
    assert npm.stdout.startswith("9."), npm.stdout
    assert (app / "node_modules" / "ms").is_dir()
    # A range the slug's npm already meets installs nothing.
    again = make_app(tmp_path / "again", {**package, "engines": {"node": "20.x", "npm": ">=9"}}, {})
    met = compile_app(bp, python_dir, again, tmp_path / "cache2")
    assert met.returncode == 0, met.stdout + met.stderr
    assert any(
        line.startswith("       npm ") and "satisfies engines.npm" in line for line in met.lines
    )


def test_which_yarn_or_pnpm_an_app_asks_for(tmp_path: Path) -> None:
    assert pm.wanted_version("yarn", {"packageManager": "yarn@4.1.0+sha512.abc"}, tmp_path) == (
        "4.1.0"
    )
    assert pm.wanted_version("pnpm", {"engines": {"pnpm": "8.x"}}, tmp_path) == "8.x"
    assert pm.wanted_version("yarn", {}, tmp_path) == "1"
    (tmp_path / "pnpm-lock.yaml").write_text("lockfileVersion: '6.0'\n")
    assert pm.wanted_version("pnpm", {}, tmp_path) == "8"
    assert pm.npm_package("yarn", "4.1.0") == "@yarnpkg/cli-dist@4.1.0"
    assert pm.npm_package("yarn", "^1.22") == "yarn@^1.22"
    assert pm.npm_package("pnpm", "9") == "pnpm@9"


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
