"""The chosen Python copied into the slug, so nothing in the slug points at the host's Python.

    BUILD_DIR/.heroku/python/bin/python3.N     the interpreter (python3 and python link to it)
    BUILD_DIR/.heroku/python/lib/python3.N     its standard library, lib-dynload included
    BUILD_DIR/.heroku/python/lib/libpython3.N.so.1.0   when the interpreter is linked to it,
                                               with the interpreter's RUNPATH set to
                                               $ORIGIN/../lib (patchelf)

The app's packages go into that copy's own site-packages, as on Heroku. Python finds its
prefix from where its executable is, so the copy works at /app and wherever the build ran.
Left out: the test suite, IDLE, Tk, other site-packages, static libraries, and Debian's
EXTERNALLY-MANAGED marker (the copy is the app's own Python, pip may install into it).
Shared system libraries (libc, libssl, libffi ...) come from the stack, as on Heroku.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
from pathlib import Path

from ..common.output import BuildError, detail
from ..common.process import CannotRun, capture
from .environment import ask, base_env
from .interpreters import Interpreter, probe

SKIPPED = {
    "test",
    "tests",
    "idlelib",
    "tkinter",
    "turtledemo",
    "site-packages",
    "dist-packages",
    "EXTERNALLY-MANAGED",
    "__phello__",
}
LAYOUT_PROBE = (
    "import json, sys, sysconfig as s;"
    "print(json.dumps({'stdlib': s.get_paths()['stdlib'],"
    "'dynload': s.get_config_var('DESTSHARED'),"
    "'shared': bool(s.get_config_var('Py_ENABLE_SHARED')), 'libdir': s.get_config_var('LIBDIR'),"
    "'ldlibrary': s.get_config_var('LDLIBRARY'), 'instsoname': s.get_config_var('INSTSONAME')}))"
)
PIP_WHEEL_DIRS = ("/usr/share/python-wheels",)


def _ignore(directory: str, names: list[str]) -> set[str]:
    skipped = {n for n in names if n in SKIPPED or n.endswith(".a")}
    if os.path.basename(directory).startswith("config-"):
        skipped |= {n for n in names if n.endswith((".a", ".o"))}
    return skipped


def copy_interpreter(interpreter: Interpreter, prefix: Path) -> Interpreter:
    """Copy interpreter and its standard library into prefix; the copy, checked to run."""
    code, out = ask([interpreter.path, "-I", "-c", LAYOUT_PROBE], cwd="/", env=base_env())
    try:
        layout = json.loads(out.strip().splitlines()[-1]) if code == 0 else None
    except (ValueError, IndexError):
        layout = None
    if not isinstance(layout, dict):
        raise BuildError(f"Could not read where {interpreter.path} keeps its standard library.")
    short = interpreter.short
    stdlib = Path(layout["stdlib"])
    bin_dir = prefix / "bin"
    lib_dir = prefix / "lib" / f"python{short}"
    bin_dir.mkdir(parents=True, exist_ok=True)
    exe = bin_dir / f"python{short}"
    shutil.copy2(os.path.realpath(interpreter.path), exe)
    for alias in ("python3", "python"):
        (bin_dir / alias).symlink_to(exe.name)
    shutil.copytree(stdlib, lib_dir, symlinks=False, ignore=_ignore)
    dynload = layout.get("dynload")
    has_dynload = (lib_dir / "lib-dynload").is_dir()
    if isinstance(dynload, str) and Path(dynload).is_dir() and not has_dynload:
        shutil.copytree(dynload, lib_dir / "lib-dynload")
    if layout.get("shared"):
        _copy_libpython(layout, prefix / "lib", exe)
    copied = probe(str(exe))
    if copied is None or copied.version != interpreter.version:
        raise BuildError(
            f"The copy of Python {interpreter.version_text} in the slug does not run; "
            "report this with the build output."
        )
    code, out = ask(
        [str(exe), "-I", "-c", "import sys, encodings, ssl, sqlite3, zlib; print(sys.prefix)"],
        cwd="/",
        env=base_env(),
    )
    if code != 0 or Path(out.strip().splitlines()[-1]).resolve() != prefix.resolve():
        detail(out.strip())
        raise BuildError(
            f"The copy of Python {interpreter.version_text} in the slug does not find its own "
            "standard library; report this with the build output."
        )
    return Interpreter(str(exe), interpreter.version)


def _copy_libpython(layout: dict[str, object], lib: Path, exe: Path) -> None:
    libdir, name = layout.get("libdir"), layout.get("instsoname") or layout.get("ldlibrary")
    if not isinstance(libdir, str) or not isinstance(name, str):
        return
    for path in glob.glob(os.path.join(glob.escape(libdir), f"{name.split('.so')[0]}.so*")):
        shutil.copy2(path, lib / os.path.basename(path), follow_symlinks=False)
    try:
        rpath = ["patchelf", "--set-rpath", "$ORIGIN/../lib", str(exe)]
        done = capture(rpath, cwd="/", env=base_env())
    except CannotRun as exc:
        raise BuildError(
            "This Python is linked to its own libpython, and patchelf (the Debian package "
            "patchelf) is needed to make its copy in the slug find it; install patchelf."
        ) from exc
    if done.returncode != 0:
        raise BuildError(f"patchelf could not update the copied Python: {done.stderr.strip()}")


def bootstrap_pip(python: Path, prefix: Path) -> None:
    """pip inside the copy: ensurepip, or (Debian disables it) the wheel Debian ships."""
    env = base_env()
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_ROOT_USER_ACTION"] = "ignore"
    code, out = ask([str(python), "-I", "-m", "ensurepip", "--default-pip"], cwd="/", env=env)
    if code == 0 and _has_pip(python):
        return
    wheels = sorted(
        w
        for d in (*PIP_WHEEL_DIRS, str(prefix / "lib" / f"python{_short(python)}" / "ensurepip"))
        for w in glob.glob(os.path.join(d, "**", "pip-*.whl"), recursive=True)
    )
    if wheels:
        wheel = wheels[-1]
        # pip runs from its own wheel to install itself.
        cmd = [str(python), "-I", f"{wheel}/pip", "install", "--no-index", "--quiet", wheel]
        code2, out2 = ask(cmd, cwd="/", env=env)
        if code2 == 0 and _has_pip(python):
            return
        out = out2
    detail(out.strip())
    raise BuildError(
        "Could not put pip into the slug's Python: it has no ensurepip, and no pip wheel was "
        "found; install python3-pip-whl (Debian) on the build machine."
    )


def _short(python: Path) -> str:
    name = os.path.basename(os.path.realpath(python))
    return name.removeprefix("python")


def _has_pip(python: Path) -> bool:
    code, _ = ask([str(python), "-I", "-m", "pip", "--version"], cwd="/", env=base_env())
    return code == 0


def scripts_dir(python: Path) -> Path:
    """Where pip puts the packages' commands (Debian's scheme: PREFIX/local/bin)."""
    code, out = ask(
        [str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['scripts'])"],
        cwd="/",
        env=base_env(),
    )
    if code != 0:
        raise BuildError("The slug's Python cannot say where its scripts go; a platform bug.")
    return Path(out.strip().splitlines()[-1])
