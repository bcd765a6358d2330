"""Helpers the tests share: a real `slipway server` process and a PostgreSQL scratch database."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

ACCEPT = "application/vnd.heroku+json; version=3"
PG_ADMIN_URL = os.environ.get("SLIPWAY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def slipway_bin() -> str:
    return str(Path(sys.executable).parent / "slipway")


def slipway_login(env: dict[str, str], api_key: str) -> None:
    """`slipway login` as a user runs it, with the key on standard input."""
    result = subprocess.run(
        [slipway_bin(), "login"], input=api_key, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def read_until(stream: IO[str], needle: str, timeout: float) -> str:
    """Read lines from a child's output until one contains `needle`, without ever
    blocking past `timeout` (a reader thread does the blocking)."""
    seen: list[str] = []
    found = threading.Event()

    def pump() -> None:
        for line in stream:
            seen.append(line)
            if needle in line:
                found.set()
                return

    threading.Thread(target=pump, daemon=True).start()
    found.wait(timeout)
    return "".join(seen)


@dataclass
class ServerProcess:
    """A real `slipway server`, started the way a user starts it."""

    data_dir: Path
    store_url: str | None = None
    port: int = field(default_factory=free_port)
    git_port: int = field(default_factory=free_port)
    rendezvous_port: int = field(default_factory=free_port)
    router_port: int = field(default_factory=free_port)
    router_tls_port: int = field(default_factory=free_port)
    extra_args: tuple[str, ...] = ()
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_key(self) -> str:
        return (self.data_dir / "admin-api-key").read_text().strip()

    def start(self, timeout: float = 30.0) -> ServerProcess:
        args = [
            slipway_bin(),
            "server",
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
            "--git-port",
            str(self.git_port),
            "--rendezvous-port",
            str(self.rendezvous_port),
            "--router-port",
            str(self.router_port),
            "--router-tls-port",
            str(self.router_tls_port),
            # Daily cycling would only add noise to a test run.
            "--dyno-cycle-hours",
            "0",
            # argon2 at its production cost is most of a sign-in; tests sign in often.
            "--password-hash-time",
            "1",
            "--password-hash-memory",
            "256",
        ]
        if self.store_url:
            args += ["--store", self.store_url]
        args += list(self.extra_args)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-server.log"
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"slipway server exited early:\n{self.log()}")
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(self.url + "/account", timeout=1)
                return self
            time.sleep(0.05)
        raise RuntimeError(f"slipway server did not answer within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path and self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def client(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={
                "Accept": ACCEPT,
                "Authorization": f"Bearer {token or self.api_key}",
            },
            timeout=30,
        )


@contextlib.contextmanager
def scratch_postgres_db() -> Iterator[str]:
    """A fresh database on the local PostgreSQL server, dropped afterwards."""
    import psycopg

    name = f"slipway_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_in_pty(
    argv: list[str],
    env: dict[str, str],
    cwd: Path,
    answers: list[tuple[str, str]],
    timeout: float = 60.0,
    on_output: tuple[str, Callable[[str], None]] | None = None,
) -> tuple[int, str]:
    """Run a program on a pseudo-terminal, as a person at a keyboard: each answer is typed
    once its prompt (the needle) has appeared; `on_output` is called (once, with all the
    output so far) when its needle appears. Returns the exit code and all output."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd, start_new_session=True
    )
    os.close(slave)
    seen = b""
    since = 0
    pending = list(answers)
    deadline = time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                proc.kill()
                raise TimeoutError(f"{argv[1:]} did not finish:\n{seen.decode(errors='replace')}")
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the program closed the terminal
                    chunk = b""
                if not chunk and proc.poll() is not None:
                    break
                seen += chunk
            if pending and pending[0][0].encode() in seen[since:]:
                os.write(master, pending.pop(0)[1].encode())
                since = len(seen)
            if on_output is not None and on_output[0].encode() in seen:
                on_output[1](seen.decode(errors="replace"))
                on_output = None
            if not ready and proc.poll() is not None:
                break
    finally:
        os.close(master)
    return proc.wait(), seen.decode(errors="replace")
