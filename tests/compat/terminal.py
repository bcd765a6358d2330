"""A real terminal for the official CLI: a PTY (stdlib `pty`) with a window size.

The CLI behaves differently on a terminal (COLUMNS/LINES as numbers, raw mode,
keystrokes sent as typed), so these tests drive it the way a person does.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import termios
import time
from collections.abc import Mapping, Sequence


class Terminal:
    """`argv` running on a PTY of `rows` x `columns`; read with `expect`, type with `send`."""

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        cwd: str | None = None,
        rows: int = 40,
        columns: int = 120,
    ) -> None:
        self.output = b""
        # `expect` looks for its needle after the previous match only.
        self._mark = 0
        pid, fd = pty.fork()
        if pid == 0:  # the child: the CLI, with the PTY as its terminal
            if cwd:
                os.chdir(cwd)
            os.execvpe(argv[0], list(argv), dict(env))  # noqa: S606 (argv, no shell)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        self.status: int | None = None

    @property
    def text(self) -> str:
        return self.output.decode("utf-8", "replace")

    def _read(self, timeout: float) -> bool:
        """Read what is there within `timeout`; False once the terminal has closed."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:  # EIO: the CLI exited and the PTY closed
            return False
        self.output += chunk
        return bool(chunk)

    def expect(self, needle: str, timeout: float = 30) -> str:
        """Wait until `needle` appears after the previous match; returns the output from
        there to the end of the match (AssertionError showing the screen if it never does)."""
        wanted = needle.encode()
        deadline = time.monotonic() + timeout
        while (at := self.output.find(wanted, self._mark)) < 0:
            if time.monotonic() > deadline or not self._read(0.2):
                at = self.output.find(wanted, self._mark)
                if at >= 0:
                    break
                raise AssertionError(f"never saw {needle!r} on the terminal:\n{self.text}")
        start, self._mark = self._mark, at + len(wanted)
        return self.output[start : self._mark].decode("utf-8", "replace")

    def send(self, keys: str | bytes) -> None:
        os.write(self.fd, keys.encode() if isinstance(keys, str) else keys)

    def wait(self, timeout: float = 60) -> int:
        """The CLI's exit status, reading its output to the end meanwhile."""
        deadline = time.monotonic() + timeout
        while self.status is None:
            open_ = self._read(0.2)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                while self._read(0.05):
                    pass
                self.status = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                raise AssertionError(f"the CLI did not exit within {timeout}s:\n{self.text}")
            if not open_:
                time.sleep(0.05)
        os.close(self.fd)
        return self.status
