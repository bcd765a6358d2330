"""One server process a provider runs (mariadbd, rabbitmq-server, a memcached): started in
a session of its own so it outlives a crash of the platform, found again and adopted
after one, restarted with back-off when it dies, and stopped with a signal.

    <directory>/daemon.pid    the pid we started (written before we wait for it)

A `kill -9` of the platform leaves its servers running with their data; the next
start finds each by its pidfile (the pid must still run in `directory` with the
expected program name, so a recycled pid is never mistaken for ours) and watches
it instead of starting a second one on the same files.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from slipway.addons._programs import OsUser, base_env
from slipway.addons.errors import ProviderUnavailable

log = logging.getLogger("slipway.addons")

_MAX_BACKOFF = 60.0


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def runs_in(pid: int, directory: Path, program: str) -> bool:
    """Whether `pid` is `program` running in `directory` or below it (a previous run's
    server: mariadbd moves into its data directory)."""
    if not pid_alive(pid):
        return False
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    inside = cwd == str(directory) or cwd.startswith(str(directory) + "/")
    return inside and program.encode() in cmdline


@dataclass
class DaemonSpec:
    """How to run one server: its argv (a function, so a restart sees new settings)."""

    name: str  # "mariadbd for the embedded MariaDB", for messages
    directory: Path  # its cwd and where its pidfile lives
    program: str  # the name its cmdline must contain to be adopted ("mariadbd")
    argv: Callable[[], Sequence[str]]
    # None when it answers; else one short reason ("port 13306 does not accept yet").
    ready: Callable[[], str | None]
    log_path: Path
    user: OsUser | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    stop_signal: int = signal.SIGTERM
    start_timeout: float = 60.0
    stop_timeout: float = 30.0


class Daemon:
    """A supervised server process; thread-safe."""

    initial_backoff = 1.0

    def __init__(self, spec: DaemonSpec) -> None:
        self.spec = spec
        self.pidfile = spec.directory / "daemon.pid"
        self._lock = threading.RLock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._pid: int | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- what runs

    def pid(self) -> int | None:
        with self._lock:
            return self._pid

    def running(self) -> bool:
        with self._lock:
            return self._pid is not None and self._alive(self._pid)

    def _alive(self, pid: int) -> bool:
        if self._proc is not None and self._proc.pid == pid:
            return self._proc.poll() is None
        return pid_alive(pid)

    def _previous(self) -> int | None:
        """A server of ours a previous run of the platform left running."""
        with contextlib.suppress(OSError, ValueError):
            pid = int(self.pidfile.read_text().strip())
            if runs_in(pid, self.spec.directory, self.spec.program):
                return pid
        return None

    # -- start and stop

    def start(self) -> None:
        """Adopt the server left running by a previous run, else start it; wait until ready."""
        with self._lock:
            if self._pid is not None and self._alive(self._pid):
                return
            self._stopping.clear()
            previous = self._previous()
            if previous is not None:
                log.info("adopting %s (pid %d) left by a previous run", self.spec.name, previous)
                self._pid, self._proc = previous, None
                self._wait_ready()
            else:
                self._launch()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._supervise, name=f"daemon-{self.spec.program}", daemon=True
                )
                self._thread.start()

    def _launch(self) -> None:
        spec = self.spec
        prefix = spec.user.argv() if spec.user else []
        env = base_env() | (spec.user.env() if spec.user else {}) | dict(spec.env)
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        with spec.log_path.open("ab") as out:
            try:
                proc = subprocess.Popen(
                    [*prefix, *spec.argv()],
                    cwd=spec.directory,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as exc:
                raise ProviderUnavailable(
                    f"Could not start {spec.name}: {exc.strerror or exc}."
                ) from None
        self._proc, self._pid = proc, proc.pid
        self.pidfile.write_text(f"{proc.pid}\n")
        try:
            self._wait_ready()
        except BaseException:
            self._kill(proc.pid)
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.spec.start_timeout
        reason = "it did not answer"
        while time.monotonic() < deadline:
            pid = self._pid
            if pid is None or not self._alive(pid):
                raise ProviderUnavailable(
                    f"{self.spec.name[0].upper()}{self.spec.name[1:]} exited at start: "
                    f"{self._log_tail()}; see {self.spec.log_path}."
                )
            problem = self.spec.ready()
            if problem is None:
                return
            reason = problem
            time.sleep(0.1)
        raise ProviderUnavailable(
            f"{self.spec.name[0].upper()}{self.spec.name[1:]} did not become ready within "
            f"{self.spec.start_timeout:.0f} s ({reason}); see {self.spec.log_path}."
        )

    def _log_tail(self) -> str:
        try:
            with self.spec.log_path.open("rb") as fh:
                fh.seek(max(0, self.spec.log_path.stat().st_size - 2000))
                lines = [ln.strip() for ln in fh.read().decode(errors="replace").splitlines()]
        except OSError:
            return "no log"
        lines = [ln for ln in lines if ln]
        return " ".join(lines[-1].split()).rstrip(".")[:300] if lines else "no output"

    def stop(self) -> None:
        """Stop the server (its data stays) and the supervision."""
        self._stopping.set()
        with self._lock:
            pid, self._pid = self._pid, None
            if pid is None:
                pid = self._previous()
            if pid is not None and self._alive(pid):
                self._signal(pid, self.spec.stop_signal)
                if not self._wait_gone(pid, self.spec.stop_timeout):
                    log.warning("%s did not stop; killing it", self.spec.name)
                    self._kill(pid)
            self.pidfile.unlink(missing_ok=True)
            self._proc = None
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(5)

    def release(self) -> None:
        """Stop watching the server and leave it running, as a crash of the platform does
        (the next start adopts it)."""
        self._stopping.set()

    def restart(self) -> None:
        self.stop()
        self.start()

    def _signal(self, pid: int, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)

    def _wait_gone(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._alive(pid):
                return True
            time.sleep(0.05)
        return not self._alive(pid)

    def _kill(self, pid: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        self._signal(pid, signal.SIGKILL)
        self._wait_gone(pid, 5)

    # -- supervision

    def _supervise(self) -> None:
        backoff = self.initial_backoff
        while not self._stopping.wait(0.5):
            with self._lock:
                pid = self._pid
                if pid is None or self._alive(pid):
                    continue
            started = time.monotonic()
            log.warning("%s exited unexpectedly; restarting in %.0f s", self.spec.name, backoff)
            if self._stopping.wait(backoff):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                if self._pid is not None and self._pid != pid and self._alive(self._pid):
                    continue  # started again meanwhile (start() after a stop)
                try:
                    self._launch()
                    log.info("restarted %s", self.spec.name)
                except ProviderUnavailable as exc:
                    log.error("could not restart %s: %s", self.spec.name, exc.message)
            backoff = (
                self.initial_backoff
                if time.monotonic() - started > 60
                else min(backoff * 2, _MAX_BACKOFF)
            )
