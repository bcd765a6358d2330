"""Drains through a real server: added with the CLI, fed by platform events, kept on restart."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import unique_name
from tests.support import ServerProcess, slipway_bin, slipway_login

FRAME_RE = re.compile(r"^<(\d+)>1 (\S+) (d\.[0-9a-f-]{36}) (app|heroku) (\S+) - - (.*)$")


class SyslogReceiver:
    """A real TCP syslog receiver that splits RFC 6587 octet-counted frames."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port: int = self.sock.getsockname()[1]
        self.frames: list[str] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        buf = b""
        while data := conn.recv(65536):
            buf += data
            while b" " in buf:
                size_text, rest = buf.split(b" ", 1)
                size = int(size_text)
                if len(rest) < size:
                    break
                self.frames.append(rest[:size].decode())
                buf = rest[size:]

    def wait_for(self, text: str, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for frame in self.frames:
                if text in frame:
                    return frame
            time.sleep(0.05)
        raise AssertionError(f"no frame with {text!r}; got {self.frames}")


@pytest.fixture
def receiver() -> Iterator[SyslogReceiver]:
    r = SyslogReceiver()
    yield r
    r.sock.close()


def cli(server: ServerProcess, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "SLIPWAY_API_URL": server.url}
    if not (home / ".netrc").exists():
        slipway_login(env, server.api_key)
    return subprocess.run(
        [slipway_bin(), *args], env=env, capture_output=True, text=True, timeout=30
    )


def test_a_syslog_drain_receives_the_stream_and_survives_kill_9(
    receiver: SyslogReceiver, tmp_path: Path
) -> None:
    srv = ServerProcess(tmp_path / "data").start()
    try:
        app = unique_name("drn")
        with srv.client() as api:
            api.post("/apps", json={"name": app})
        added = cli(srv, tmp_path, "drains:add", f"syslog://127.0.0.1:{receiver.port}", "-a", app)
        assert added.returncode == 0, added.stderr
        listed = cli(srv, tmp_path, "drains", "-a", app).stdout
        token = re.search(r"\((d\.[0-9a-f-]+)\)", listed)
        assert token is not None
        with srv.client() as api:
            api.patch(f"/apps/{app}/config-vars", json={"DRAINED": "secret-value"})
        frame = receiver.wait_for("Set DRAINED config vars")
        match = FRAME_RE.match(frame)
        assert match is not None, frame
        assert match[3] == token[1]
        assert (match[4], match[5]) == ("app", "api")
        assert "secret-value" not in "".join(receiver.frames)

        srv.stop(signal.SIGKILL)
        srv = ServerProcess(srv.data_dir, port=srv.port, git_port=srv.git_port).start()
        with srv.client() as api:
            api.patch(f"/apps/{app}/config-vars", json={"AFTER_RESTART": "1"})
        receiver.wait_for("Set AFTER_RESTART config vars")

        removed = cli(
            srv, tmp_path, "drains:remove", f"syslog://127.0.0.1:{receiver.port}", "-a", app
        )
        assert removed.returncode == 0, removed.stderr
        assert "has no drains" in cli(srv, tmp_path, "drains", "-a", app).stdout
    finally:
        srv.stop()


def test_bad_drain_urls_are_refused(sqlite_server: ServerProcess) -> None:
    app = unique_name("drn")
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with sqlite_server.client() as api:
        api.post("/apps", json={"name": app})
        for url, needle in [
            ("ftp://example.com/logs", "not supported"),
            ("syslog://", "host"),
            ("syslog://127.0.0.1", "port"),
            (f"syslog://127.0.0.1:{port}", "cannot be reached"),
            ("https://nonexistent.invalid/logs", "cannot be reached"),
        ]:
            response = api.post(f"/apps/{app}/log-drains", json={"url": url})
            assert response.status_code == 422, url
            assert needle in response.json()["message"], (url, response.json())
        assert api.get(f"/apps/{app}/log-drains").json() == []
        missing = api.delete(f"/apps/{app}/log-drains/syslog://nowhere:1")
        assert missing.status_code == 404
