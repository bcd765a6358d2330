"""Per-app bare repositories under `<data dir>/repos/<app id>.git` (the id survives renames)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from pathlib import Path

from slipway.git.hook import render_hook

# Pushes over this size are refused by git itself before anything is stored.
MAX_PUSH_BYTES = 2 * 1024 * 1024 * 1024 - 1


class RepoStore:
    def __init__(self, root: Path, python: str = sys.executable) -> None:
        self.root = root
        self.hook = render_hook(python)
        self._lock = threading.Lock()
        root.mkdir(parents=True, exist_ok=True)

    def path(self, app_id: str) -> Path:
        return self.root / f"{app_id}.git"

    def remove(self, app_id: str) -> None:
        """After the app is destroyed: its repository goes too."""
        with self._lock:
            shutil.rmtree(self.path(app_id), ignore_errors=True)

    def ensure(self, app_id: str) -> Path:
        """Create the repository on first use; (re)write its hook when it changed."""
        repo = self.path(app_id)
        with self._lock:
            if not (repo / "HEAD").exists():
                subprocess.run(
                    ["git", "init", "--quiet", "--bare", "--initial-branch=main", str(repo)],
                    check=True,
                    capture_output=True,
                )
                for key, value in (
                    ("http.receivepack", "true"),
                    ("receive.maxInputSize", str(MAX_PUSH_BYTES)),
                    ("receive.denyNonFastForwards", "false"),
                    ("gc.auto", "0"),
                ):
                    subprocess.run(
                        ["git", "--git-dir", str(repo), "config", key, value],
                        check=True,
                        capture_output=True,
                    )
            hook = repo / "hooks" / "pre-receive"
            if not hook.exists() or hook.read_text() != self.hook:
                hook.parent.mkdir(exist_ok=True)
                tmp = hook.with_suffix(".tmp")
                tmp.write_text(self.hook)
                tmp.chmod(0o755)
                tmp.replace(hook)
        return repo
