"""Run a command in a sandbox: bubblewrap namespaces, an unprivileged uid, cgroup memory limit.

Builds run here now; dynos will too. Inside, the system directories are
read-only, only the given directories are writable, /tmp is private, PID/IPC/
UTS namespaces are private, and the hostname is the given one. Nothing of the
data directory, the store or any key is mounted. Where bubblewrap or cgroups
are missing the command runs as a plain process after a loud warning.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("slipway.sandbox")

# What a sandboxed process sees of the host, read-only. Never /root, /home,
# /work, /var or the data directory.
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt")
CGROUP_ROOT = Path("/sys/fs/cgroup")


class SandboxError(Exception):
    """The sandbox could not run the command."""


class SandboxTimeout(SandboxError):
    pass


@dataclass(frozen=True)
class Mount:
    host: Path
    inside: str
    writable: bool = False


@dataclass(frozen=True)
class Overlay:
    """A fresh writable view of a read-only directory: `lower` shared, `upper` this dyno's own."""

    lower: Path
    upper: Path
    work: Path
    merged: Path


@dataclass(frozen=True)
class SandboxSpec:
    argv: Sequence[str]
    env: Mapping[str, str]
    mounts: Sequence[Mount] = ()
    workdir: str = "/"
    hostname: str = "sandbox"
    uid: int | None = None
    memory_mb: int | None = None
    timeout: float | None = None
    # Extra host directories made visible read-only at the same path (e.g. toolchains).
    extra_ro: Sequence[Path] = field(default_factory=tuple)
    # Mounted (as root, in a private mount namespace) before bwrap starts; bind
    # `overlay.merged` somewhere with `mounts`. Gone when the sandbox's processes are.
    overlay: Overlay | None = None
    # A new session keeps a sandboxed process from injecting input into the caller's
    # terminal (TIOCSTI); an attached one-off dyno on its own PTY may skip it.
    new_session: bool = True
    # Make the (PTY) stdin the controlling terminal, so `run bash` gets job control.
    controlling_tty: bool = False
    # Host files and directories masked inside (files by /dev/null, directories by an empty
    # tmpfs): the host's interpreters, to prove a slug runs on its own runtime.
    hidden: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class Capabilities:
    bwrap: str | None
    setpriv: str | None
    is_root: bool
    cgroup: str | None  # "v1", "v2" or None

    @property
    def isolated(self) -> bool:
        return self.bwrap is not None


def _cgroup_version() -> str | None:
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        controllers = (CGROUP_ROOT / "cgroup.controllers").read_text().split()
        return "v2" if "memory" in controllers and os.access(CGROUP_ROOT, os.W_OK) else None
    if (CGROUP_ROOT / "memory" / "cgroup.procs").exists() and os.access(
        CGROUP_ROOT / "memory", os.W_OK
    ):
        return "v1"
    return None


def _bwrap_works(path: str) -> bool:
    try:
        result = subprocess.run(
            [path, "--ro-bind", "/", "/", "--unshare-user", "--unshare-pid", "true"],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0


def detect_capabilities() -> Capabilities:
    bwrap = shutil.which("bwrap")
    if bwrap and not _bwrap_works(bwrap):
        bwrap = None
    caps = Capabilities(
        bwrap=bwrap,
        setpriv=shutil.which("setpriv"),
        is_root=os.geteuid() == 0,
        cgroup=_cgroup_version(),
    )
    if caps.bwrap is None:
        log.warning(
            "!!! bubblewrap (bwrap) is missing or cannot create namespaces: builds and dynos "
            "run as PLAIN PROCESSES with no isolation. Install the Debian package "
            "'bubblewrap' to sandbox them. !!!"
        )
    if caps.cgroup is None:
        log.warning("!!! No writable cgroup memory controller: memory limits are NOT enforced. !!!")
    return caps


class CgroupLimit:
    """A memory cgroup for one sandboxed process tree, removed afterwards."""

    def __init__(self, version: str, name: str, memory_mb: int) -> None:
        base = CGROUP_ROOT / "memory" if version == "v1" else CGROUP_ROOT
        self.path = base / "slipway" / name
        self.path.mkdir(parents=True, exist_ok=True)
        limit = str(memory_mb * 1024 * 1024)
        if version == "v1":
            (self.path / "memory.limit_in_bytes").write_text(limit)
        else:
            (self.path / "memory.max").write_text(limit)
            (self.path / "memory.swap.max").write_text("0")

    @property
    def procs(self) -> Path:
        return self.path / "cgroup.procs"

    def remove(self) -> None:
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)  # processes still leaving the cgroup


