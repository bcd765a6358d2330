"""The build cache: the last build's .heroku/python, reused when nothing it came from changed.

    CACHE_DIR/python/runtime  a copy of .heroku/python (the Python and the app's packages)
    CACHE_DIR/python/key      the hash of what it was built from (interpreter, plan, files)

An unchanged app reuses the copy and runs no pip at all.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from ..common.files import remove
from ..common.output import detail
from .environment import ask, base_env
from .install import venv_python
from .interpreters import Interpreter
from .plan import Plan

CACHE_FORMAT = "slipway-python-cache 2"
# Directories that are not the app's own source (VCS data, what builds and other buildpacks
# generate) and are left out when hashing the tree.
TREE_SKIP_DIRS = frozenset(
    {".git", ".hg", ".heroku", ".profile.d", "__pycache__", ".venv", "node_modules"}
)


def tree_digest(build_dir: Path) -> str:
    """A hash of the app's source tree (for installs that copy the app's own code)."""
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(build_dir):
        dirs[:] = sorted(d for d in dirs if d not in TREE_SKIP_DIRS)
        for name in sorted(files):
            path = Path(root) / name
            rel = path.relative_to(build_dir).as_posix()
            digest.update(f"\0file {rel}\0".encode())
            if path.is_symlink():
                digest.update(os.readlink(path).encode())
                continue
            try:
                with path.open("rb") as handle:
                    for chunk in iter(lambda: handle.read(1 << 16), b""):
                        digest.update(chunk)
            except OSError:
                digest.update(b"\0unreadable")
    return digest.hexdigest()


def cache_key(build_dir: Path, interpreter: Interpreter, plan: Plan) -> str:
    digest = hashlib.sha256()
    digest.update(f"{CACHE_FORMAT}\0".encode())
    # A different interpreter at the same version (rebuilt, patched) is a different copy.
    try:
        stamp = os.stat(interpreter.path)
        identity = f"{stamp.st_size} {stamp.st_mtime_ns}"
    except OSError:
        identity = "?"
    digest.update(f"python {interpreter.version_text} {interpreter.path} {identity}\0".encode())
    digest.update(f"plan {plan.kind}\0".encode())
    for path in plan.key_files:
        rel = os.path.relpath(path, build_dir)
        digest.update(f"\0dep {rel}\0".encode())
        digest.update(path.read_bytes())
    if plan.hash_tree:
        digest.update(f"\0tree {tree_digest(build_dir)}".encode())
    return digest.hexdigest()


def restore_cache(cache_dir: Path, prefix: Path, key: str) -> bool:
    root = cache_dir / "python"
    try:
        if (root / "key").read_text(encoding="utf-8").strip() != key:
            return False
    except OSError:
        return False
    cached = root / "runtime"
    if not venv_python(cached).exists():
        return False
    try:
        shutil.copytree(cached, prefix, symlinks=True)
    except (OSError, shutil.Error):
        remove(prefix)
        return False
    code, _ = ask([str(venv_python(prefix)), "-I", "-c", "pass"], cwd="/", env=base_env())
    if code != 0:
        remove(prefix)
        return False
    return True


def save_cache(cache_dir: Path, prefix: Path, key: str) -> None:
    """Replace the cached copy; the key is written last, so a broken copy never matches."""
    root = cache_dir / "python"
    staging = root / "runtime.new"
    try:
        root.mkdir(parents=True, exist_ok=True)
        (root / "key").unlink(missing_ok=True)
        remove(staging)
        remove(root / "venv")  # the virtualenv older builds cached
        shutil.copytree(prefix, staging, symlinks=True)
        remove(root / "runtime")
        staging.rename(root / "runtime")
        (root / "key.new").write_text(f"{key}\n", encoding="utf-8")
        os.replace(root / "key.new", root / "key")
    except (OSError, shutil.Error) as exc:
        detail(f"Could not save the environment to the build cache ({exc}).")
        detail("The build goes on; the next build installs the requirements again.")
