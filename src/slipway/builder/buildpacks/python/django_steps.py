"""Django: collectstatic at the end of compile, and the web process release offers for it."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from ..common.output import BuildError, header
from ..common.process import stream
from .environment import ask, base_env, config_flag, read_text
from .install import venv_python
from .runtime import scripts_dir

COLLECTSTATIC = "$ python manage.py collectstatic --noinput"


def collectstatic(build_dir: Path, prefix: Path, config: Mapping[str, str]) -> None:
    if not (build_dir / "manage.py").is_file():
        return
    env = base_env(config)
    scripts = scripts_dir(venv_python(prefix))
    path = [str(prefix / "bin"), str(scripts), os.environ.get("PATH", os.defpath)]
    env["PATH"] = os.pathsep.join(path)
    python = str(venv_python(prefix))
    code, _ = ask([python, "-c", "import django"], cwd=build_dir, env=env)
    if code != 0:
        return
    if config_flag(config, "DISABLE_COLLECTSTATIC"):
        header("Skipping Django collectstatic since DISABLE_COLLECTSTATIC is set")
        return
    header(COLLECTSTATIC)
    code = stream([python, "manage.py", "collectstatic", "--noinput"], cwd=build_dir, env=env)
    if code != 0:
        raise BuildError(
            f"Error while running '{COLLECTSTATIC}'. See the traceback above; fix the app, "
            "or set DISABLE_COLLECTSTATIC=1 to skip it."
        )


def find_wsgi_project(build_dir: Path) -> str | None:
    candidates = [
        p.parent.name
        for p in sorted(build_dir.glob("*/wsgi.py"))
        if not p.parent.name.startswith(".") and p.parent.name.isidentifier()
    ]
    if not candidates:
        return None
    manage = read_text(build_dir / "manage.py")
    settings = re.search(r"""DJANGO_SETTINGS_MODULE['"]\s*,\s*['"]([\w.]+)['"]""", manage)
    if settings:
        package = settings.group(1).split(".")[0]
        if package in candidates:
            return package
    return candidates[0]
