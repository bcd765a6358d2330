"""What the app's Gemfile and Gemfile.lock say: its gems, its Ruby, Rails or Rack (pure reads).

A Gemfile.lock is required, as on Heroku: it is what Bundler installs in deployment mode.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..common.output import BuildError

RUBY_LINE_RE = re.compile(r"""^\s*ruby\s*\(?\s*((?:["'][^"']+["']\s*,?\s*)+)""", re.M)
REQUIREMENT_RE = re.compile(r"""["']([^"']+)["']""")


@dataclass(frozen=True)
class Lock:
    gems: dict[str, str] = field(default_factory=dict)  # name -> version (GEM specs)
    ruby: str | None = None  # "3.1.2" from RUBY VERSION
    bundler: str | None = None  # BUNDLED WITH

    def has(self, name: str) -> bool:
        return name in self.gems


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise BuildError(f"Could not read {path.name} ({exc.strerror}); check the file.") from exc


def read_lock(build_dir: Path) -> Lock:
    path = build_dir / "Gemfile.lock"
    if not path.is_file():
        raise BuildError(
            "Gemfile.lock is required: run `bundle install` (or `bundle lock`) on your machine, "
            "commit Gemfile.lock and push again."
        )
    gems: dict[str, str] = {}
    section = ""
    ruby = bundler = None
    for line in _read(path).splitlines():
        if line and not line.startswith(" "):
            section = line.strip()
            continue
        if section in ("GEM", "PATH", "GIT"):
            spec = re.fullmatch(r"    ([^\s(]+) \(([^)]+)\)", line)
            if spec:
                gems[spec.group(1)] = spec.group(2).split("-")[0]
        elif section == "RUBY VERSION" and line.strip().startswith("ruby "):
            ruby = re.sub(r"p\d+$", "", line.strip().removeprefix("ruby ").strip())
        elif section == "BUNDLED WITH" and line.strip():
            bundler = line.strip()
    return Lock(gems, ruby, bundler)


def gemfile_ruby(build_dir: Path) -> list[str]:
    """The requirements of the Gemfile's `ruby` line (`ruby "~> 3.1"`); [] without one."""
    match = RUBY_LINE_RE.search(_read(build_dir / "Gemfile"))
    if match is None:
        return []
    return REQUIREMENT_RE.findall(match.group(1))
