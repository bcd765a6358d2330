"""The router's parent process and its workers: a stop reaches every worker, whenever it comes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.router.harness import free_port, static_table_file


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def test_a_stop_while_the_workers_are_being_made_reaches_them_all(tmp_path: Path) -> None:
    # SIGTERM the moment the first worker exists, while the parent still forks the second:
    # that one must stop too (it used to serve on, unsignalled, until a SIGKILL 35 s later).
    table = static_table_file(tmp_path / "routes.json", [])
    for _ in range(5):
        argv = [sys.executable, "-m", "slipway.router", "--listen", f"127.0.0.1:{free_port()}"]
        argv += ["--static-table", str(table), "--data-plane", "python", "--workers", "3"]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while not _children(proc.pid):
                assert proc.poll() is None, "the router exited before it forked"
                assert time.monotonic() < deadline, "the router never forked a worker"
                time.sleep(0.0005)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
