"""Running the programs a build needs: streamed to the pusher, or captured quietly.

A program that cannot be started (missing, not executable, or past its timeout) raises
`CannotRun`, a `BuildError` whose sentence names it. A buildpack that only asks whether
something works catches it and takes it as a no.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .output import BuildError, detail


class CannotRun(BuildError):
    """`cmd` could not be started; `reason` is the OSError or TimeoutExpired behind it."""

    def __init__(self, cmd: Sequence[str], reason: OSError | subprocess.SubprocessError) -> None:
        if isinstance(reason, OSError):
            message = f"Could not run {cmd[0]}: {reason.strerror}; check that it is installed."
        else:
            message = f"Could not run `{' '.join(cmd)}`: {reason}."
        super().__init__(message)
        self.cmd = list(cmd)
        self.reason = reason


@dataclass(frozen=True)
class Captured:
    returncode: int
    stdout: str  # with stderr in it when captured merged
    stderr: str


def stream(
    cmd: Sequence[str], *, cwd: Path, env: Mapping[str, str], keep: list[str] | None = None
) -> int:
    """Run cmd, copying its stdout and stderr line by line, indented, as they come (and into
    keep, when given, for a caller that reads what it said)."""
    try:
        proc = subprocess.Popen(
            list(cmd),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
    except OSError as exc:
        raise CannotRun(cmd, exc) from exc
    assert proc.stdout is not None
    with proc.stdout:
        for raw in proc.stdout:
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            # Progress output redraws with \r: keep only what the last redraw says.
            line = text.rsplit("\r", 1)[-1]
            detail(line)
            if keep is not None:
                keep.append(line)
    return proc.wait()


def capture(
    cmd: Sequence[str],
    *,
    cwd: Path | str,
    env: Mapping[str, str],
    timeout: float | None = None,
    merged: bool = False,
) -> Captured:
    """Run cmd quietly and return what it said; merged puts its stderr into stdout."""
    try:
        done = subprocess.run(
            list(cmd),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merged else subprocess.PIPE,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise CannotRun(cmd, exc) from exc
    stderr = b"" if merged else done.stderr
    return Captured(
        done.returncode, done.stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace")
    )
