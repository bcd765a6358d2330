"""Runs the heroku-redis add-ons' redis-servers and keeps them running.

The server runs in the foreground (`daemonize no`) as a child of the platform,
in its own session; a thread per add-on restarts it (with back-off) when it
exits unexpectedly. A `kill -9` of the platform leaves the servers running:
the next start finds each one by its pidfile (or by answering on the kept
port with the provider's own password), shuts it down with SHUTDOWN SAVE, and
starts it again as a child, on the same port and with the same data.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from slipway.addons._files import read_json
from slipway.addons._ports import port_is_free
from slipway.addons._programs import base_env
from slipway.addons.errors import AddonError, PortInUse, ProviderUnavailable, sentence
from slipway.addons.redis.resp import RespError
from slipway.addons.redis.server import RedisServers

log = logging.getLogger("slipway.addons.redis")

_READY_TIMEOUT = 30.0
# "12345:M 27 Nov 2026 21:44:01.123 # " before each line redis itself logs.
_LOG_PREFIX = re.compile(r"^\d+:[A-Z] \d+ \w+ \d+ [\d:.]+ [#*.\-] ")
_STOP_TIMEOUT = 15.0
_MAX_BACKOFF = 30.0


def _pid_alive(pid: int) -> bool:
    """Running and not a zombie (an orphan's zombie may never be reaped in a container)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _thread_alive(thread: threading.Thread | None) -> bool:
    return thread is not None and thread.is_alive()


class _Instance:
    """A redis-server this provider started and supervises."""

    def __init__(self, resource_id: str, proc: subprocess.Popen[bytes]) -> None:
        self.resource_id = resource_id
        self.proc = proc
        self.stopping = threading.Event()
        self.lock = threading.Lock()  # held while (re)starting
        self.thread: threading.Thread | None = None

    def alive(self) -> bool:
        return self.proc.poll() is None


class Supervisor:
    """The redis-servers this provider started, one supervised child process per add-on."""

    def __init__(self, servers: RedisServers) -> None:
        self.servers = servers
        self._instances: dict[str, _Instance] = {}
        self.initial_backoff = 1.0

    def supervises(self, resource_id: str) -> bool:
        return resource_id in self._instances

    def running(self, resource_id: str) -> bool:
        inst = self._instances.get(resource_id)
        return inst is not None and inst.alive()

    def _launch(self, state: Mapping[str, Any]) -> tuple[subprocess.Popen[bytes], int]:
        """Start redis-server for `state`; returns the process and the log offset it starts at."""
        binary = self.servers.binary()
        directory = self.servers.directory(state["resource_id"])
        user = self.servers.user()
        self.servers.prepare_dir(directory, user)
        conf = self.servers.write_conf(state)
        log_path = directory / "redis.log"
        with log_path.open("ab") as log_file:
            offset = log_file.tell()
            if user is not None:
                user.chown(log_path)
            proc = subprocess.Popen(
                [*(user.argv() if user else []), binary, str(conf)],
                cwd=directory,
                env=base_env() | (user.env() if user else {}),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                umask=0o077,
            )
        return proc, offset

    def _log_reason(self, state: Mapping[str, Any], offset: int) -> str:
        path = self.servers.directory(state["resource_id"]) / "redis.log"
        try:
            with path.open("rb") as fh:
                fh.seek(offset)
                lines = fh.read().decode(errors="replace").splitlines()
        except OSError:
            return "no log"
        meaningful = []
        for line in lines:
            text = _LOG_PREFIX.sub("", line).strip()
            if text and not text.startswith(("*", ">>>", "---")):
                meaningful.append(text)
        for text in reversed(meaningful):
            if any(w in text.lower() for w in ("error", "fatal", "can't", "could not", "bad")):
                return sentence(text)
        return sentence(meaningful[-1]) if meaningful else "no log"

    def _wait_ready(
        self, proc: subprocess.Popen[bytes], state: Mapping[str, Any], offset: int
    ) -> None:
        port = int(state["port"])
        name = state["resource_name"]
        log_path = self.servers.directory(state["resource_id"]) / "redis.log"
        admin = self.servers.admin
        deadline = time.monotonic() + _READY_TIMEOUT
        while True:
            if proc.poll() is not None:
                reason = self._log_reason(state, offset)
                if "address already in use" in reason.lower():
                    raise PortInUse(
                        f"Port {port}, kept for the redis add-on {name}, is in use by another "
                        "program; stop that program and start Slipway again.",
                        port,
                    )
                raise ProviderUnavailable(
                    f"The redis-server for {name} exited at start: {reason}; see {log_path}."
                )
            with contextlib.suppress(OSError, RespError), admin(state, timeout=1) as client:
                if client.call("PING") == "PONG":
                    return
            if time.monotonic() > deadline:
                self._kill(proc)
                raise ProviderUnavailable(
                    f"The redis-server for {name} did not answer on port {port} within "
                    f"{_READY_TIMEOUT:.0f} s; see {log_path}."
                )
            time.sleep(0.05)

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)

    def _shutdown(self, state: Mapping[str, Any], save: bool) -> bool:
        """Ask the server to exit (saving first); False when it could not be asked."""
        try:
            with self.servers.admin(state) as client:
                client.call("SHUTDOWN", "SAVE" if save else "NOSAVE")
        except RespError as exc:
            log.warning("redis %s refused SHUTDOWN: %s", state["resource_id"], exc)
            return False
        except OSError:
            # ConnectionError after SHUTDOWN is the server going away: that is success.
            return True
        return True

    def _supervise(self, inst: _Instance) -> None:
        backoff = self.initial_backoff
        while True:
            started = time.monotonic()
            code = inst.proc.wait()
            if inst.stopping.is_set():
                return
            if time.monotonic() - started > 60:
                backoff = self.initial_backoff
            log.warning(
                "redis-server for %s exited unexpectedly (%s); restarting in %.0f s",
                inst.resource_id,
                code,
                backoff,
            )
            if inst.stopping.wait(backoff):
                return
            backoff = min(backoff * 2, _MAX_BACKOFF)
            with inst.lock:
                if inst.stopping.is_set():
                    return
                try:
                    state = self.servers.load(inst.resource_id)
                    if not port_is_free(int(state["port"])):
                        raise PortInUse(f"port {state['port']} is in use", int(state["port"]))
                    proc, offset = self._launch(state)
                    inst.proc = proc
                    self._wait_ready(proc, state, offset)
                    log.info("restarted redis-server for %s", inst.resource_id)
                except AddonError as exc:
                    log.error("could not restart redis-server for %s: %s", inst.resource_id, exc)
                except OSError as exc:
                    log.error("could not restart redis-server for %s: %s", inst.resource_id, exc)

    def _stop_instance(self, inst: _Instance, state: Mapping[str, Any] | None, save: bool) -> None:
        inst.stopping.set()
        with inst.lock:  # waits for a restart in progress
            proc = inst.proc
        if proc.poll() is None:
            if state is None or not self._shutdown(state, save):
                proc.terminate()
            try:
                proc.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log.warning("redis-server for %s did not stop; killing it", inst.resource_id)
                self._kill(proc)
        if inst.thread is not None and inst.thread is not threading.current_thread():
            inst.thread.join(5)

    def _ours(self, pid: int, directory: Path) -> bool:
        """Whether `pid` is a redis-server running in `directory` (a previous run's child)."""
        if not _pid_alive(pid):
            return False
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
        return cwd == str(directory) and b"redis" in cmdline

    def _reclaim(self, directory: Path, state: Mapping[str, Any] | None, save: bool) -> None:
        """Stop a redis-server a previous run of the platform left behind (kill -9, crash)."""
        rid = directory.name
        inst = self._instances.get(rid)
        admin = self.servers.admin
        pidfile = directory / "redis.pid"
        pid = None
        with contextlib.suppress(OSError, ValueError):
            pid = int(pidfile.read_text().strip())
        if inst is not None and inst.alive() and pid == inst.proc.pid:
            return
        if pid is not None and self._ours(pid, directory):
            log.info("stopping redis-server %d for %s left by a previous run", pid, rid)
            if state is None or not self._shutdown(state, save):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
            if not _wait_gone(pid, _STOP_TIMEOUT):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                _wait_gone(pid, 5)
        elif state is not None and not port_is_free(int(state["port"])):
            # No usable pidfile, but something holds the port: if it takes our own
            # password, it is our server.
            answered = False
            with contextlib.suppress(OSError, RespError), admin(state, timeout=2) as client:
                answered = client.call("PING") == "PONG"
            if answered:
                log.info("stopping redis-server for %s left by a previous run", rid)
                self._shutdown(state, save)
                deadline = time.monotonic() + _STOP_TIMEOUT
                while not port_is_free(int(state["port"])) and time.monotonic() < deadline:
                    time.sleep(0.05)
        pidfile.unlink(missing_ok=True)

    def start(self, state: Mapping[str, Any]) -> None:
        rid = state["resource_id"]
        inst = self._instances.get(rid)
        supervised = inst is not None and not inst.stopping.is_set()
        if supervised and inst is not None and (inst.alive() or _thread_alive(inst.thread)):
            return  # running, or its supervisor is about to restart it
        self._reclaim(self.servers.directory(rid), state, save=True)
        port = int(state["port"])
        if not port_is_free(port):
            raise PortInUse(
                f"Port {port}, kept for the redis add-on {state['resource_name']}, is in use by "
                "another program; stop that program and start Slipway again.",
                port,
            )
        proc, offset = self._launch(state)
        try:
            self._wait_ready(proc, state, offset)
        except BaseException:
            self._kill(proc)
            raise
        inst = _Instance(rid, proc)
        inst.thread = threading.Thread(
            target=self._supervise, args=(inst,), name=f"redis-{rid}", daemon=True
        )
        self._instances[rid] = inst
        inst.thread.start()

    def discard(self, directory: Path) -> None:
        """Stop whatever runs for `directory` and remove it."""
        rid = directory.name
        state = None
        with contextlib.suppress(OSError, ValueError):
            state = read_json(directory / "state.json")
        inst = self._instances.pop(rid, None)
        if inst is not None:
            self._stop_instance(inst, state, save=False)
        self._reclaim(directory, state, save=False)
        shutil.rmtree(directory, ignore_errors=True)

    def stop_all(self) -> None:
        """Stop every server (saving its data) and forget them."""
        instances, self._instances = self._instances, {}
        for rid, inst in instances.items():
            state = None
            with contextlib.suppress(OSError, ValueError, AddonError):
                state = self.servers.load(rid)
            self._stop_instance(inst, state, save=True)
