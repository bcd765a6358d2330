"""What to install: the dependency plan, from the first of the files Heroku looks at.

requirements.txt, then Pipfile.lock (the `default` packages, pinned), then uv.lock (with uv),
then poetry.lock (with Poetry: the main group), then a project (pyproject.toml or setup.py:
`pip install .`); with none of them, nothing is installed. The plan also says which files
its cache key covers, and whether the install copies the app's own code into the venv (then
the key covers the whole tree).
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..common.output import BuildError
from .environment import read_text


@dataclass
class Plan:
    kind: str  # "requirements", "pipfile", "uv", "poetry", "project" or "none"
    tool: str  # "pip", "uv" or "poetry"
    key_files: list[Path] = field(default_factory=list)
    hash_tree: bool = False  # the install copies app code into the venv: key on the whole tree


LOCAL_REQUIREMENT_RE = re.compile(r"(?:^|\s|@)\s*(?:\.\.?(?:/|$|\[)|/|file:)")


def scan_requirements(path: Path, seen: set[Path]) -> bool:
    """Add path and the files it includes (-r, -c) to seen; True if it installs local code."""
    real = path.resolve()
    if real in seen or not path.is_file():
        return False
    seen.add(real)
    local = False
    for raw in read_text(path).splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not line:
            continue
        include = re.match(
            r"(?:-r|-c|--requirement|--constraint)(?:\s*=\s*|\s+|(?=[^\s-]))(\S+)", line
        )
        if include:
            target = path.parent / include.group(1)
            local |= scan_requirements(target, seen)
            continue
        if line.startswith(("-e", "--editable")):
            target_text = re.sub(r"^(?:-e|--editable)\s*=?\s*", "", line)
            if "://" not in target_text or target_text.startswith("file:"):
                local = True
            continue
        if LOCAL_REQUIREMENT_RE.search(line):
            local = True
    return local


def pyproject_is_package(build_dir: Path) -> bool:
    path = build_dir / "pyproject.toml"
    if not path.is_file():
        return False
    try:
        data = tomllib.loads(read_text(path))
    except tomllib.TOMLDecodeError as exc:
        raise BuildError(f"pyproject.toml is not valid TOML ({exc}); fix it.") from exc
    tool = data.get("tool")
    uv = tool.get("uv") if isinstance(tool, dict) else None
    uv_package = uv.get("package") if isinstance(uv, dict) else None
    if isinstance(uv_package, bool):
        return uv_package
    return "build-system" in data


def make_plan(build_dir: Path) -> Plan:
    def has(name: str) -> bool:
        return (build_dir / name).is_file()

    if has("requirements.txt"):
        seen: set[Path] = set()
        local = scan_requirements(build_dir / "requirements.txt", seen)
        return Plan("requirements", "pip", sorted(seen), hash_tree=local)
    if has("Pipfile.lock"):
        _, local = pipfile_requirements(build_dir)
        return Plan("pipfile", "pip", [build_dir / "Pipfile.lock"], hash_tree=local)
    if has("Pipfile"):
        raise BuildError(
            "Pipfile found but no Pipfile.lock; run pipenv lock and commit Pipfile.lock."
        )
    if has("uv.lock"):
        files = [build_dir / "uv.lock", build_dir / "pyproject.toml"]
        return Plan("uv", "uv", [f for f in files if f.is_file()], pyproject_is_package(build_dir))
    if has("poetry.lock"):
        if not has("pyproject.toml"):
            raise BuildError("poetry.lock found but no pyproject.toml; commit pyproject.toml.")
        files = [build_dir / "poetry.lock", build_dir / "pyproject.toml"]
        # Its dependencies only (`--no-root`): the app's own code runs from /app.
        return Plan("poetry", "poetry", files)
    if has("pyproject.toml") or has("setup.py"):
        files = [build_dir / n for n in ("pyproject.toml", "setup.py", "setup.cfg") if has(n)]
        return Plan("project", "pip", files, hash_tree=True)
    return Plan("none", "pip")


def pipfile_requirements(build_dir: Path) -> tuple[list[str], bool]:
    """Requirement lines for the `default` packages pinned in Pipfile.lock; True if local."""
    try:
        lock = json.loads(read_text(build_dir / "Pipfile.lock"))
    except json.JSONDecodeError as exc:
        raise BuildError(
            f"Pipfile.lock is not valid JSON ({exc}); run pipenv lock and commit it."
        ) from exc
    default = lock.get("default", {}) if isinstance(lock, dict) else None
    if not isinstance(default, dict):
        raise BuildError("Pipfile.lock has no `default` section; run pipenv lock and commit it.")
    lines: list[str] = []
    local = False
    sources = lock.get("_meta", {}).get("sources", [])
    for source in sources if isinstance(sources, list) else []:
        url = source.get("url") if isinstance(source, dict) else None
        if isinstance(url, str) and "pypi.org/simple" not in url:
            lines.append(f"--extra-index-url {url}")
    for name, spec in sorted(default.items()):
        if not isinstance(spec, dict):
            spec = {"version": spec} if isinstance(spec, str) else {}
        extras = spec.get("extras")
        extra = f"[{','.join(extras)}]" if isinstance(extras, list) and extras else ""
        version = spec.get("version")
        if isinstance(spec.get("git"), str):
            url = spec["git"] if spec["git"].startswith("git+") else f"git+{spec['git']}"
            ref = f"@{spec['ref']}" if isinstance(spec.get("ref"), str) else ""
            line = f"{name}{extra} @ {url}{ref}"
        elif isinstance(spec.get("path"), str):
            local = True
            line = f"{spec['path']}{extra}"
        elif isinstance(spec.get("file"), str):
            line = f"{name}{extra} @ {spec['file']}"
        elif isinstance(version, str) and version not in ("", "*"):
            pinned = version if version[0] in "=<>!~" else f"=={version}"
            line = f"{name}{extra}{pinned}"
        else:
            line = f"{name}{extra}"
        markers = spec.get("markers")
        if isinstance(markers, str) and markers:
            line = f"{line} ; {markers}"
        lines.append(line)
    return lines, local
