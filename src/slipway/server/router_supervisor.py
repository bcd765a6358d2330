"""The router as a supervised child of `slipway server`, which may outlive it.

The router is the hot path and runs as its own process (`slipway router`).
The server starts it, restarts it if it dies, and on a clean stop stops it.
A router that is still running from before a control-plane crash (`kill -9`
of the server) keeps serving on its last route table; the next server start
finds it through `<data>/router.pid` and adopts it instead of starting a
second one on the same port.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("slipway.server.router_supervisor")

Spawn = Callable[..., "subprocess.Popen[bytes]"]


@dataclass(frozen=True)
class RouterLaunch:
    argv: Sequence[str]
    token: str
    pid_file: Path
    log_file: Path


def _alive_router(pid_file: Path) -> int | None:
    """The pid of a running router recorded in pid_file, if it is one."""
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"slipway.router" in cmdline else None


class RouterSupervisor:
    def __init__(
        self,
        launch: RouterLaunch,
        *,
        spawn: Spawn = subprocess.Popen,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.launch = launch
        self._spawn = spawn
        self._sleep = sleep
        self._stop = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._adopted: int | None = None
        self._thread = threading.Thread(target=self._watch, name="router-supervisor", daemon=True)

    @property
    def pid(self) -> int | None:
        if self._proc is not None:
            return self._proc.pid
        return self._adopted

    def start(self) -> None:
        adopted = _alive_router(self.launch.pid_file)
        if adopted is not None:
            log.info("adopting the router already running as pid %d", adopted)
            self._adopted = adopted
        else:
            self._start_process()
        self._thread.start()

    def _start_process(self) -> None:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "SLIPWAY_ROUTER_TOKEN": self.launch.token,
        }
        with self.launch.log_file.open("ab") as out:
            # A session of its own: a Ctrl-C meant for the server is not the router's,
            # and the router keeps serving if the server dies.
            self._proc = self._spawn(
                list(self.launch.argv),
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self._adopted = None
        tmp = self.launch.pid_file.with_suffix(".tmp")
        tmp.write_text(f"{self._proc.pid}\n")
        tmp.replace(self.launch.pid_file)

    def _running(self) -> bool:
        if self._proc is not None:
            return self._proc.poll() is None
        return self._adopted is not None and _alive_router(self.launch.pid_file) is not None

    def _wait_exit(self) -> None:
        """Block until the router exits (no polling): wait() for our child, a pidfd for
        an adopted one; back every 0.5 s only when neither is possible."""
        if self._proc is not None and self._spawn is subprocess.Popen:
            self._proc.wait()
            return
        pid = self._adopted
        if pid is not None and hasattr(os, "pidfd_open"):
            import select

            try:
                fd = os.pidfd_open(pid)
            except OSError:
                return  # already gone
            try:
                select.select([fd], [], [])
            finally:
                os.close(fd)
            return
        self._sleep(0.5)

    def _watch(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            started = time.monotonic()
            self._wait_exit()
            if self._stop.is_set() or self._running():
                continue
            if time.monotonic() - started > 10:
                delay = 0.5  # it ran for a while: start it again promptly
            code = self._proc.returncode if self._proc is not None else None
            log.error("the router exited (status %s); starting it again in %.1fs", code, delay)
            self._sleep(delay)
            delay = min(delay * 2, 10.0)
            if not self._stop.is_set():
                self._start_process()

    def stop(self, timeout: float = 35.0) -> None:
        """SIGTERM: the router finishes in-flight requests, then exits."""
        self._stop.set()
        pid = self.pid
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                break
            if self._proc is None and _alive_router(self.launch.pid_file) is None:
                break
            time.sleep(0.05)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.launch.pid_file.unlink(missing_ok=True)


def router_argv(
    *,
    listen: str,
    tls_listen: str,
    cert: Path,
    key: Path,
    control_url: str,
    ca: tuple[Path, Path] | None = None,
    workers: int = 1,
    data_plane_dir: Path | None = None,
) -> list[str]:
    """The router's command line; with the platform's CA it mints a certificate per host."""
    extra = ["--tls-ca-cert", str(ca[0]), "--tls-ca-key", str(ca[1])] if ca else []
    if data_plane_dir is not None:
        # HAProxy's configuration, maps and sockets (the router's data plane).
        extra += ["--data-plane-dir", str(data_plane_dir)]
    return [
        sys.executable,
        "-m",
        "slipway.router",
        "--listen",
        listen,
        "--tls-listen",
        tls_listen,
        "--tls-cert",
        str(cert),
        "--tls-key",
        str(key),
        "--control-url",
        control_url,
        "--workers",
        str(workers),
        *extra,
    ]
