"""The built-ins' shared helpers (`buildpacks/common/`): staged beside each built-in by the
build runner so the buildpack imports them inside the real sandbox, missing -> one clear line,
and the one behaviour for a program that cannot be started."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

import slipway.builder.buildpacks.python as python_buildpack
from slipway.builder.buildpack_resolver import BuildpackResolver
from slipway.builder.buildpacks.common.process import CannotRun, stream
from slipway.builder.buildpacks.python.environment import ask, base_env
from slipway.builder.runner import BuildRequest, BuildRunner
from slipway.runtime.sandbox import Sandbox

BUILDPACK_SRC = Path(python_buildpack.__file__).parent


def source_archive(path: Path, files: dict[str, str]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, content in files.items():
            data = content.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_a_builtin_runs_in_the_sandbox_with_its_shared_helpers(tmp_path: Path) -> None:
    # setup.cfg alone: the Python buildpack detects the app and installs nothing (offline).
    source = source_archive(
        tmp_path / "source.tgz", {"setup.cfg": "", "Procfile": "web: python -m http.server\n"}
    )
    lines: list[str] = []
    runner = BuildRunner(Sandbox(), BuildpackResolver(tmp_path / "buildpacks"))
    outcome = runner.run(
        BuildRequest(
            source=source,
            work_dir=tmp_path / "work",
            cache_dir=tmp_path / "cache",
            buildpacks=["heroku/python"],
            config={},
            stack="heroku-24",
            timeout=300,
        ),
        lines.append,
    )
    assert "-----> Python app detected" in lines, lines
    assert any(line.startswith("-----> Using Python 3.") for line in lines), lines
    assert not any(line.startswith(" !     ") for line in lines), lines
    assert (tmp_path / "work" / "buildpacks" / "common" / "output.py").is_file()
    assert (outcome.build_dir / ".heroku" / "python" / "bin" / "python").exists()
    assert outcome.process_types == {"web": "python -m http.server"}


def test_a_builtin_copied_without_its_shared_helpers_says_so(tmp_path: Path) -> None:
    alone = tmp_path / "python"
    shutil.copytree(BUILDPACK_SRC, alone, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "app").mkdir()
    done = subprocess.run(
        [str(alone / "bin" / "detect"), str(tmp_path / "app")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout.startswith(" !     The built-in buildpacks' shared helpers are not beside")
    assert "Traceback" not in done.stderr


def test_a_program_that_cannot_start_fails_the_build_in_one_sentence(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-tool")
    with pytest.raises(CannotRun) as raised:
        stream([missing, "--version"], cwd=tmp_path, env=base_env())
    assert str(raised.value) == (
        f"Could not run {missing}: No such file or directory; check that it is installed."
    )
    # The Python buildpack's questions take a program that cannot start as a no (127, as sh).
    code, out = ask([missing], cwd=tmp_path, env=base_env())
    assert code == 127
    assert "No such file or directory" in out