def build_argv(spec: SandboxSpec, caps: Capabilities, cgroup_procs: Path | None) -> list[str]:
    """The full command line (pure): cgroup entry, uid drop, bwrap, then the command."""
    argv: list[str] = []
    if cgroup_procs is not None:
        # The shell joins the cgroup before exec'ing the rest, so no child escapes it.
        argv += ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', str(cgroup_procs)]
    if spec.overlay is not None:
        # A private mount namespace: the overlay vanishes with the sandbox, even after a
        # kill -9 of the platform, so no mount is ever left behind on the host.
        ov = spec.overlay
        argv += [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "/bin/sh",
            "-c",
            'mount -t overlay overlay -o "lowerdir=$1,upperdir=$2,workdir=$3" "$4" '
            '&& shift 4 && exec "$@"',
            "overlay",
            str(ov.lower),
            str(ov.upper),
            str(ov.work),
            str(ov.merged),
        ]
    if not caps.isolated:
        return argv + list(spec.argv)
    assert caps.bwrap is not None
    # As root, bwrap itself runs privileged (so it can reach bind sources under private
    # directories) and setpriv inside the sandbox drops to the app's uid for good: no
    # capabilities, no new privileges, files written owned by that uid on the host.
    # As anyone else, a user namespace maps the caller to itself.
    drop_to_uid = caps.is_root and spec.uid is not None and caps.setpriv is not None
    argv += [caps.bwrap, "--die-with-parent"]
    if spec.new_session:
        argv += ["--new-session"]
    if not drop_to_uid:
        argv += ["--unshare-user"]
    argv += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    argv += ["--hostname", spec.hostname]
    for d in SYSTEM_DIRS:
        if Path(d).exists():
            argv += ["--ro-bind", d, d]
    for extra in spec.extra_ro:
        argv += ["--ro-bind", str(extra), str(extra)]
    for hidden in spec.hidden:
        if os.path.isdir(hidden) and not os.path.islink(hidden):
            argv += ["--tmpfs", hidden]
        elif os.path.exists(hidden):
            argv += ["--ro-bind", "/dev/null", hidden]
    # A private /tmp, writable by the unprivileged uid like any Unix /tmp (sticky, 1777).
    argv += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp"]  # noqa: S108
    made: set[str] = set()
    for mount in spec.mounts:
        # bwrap makes missing mount points 0700: a mount at /runtimes/node (or an
        # installation bound at its own path under /root) would be unreadable to the app's
        # uid, so the directories leading to it are made traversable first.
        for parent in reversed(Path(mount.inside).parents):
            text = str(parent)
            under_system = any(text == d or text.startswith(d + "/") for d in SYSTEM_DIRS)
            if text in ("/", "/tmp") or under_system or text in made:  # noqa: S108
                continue
            made.add(text)
            argv += ["--perms", "0755", "--dir", text]
        argv += ["--bind" if mount.writable else "--ro-bind", str(mount.host), mount.inside]
    argv += ["--chdir", spec.workdir, "--clearenv"]
    for key, value in spec.env.items():
        argv += ["--setenv", key, value]
    if drop_to_uid:
        assert caps.setpriv is not None
        assert spec.uid is not None
        argv += [
            caps.setpriv,
            f"--reuid={spec.uid}",
            f"--regid={spec.uid}",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
            "--",
        ]
    if spec.controlling_tty:
        argv += ["setsid", "--ctty"]
    return argv + list(spec.argv)


Spawner = Callable[..., "subprocess.Popen[bytes]"]


class Sandbox:
    def __init__(self, caps: Capabilities | None = None, spawner: Spawner | None = None) -> None:
        self.caps = caps or detect_capabilities()
        self._spawn: Spawner = spawner or subprocess.Popen

    def run(self, spec: SandboxSpec, on_line: Callable[[str], None]) -> int:
        """Run to completion, feeding each output line (stdout and stderr merged) to on_line."""
        cgroup = None
        if spec.memory_mb and self.caps.cgroup:
            try:
                cgroup = CgroupLimit(self.caps.cgroup, f"s-{uuid.uuid4().hex[:12]}", spec.memory_mb)
            except OSError as exc:
                log.warning("cannot create a memory cgroup (%s); no memory limit", exc)
        argv = build_argv(spec, self.caps, cgroup.procs if cgroup else None)
        env = dict(spec.env) if not self.caps.isolated else {"PATH": "/usr/bin:/bin"}
        try:
            proc = self._spawn(
                argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=None if self.caps.isolated else spec.workdir,
                start_new_session=True,
            )
        except OSError as exc:
            if cgroup:
                cgroup.remove()
            raise SandboxError(f"cannot start {spec.argv[0]}: {exc}") from exc
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            _kill_group(proc)

        timer = threading.Timer(spec.timeout, kill) if spec.timeout else None
        if timer:
            timer.daemon = True
            timer.start()
        try:
            assert proc.stdout is not None
            for raw in proc.stdout:
                on_line(raw.decode("utf-8", "replace").rstrip("\r\n"))
            code = proc.wait()
        finally:
            if timer:
                timer.cancel()
            _kill_group(proc)
            if cgroup:
                cgroup.remove()
        if timed_out.is_set():
            raise SandboxTimeout(f"{spec.argv[0]} did not finish within {spec.timeout:.0f} s")
        return code


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    if proc.poll() is None:
        proc.kill()
