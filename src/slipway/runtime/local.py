"""The local driver: a dyno is a sandboxed process tree on this machine.

Each release's slug is unpacked once, read-only and shared; each dyno gets an
overlay with its own empty upper layer mounted at /app (the ephemeral
filesystem: what one dyno writes no other sees, and a restart starts clean).
The upper layer and /tmp live on a sparse ext4 image of the size's disk cap,
loop-mounted in the dyno's private mount namespace, so a full disk is ENOSPC
in that dyno only. Where overlays cannot be mounted (not root), each dyno
gets a copy instead. With a `DynoNetwork`, each dyno runs in a network
namespace of its own and the router reaches it at the namespace's address.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from slipway.runtime.driver import LaunchRequest, Usage
from slipway.runtime.env import launch_argv
from slipway.runtime.errors import DynoError, SlugUnavailable
from slipway.runtime.network.host import DynoNetwork, Lease, NetworkError
from slipway.runtime.network.listening import listening_ports, loopback_only_ports
from slipway.runtime.sandbox import (
    Capabilities,
    Cgroup,
    Limits,
    Mount,
    Overlay,
    SandboxError,
    SandboxSpec,
    build_argv,
    detect_capabilities,
    make_disk_image,
    remove_leftover_cgroups,
    spawn_fds,
)

log = logging.getLogger("slipway.runtime")

# Processes that belong to the sandbox machinery, not to the app: never signalled
# with SIGTERM (killing bwrap would SIGKILL the whole dyno at once).
_HELPERS = frozenset({"bwrap"})


@dataclass
class DynoProcess:
    """A running dyno's process tree and what it holds on the host."""

    popen: subprocess.Popen[bytes]
    output_fd: int
    workdir: Path
    cgroup: Cgroup | None
    cgroup_version: str | None
    # The other end of a PTY or pipe that the attached client writes into.
    input_fd: int | None = None
    pidfd: int = -1
    lease: Lease | None = None
    network: DynoNetwork | None = None

    @property
    def address(self) -> str:
        return self.lease.address if self.lease is not None else "127.0.0.1"

    def listening_ports(self) -> set[int] | None:
        """The ports bound in the dyno's own namespace (bwrap's view: it is in it) on an
        address the router reaches: loopback there is the dyno's alone."""
        if self.lease is None:
            return None
        return listening_ports(f"/proc/{self.popen.pid}/net", reachable_only=True)

    def loopback_only_ports(self) -> set[int]:
        if self.lease is None:
            return set()
        return loopback_only_ports(f"/proc/{self.popen.pid}/net")

    def __post_init__(self) -> None:
        try:
            self.pidfd = os.pidfd_open(self.popen.pid)
        except OSError:
            self.pidfd = -1

    @property
    def pid(self) -> int:
        return self.popen.pid

    def pids(self) -> list[int]:
        """Every process of the dyno (but bwrap's own), so a stop reaches all of them."""
        if self.cgroup is not None:
            try:
                found = [int(p) for p in self.cgroup.procs.read_text().split()]
            except OSError:
                found = []
        else:
            found = _descendants(self.popen.pid)
        return [p for p in found if _comm(p) not in _HELPERS]

    def signal_all(self, sig: int) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    def kill(self) -> None:
        """SIGKILL: bwrap dies, and --die-with-parent takes the whole PID namespace with it."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.signal_all(signal.SIGKILL)
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.kill()

    def exit_status(self) -> int | None:
        code = self.popen.poll()
        if code is None:
            return None
        return 128 - code if code < 0 else code

    def memory_bytes(self) -> int | None:
        """Resident memory plus swap (what R14/R15 count), from the dyno's cgroup."""
        if self.cgroup is None:
            return None
        stat = self.cgroup.path / "memory.stat"
        try:
            fields = dict(line.split() for line in stat.read_text().splitlines())
        except (OSError, ValueError):
            return None
        if self.cgroup_version == "v1":
            return int(fields.get("total_rss", 0)) + int(fields.get("total_swap", 0))
        return int(fields.get("anon", 0)) + int(fields.get("swap", 0))

    def usage(self) -> Usage | None:
        if self.cgroup is None:
            return None
        try:
            fields = dict(
                line.split() for line in (self.cgroup.path / "memory.stat").read_text().splitlines()
            )
        except (OSError, ValueError):
            return None
        if self.cgroup_version == "v1":
            rss, swap = int(fields.get("total_rss", 0)), int(fields.get("total_swap", 0))
        else:
            rss, swap = int(fields.get("anon", 0)), int(fields.get("swap", 0))
        return Usage(rss, swap, self._cpu_seconds())

    def _cpu_seconds(self) -> float:
        assert self.cgroup is not None
        try:
            if self.cgroup_version == "v2":
                for line in (self.cgroup.path / "cpu.stat").read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == "usage_usec":
                        return int(value) / 1e6
                return 0.0
            for d in self.cgroup.dirs:
                usage = d / "cpuacct.usage"
                if usage.exists():
                    return int(usage.read_text()) / 1e9
        except (OSError, ValueError):
            pass
        return 0.0

    def oom_kills(self) -> int:
        if self.cgroup is None:
            return 0
        name = "memory.oom_control" if self.cgroup_version == "v1" else "memory.events"
        try:
            for line in (self.cgroup.path / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def release(self) -> None:
        """Close descriptors, remove the cgroup and the dyno's writable layer."""
        for fd in (self.output_fd, self.input_fd, self.pidfd):
            if fd is not None and fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.output_fd = self.pidfd = -1
        self.input_fd = None
        # The network first: removing the cgroup may wait for the last processes to go.
        if self.lease is not None and self.network is not None:
            self.network.detach(self.lease)
            self.lease = None
        if self.cgroup is not None:
            self.cgroup.remove()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name may contain spaces and parentheses: parse after the last ')'.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# The host's interpreters that slugs carry their own of (Heroku's stack has none either).
HOST_RUNTIME_GLOBS = (
    "/usr/bin/python3*",
    "/usr/local/bin/python3*",
    "/usr/lib/python3*",
    "/usr/local/lib/python3*",
    "/usr/bin/node",
    "/usr/bin/nodejs",
    "/usr/local/bin/node",
    "/usr/lib/node_modules",
    "/usr/share/nodejs",
)


def host_runtime_paths() -> tuple[str, ...]:
    """What `--hide-host-runtimes` masks in dynos: the host's Python and Node.js."""
    found = {p for pattern in HOST_RUNTIME_GLOBS for p in glob.glob(pattern)}
    # A link is masked where it leads (bwrap cannot bind over a chain of absolute links);
    # a dangling one hides nothing.
    return tuple(sorted({os.path.realpath(p) for p in found if os.path.exists(p)}))


@dataclass
class LocalDriver:
    root: Path
    caps: Capabilities = field(default_factory=detect_capabilities)
    # R15 kills at twice the quota (Heroku's Cedar rule): the cgroup's hard limit.
    hard_limit_factor: float = 2.0
    # Each dyno in a network namespace of its own (None: dynos share the host's network).
    network: DynoNetwork | None = None
    # Caps every dyno's ephemeral filesystem at this many MB instead of its size's cap.
    disk_mb: int | None = None
    _slug_lock: threading.Lock = field(default_factory=threading.Lock)
    overlay_ok: bool = False
    # Host paths masked in every dyno (runtime/sandbox.py, SandboxSpec.hidden).
    hidden: tuple[str, ...] = ()
    disk_ok: bool = False

    def __post_init__(self) -> None:
        (self.root / "slugs").mkdir(parents=True, exist_ok=True)
        dynos = self.root / "dynos"
        # Leftovers of a previous run (killed with -9): their processes died with it.
        shutil.rmtree(dynos, ignore_errors=True)
        dynos.mkdir(parents=True, exist_ok=True)
        if self.caps.cgroup:
            remove_leftover_cgroups("dyno-")
        self.overlay_ok = self.caps.is_root and self.caps.isolated and self._probe_overlay()
        if self.caps.isolated and not self.overlay_ok:
            log.warning("overlay mounts are unavailable; each dyno gets a copy of its slug")
        self.disk_ok = self.overlay_ok and shutil.which("mkfs.ext4") is not None
        if self.overlay_ok and not self.disk_ok:
            log.warning("mkfs.ext4 is missing (Debian e2fsprogs): dyno disks are NOT capped")

    def _probe_overlay(self) -> bool:
        probe = self.root / "dynos" / ".probe"
        for part in ("lower", "upper", "work", "merged"):
            (probe / part).mkdir(parents=True, exist_ok=True)
        try:
            result = subprocess.run(
                [
                    "unshare",
                    "--mount",
                    "--propagation",
                    "private",
                    "mount",
                    "-t",
                    "overlay",
                    "overlay",
                    "-o",
                    f"lowerdir={probe}/lower,upperdir={probe}/upper,workdir={probe}/work",
                    str(probe / "merged"),
                ],
                capture_output=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return False
        finally:
            shutil.rmtree(probe, ignore_errors=True)
        return result.returncode == 0

    def _identity(self, uid: int) -> tuple[Path, Path]:
        """/etc/passwd and /etc/group that name the app's uid (`u20001`, home /app)."""
        base = self.root / "etc"
        base.mkdir(exist_ok=True)
        base.chmod(0o755)
        passwd, group = base / f"passwd-{uid}", base / f"group-{uid}"
        if not passwd.exists():
            host_passwd = Path("/etc/passwd").read_text() if Path("/etc/passwd").exists() else ""
            host_group = Path("/etc/group").read_text() if Path("/etc/group").exists() else ""
            for path, text in (
                (passwd, f"{host_passwd.rstrip()}\nu{uid}:x:{uid}:{uid}::/app:/bin/bash\n"),
                (group, f"{host_group.rstrip()}\nu{uid}:x:{uid}:\n"),
            ):
                tmp = path.with_suffix(".tmp")
                tmp.write_text(text)
                tmp.chmod(0o644)
                tmp.replace(path)
        return passwd, group

    # -- slugs --------------------------------------------------------------------

    def slug_dir(self, app_id: str, checksum: str) -> Path:
        digest = checksum.partition(":")[2] or checksum
        return self.root / "slugs" / app_id / digest[:32]

    def prepare_slug(self, app_id: str, uid: int, archive: Path, checksum: str) -> Path:
        """Unpack a slug once (verified against its checksum) and share it read-only."""
        target = self.slug_dir(app_id, checksum)
        with self._slug_lock:
            if target.is_dir():
                return target
            if not archive.is_file():
                raise SlugUnavailable(
                    "Error R17 (Checksum error) -> the slug archive is missing; deploy again."
                )
            algo, _, expected = checksum.partition(":")
            digest = hashlib.sha256()
            with archive.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1024 * 1024), b""):
                    digest.update(chunk)
            if algo.upper() == "SHA256" and digest.hexdigest() != expected.lower():
                raise SlugUnavailable(
                    "Error R17 (Checksum error) -> the slug does not match its checksum."
                )
            tmp = target.with_name(target.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(tmp, filter="tar")
            if self.caps.is_root:
                _chown_tree(tmp, uid)
            tmp.chmod(0o755)
            tmp.rename(target)
            return target

    def forget_app(self, app_id: str) -> None:
        shutil.rmtree(self.root / "slugs" / app_id, ignore_errors=True)

    def prune_slugs(self, app_id: str, keep: set[Path]) -> None:
        base = self.root / "slugs" / app_id
        if not base.is_dir():
            return
        for path in base.iterdir():
            if path not in keep and not path.name.endswith(".tmp"):
                shutil.rmtree(path, ignore_errors=True)

    # -- dynos ----------------------------------------------------------------------

    def launch(self, request: LaunchRequest, lower: Path) -> DynoProcess:
        workdir = self._workdir(request)
        lease: Lease | None = None
        cgroup: Cgroup | None = None
        try:
            app_dir, overlay = self._app_dir(request, lower, workdir)
            if self.network is not None:
                lease = self.network.attach(request.port, request.addon_endpoints)
            spec = self._sandbox_spec(request, app_dir, overlay, lease)
            cgroup = self._cgroup(request, spec)
            host_env = (
                {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin"} if self.caps.isolated else dict(spec.env)
            )
            with spawn_fds(spec, self.caps) as (ready, fds):
                argv = build_argv(ready, self.caps, cgroup.procs_files if cgroup else None)
                stdio, popen = _spawn(
                    argv,
                    request,
                    env=host_env,
                    cwd=None if self.caps.isolated else spec.workdir,
                    pass_fds=fds,
                )
        except (OSError, SandboxError, NetworkError) as exc:
            if cgroup:
                cgroup.remove()
            if lease is not None and self.network is not None:
                self.network.detach(lease)
            shutil.rmtree(workdir, ignore_errors=True)
            raise DynoError(f"cannot start the dyno: {exc}") from exc
        os.set_blocking(stdio.output_fd, False)
        return DynoProcess(
            popen,
            stdio.output_fd,
            workdir,
            cgroup,
            self.caps.cgroup if cgroup else None,
            stdio.input_fd,
            lease=lease,
            network=self.network,
        )

    def _workdir(self, request: LaunchRequest) -> Path:
        # One directory per boot: a restarted dyno must not meet the old one's layer,
        # which is still being removed.
        workdir = self.root / "dynos" / f"{request.dyno_id}-{uuid.uuid4().hex[:8]}"
        workdir.mkdir(parents=True)
        workdir.chmod(0o711)
        return workdir

    def _app_dir(
        self, request: LaunchRequest, lower: Path, workdir: Path
    ) -> tuple[Path, Overlay | None]:
        """The dyno's /app: an overlay on the shared slug, or a copy where overlays fail."""
        disk_mb = self.disk_mb or request.limits.disk_mb
        if self.overlay_ok and self.disk_ok and disk_mb:
            # upper/, work/ and tmp/ are made inside the image by make_disk_image.
            image, disk = workdir / "disk.img", workdir / "disk"
            make_disk_image(image, disk_mb, request.uid)
            disk.mkdir()
            (workdir / "merged").mkdir()
            overlay = Overlay(lower, disk / "upper", disk / "work", workdir / "merged", image, disk)
            return overlay.merged, overlay
        if self.overlay_ok:
            overlay = Overlay(lower, workdir / "upper", workdir / "work", workdir / "merged")
            for path in (overlay.upper, overlay.work, overlay.merged):
                path.mkdir()
            os.chown(overlay.upper, request.uid, request.uid)
            overlay.upper.chmod(0o755)
            return overlay.merged, overlay
        app_dir = workdir / "app"
        shutil.copytree(lower, app_dir, symlinks=True)
        if self.caps.is_root:
            _chown_tree(app_dir, request.uid)
        return app_dir, None

    def _sandbox_spec(
        self, request: LaunchRequest, app_dir: Path, overlay: Overlay | None, lease: Lease | None
    ) -> SandboxSpec:
        inside = "/app" if self.caps.isolated else str(app_dir)
        mounts = [Mount(app_dir, "/app", writable=True)]
        if self.caps.isolated:
            passwd, group = self._identity(request.uid)
            mounts += [Mount(passwd, "/etc/passwd"), Mount(group, "/etc/group")]
        if lease is not None and self.network is not None and self.network.resolv_conf:
            mounts.append(Mount(self.network.resolv_conf, "/etc/resolv.conf"))
        limits = request.limits
        env = dict(request.env)
        if not self.caps.isolated:
            env["HOME"] = inside
        return SandboxSpec(
            argv=launch_argv(request.command),
            env=env,
            mounts=tuple(mounts),
            workdir=inside,
            hostname=request.hostname,
            uid=request.uid,
            limits=Limits(
                memory_mb=int(request.memory_mb * self.hard_limit_factor),
                pids=limits.pids,
                cpu_weight=limits.cpu_weight,
                cpu_quota=limits.cpu_quota,
            ),
            overlay=overlay,
            new_session=not request.tty,
            controlling_tty=request.tty,
            hidden=self.hidden,
            tmp=overlay.image_mount / "tmp" if overlay and overlay.image_mount else None,
            netns=lease.netns if lease is not None else None,
        )

    def _cgroup(self, request: LaunchRequest, spec: SandboxSpec) -> Cgroup | None:
        if not self.caps.cgroup:
            return None
        try:
            return Cgroup(self.caps.cgroup, f"dyno-{request.dyno_id}", spec.limits)
        except OSError as exc:
            log.warning("cannot create a cgroup (%s); no memory, process or CPU limit", exc)
            return None


@dataclass
class _Stdio:
    """The dyno's side of its standard streams, and the manager's side."""

    stdin: int
    stdout: int
    stderr: int
    output_fd: int
    input_fd: int | None
    # Closed in this process once the child holds them.
    child_fds: list[int]


def _open_stdio(request: LaunchRequest) -> _Stdio:
    if request.tty:
        master, slave = os.openpty()
        _set_winsize(slave, request.lines, request.columns)
        return _Stdio(slave, slave, slave, master, master, [slave])
    out_r, out_w = os.pipe()
    if not request.interactive:
        return _Stdio(subprocess.DEVNULL, out_w, out_w, out_r, None, [out_w])
    try:
        in_r, in_w = os.pipe()
    except OSError:
        os.close(out_w)
        raise
    return _Stdio(in_r, out_w, out_w, out_r, in_w, [out_w, in_r])


def _spawn(
    argv: list[str],
    request: LaunchRequest,
    *,
    env: dict[str, str],
    cwd: str | None,
    pass_fds: tuple[int, ...] = (),
) -> tuple[_Stdio, subprocess.Popen[bytes]]:
    stdio = _open_stdio(request)
    try:
        popen = subprocess.Popen(
            argv,
            stdin=stdio.stdin,
            stdout=stdio.stdout,
            stderr=stdio.stderr,
            env=env,
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
            pass_fds=pass_fds,
        )
    finally:
        for fd in stdio.child_fds:
            os.close(fd)
    return stdio, popen


def _set_winsize(fd: int, rows: int, cols: int) -> None:
    import fcntl
    import struct
    import termios

    with contextlib.suppress(OSError):
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def _chown_tree(root: Path, uid: int) -> None:
    os.chown(root, uid, uid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            with contextlib.suppress(FileNotFoundError):
                os.chown(os.path.join(dirpath, name), uid, uid, follow_symlinks=False)


__all__ = ["DynoProcess", "LaunchRequest", "LocalDriver", "free_port"]
