"""`slipway run`'s side of the rendezvous: a TLS socket to the one-off dyno's terminal.

The protocol is the one the official CLI speaks (cli-contract.md §6): send the
secret and a CRLF, drop the banner line, then copy bytes both ways. The exit
status comes back in the line Heroku's `run --exit-code` appends to the
command, which we strip from the output.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import ssl
import sys
import termios
import tty
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from slipway.cli.errors import CliError

EXIT_MARKER = "\uffff heroku-command-exit-status:"
EXIT_MARKER_BYTES = EXIT_MARKER.encode()


def with_exit_status(command: str) -> str:
    # A subshell, so `exit 3` ends the command rather than the line that reports it.
    return f'( {command}\n); echo "{EXIT_MARKER} $?"'


def _connect(attach_url: str, ca_file: Path | None) -> ssl.SSLSocket:
    parts = urlsplit(attach_url)
    if parts.scheme != "rendezvous" or not parts.hostname or not parts.port:
        raise CliError(f"The server answered with an attach URL this CLI can't use: {attach_url}")
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    try:
        raw = socket.create_connection((parts.hostname, parts.port), timeout=30)
        sock = context.wrap_socket(raw, server_hostname=parts.hostname)
    except (OSError, ssl.SSLError) as exc:
        raise CliError(f"Could not attach to the dyno at {parts.netloc}: {exc}") from exc
    secret = parts.path.lstrip("/") + (f"?{parts.query}" if parts.query else "")
    sock.sendall(secret.encode() + b"\r\n")
    banner = b""
    while not banner.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise CliError("The dyno closed the connection before it started.")
        banner += chunk
    sock.settimeout(None)
    return sock


@contextlib.contextmanager
def _raw_terminal(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


class _Output:
    """Writes the dyno's output, holding back what could be the start of the exit marker."""

    def __init__(self) -> None:
        self.pending = b""
        self.status: int | None = None
        self.out = sys.stdout.buffer

    def feed(self, data: bytes) -> None:
        self.pending += data
        while True:
            at = self.pending.find(EXIT_MARKER_BYTES)
            if at < 0:
                break
            end = self.pending.find(b"\n", at)
            if end < 0:
                break
            self.out.write(self.pending[:at])
            value = self.pending[at + len(EXIT_MARKER_BYTES) : end].strip()
            # The first marker is the command's (`with_exit_status`); the server's own,
            # after it, is the status of the shell that ran it.
            if self.status is None:
                with contextlib.suppress(ValueError):
                    self.status = int(value)
            self.pending = self.pending[end + 1 :]
        keep = len(EXIT_MARKER_BYTES) + 8
        marker_start = self.pending.find(EXIT_MARKER_BYTES[:1])
        if marker_start < 0 or len(self.pending) - marker_start > keep * 4:
            self.out.write(self.pending)
            self.pending = b""
        elif marker_start > 0:
            self.out.write(self.pending[:marker_start])
            self.pending = self.pending[marker_start:]
        self.out.flush()

    def close(self) -> None:
        self.out.write(self.pending)
        self.out.flush()


def attach(attach_url: str, ca_file: Path | None, *, interactive_tty: bool) -> int:
    """Pipe this terminal to the dyno until it ends; returns the command's exit status."""
    sock = _connect(attach_url, ca_file)
    output = _Output()
    selector = selectors.DefaultSelector()
    stdin_fd = sys.stdin.fileno()
    selector.register(sock, selectors.EVENT_READ, "dyno")
    stdin_open = True
    try:
        selector.register(stdin_fd, selectors.EVENT_READ, "stdin")
    except (ValueError, OSError, PermissionError):
        stdin_open = False
    with _raw_terminal(interactive_tty):
        while True:
            pending_tls = sock.pending() > 0
            events = [] if pending_tls else selector.select()
            sources = {key.data for key, _ in events} | ({"dyno"} if pending_tls else set())
            if "dyno" in sources:
                try:
                    data = sock.recv(65536)
                except (OSError, ssl.SSLError):
                    data = b""
                if not data:
                    break
                output.feed(data)
            if "stdin" in sources and stdin_open:
                data = os.read(stdin_fd, 65536)
                if not data:
                    stdin_open = False
                    selector.unregister(stdin_fd)
                    if not interactive_tty:
                        # No half-close in this protocol: ^D tells the dyno stdin ended.
                        sock.sendall(b"\x04")
                    continue
                sock.sendall(data)
    output.close()
    with contextlib.suppress(OSError):
        sock.close()
    if output.status is None:
        raise CliError("The dyno ended without reporting an exit status.")
    return output.status
