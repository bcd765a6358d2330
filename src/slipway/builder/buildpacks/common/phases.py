"""The entry point a buildpack's `phases.main` hands its phases to: usage, and failures as one
` !     ` line (never a traceback), for the buildpacks written after the first two."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from .output import BuildError, error

Phase = Callable[[Sequence[Path]], int]


def run(phases: Mapping[str, tuple[Phase, int, int]], argv: Sequence[str], language: str) -> int:
    """phases: name -> (function, fewest args, most args); each arg a directory."""
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="backslashreplace")
    name, args = (argv[0], list(argv[1:])) if argv else ("", [])
    if name not in phases or not phases[name][1] <= len(args) <= phases[name][2]:
        error(
            "usage: launch.py BUILDPACK_DIR detect BUILD_DIR | compile BUILD_DIR CACHE_DIR "
            "[ENV_DIR] | release BUILD_DIR"
        )
        return 2
    try:
        return phases[name][0]([Path(a).absolute() for a in args])
    except BuildError as exc:
        error(str(exc))
    except KeyboardInterrupt:
        error("The build was interrupted; run it again.")
    except Exception as exc:  # never a traceback: one line saying what broke
        error(
            f"The {language} buildpack failed unexpectedly ({type(exc).__name__}: {exc}); "
            "build again, and report a bug if it keeps happening."
        )
    return 1
