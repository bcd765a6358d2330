"""The built-in heroku/nodejs buildpack's entry point: bin/detect, bin/compile and bin/release
run this file with the machine's python3 (see phases.py for the phases and what they make).

The buildpack is a package whose modules import each other and the built-ins' shared helpers
(`../common`) relatively, and run as a file they are not one. So this makes them one first:
the directory holding this buildpack and `common/` becomes the package `slipway_buildpacks`
and this directory its subpackage NAME, whatever the directories are called (a build
stages the buildpack as `/buildpacks/00`, with `common/` beside it). Standard library only:
the sandbox has neither slipway nor its dependencies.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path

NAME = "nodejs"
ROOT = "slipway_buildpacks"


def load() -> types.ModuleType:
    """The buildpack's `phases` module, imported as part of its package."""
    here = Path(__file__).resolve().parent
    if not (here.parent / "common" / "__init__.py").is_file():
        raise ImportError(
            f"The built-in buildpacks' shared helpers are not beside {here} (common/); "
            "copy the buildpack together with its sibling common/ directory."
        )
    root = sys.modules.get(ROOT) or types.ModuleType(ROOT)
    root.__path__ = [str(here.parent)]
    sys.modules[ROOT] = root
    spec = importlib.util.spec_from_file_location(
        f"{ROOT}.{NAME}", here / "__init__.py", submodule_search_locations=[str(here)]
    )
    assert spec is not None
    assert spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = package
    spec.loader.exec_module(package)
    return importlib.import_module(f"{ROOT}.{NAME}.phases")


if __name__ == "__main__":
    try:
        phases = load()
    except ImportError as exc:
        print(f" !     {exc}", flush=True)
        sys.exit(1)
    sys.exit(phases.main(sys.argv[1:]))
