"""How a built-in buildpack runs: its bin/detect, bin/compile and bin/release run this file.

`python3 common/launch.py BUILDPACK_DIR PHASE ARGS...`, with the machine's python3 inside the
build sandbox, where slipway cannot be imported (standard library only). A buildpack is a
package whose modules import each other and the built-ins' shared helpers (`..common`)
relatively; run as files they are not one. So this makes them one first: the directory
holding the buildpack and `common/` becomes the package `slipway_buildpacks`, the buildpack
its subpackage `buildpack`, whatever the directories are called (a build stages a built-in as
`/buildpacks/00`, with `common/` beside it), then hands the phase to its `phases.main`.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path

ROOT = "slipway_buildpacks"


def load(buildpack: Path) -> types.ModuleType:
    """The buildpack's `phases` module, imported as part of its package."""
    root = sys.modules.get(ROOT) or types.ModuleType(ROOT)
    root.__path__ = [str(buildpack.parent)]
    sys.modules[ROOT] = root
    spec = importlib.util.spec_from_file_location(
        f"{ROOT}.buildpack", buildpack / "__init__.py", submodule_search_locations=[str(buildpack)]
    )
    assert spec is not None
    assert spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = package
    spec.loader.exec_module(package)
    return importlib.import_module(f"{ROOT}.buildpack.phases")


def main(argv: list[str]) -> int:
    if not argv:
        print(" !     usage: launch.py BUILDPACK_DIR PHASE ARGS...", flush=True)
        return 1
    code: int = load(Path(argv[0]).resolve()).main(argv[1:])
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
