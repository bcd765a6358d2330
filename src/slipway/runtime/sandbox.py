"""Run a command in a sandbox: bubblewrap namespaces, an unprivileged uid, cgroup limits.

Builds and dynos run here. Inside, the system directories are read-only, only
the given directories are writable, /tmp is private, PID/IPC/UTS namespaces
are private, and the hostname is the given one. Nothing of the data
directory, the store or any key is mounted. The cgroup caps memory, the
number of processes (a fork bomb stops at `pids.max`) and CPU (a weight, so
dynos share a busy machine by size, and a quota, so one cannot take it all).
A dyno's writable layer can live on a size-capped loop-mounted image (a full
disk is ENOSPC in that dyno only), and a dyno can run in a network namespace
of its own (`runtime/network/`). Where bubblewrap or cgroups are missing the
command runs as a plain process after a loud warning.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from slipway.runtime.network.host import DynoNetwork, NetworkError
from slipway.runtime.seccomp import filter_fd, no_user_namespaces

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
class Limits:
    """What the sandbox's cgroup allows; None leaves that resource unlimited."""

    memory_mb: int | None = None
    # Processes and threads together (cgroup `pids.max`).
    pids: int | None = None
    # Relative CPU share when the machine is busy: 100 is one standard share (cgroup v2's
    # cpu.weight scale; v1's cpu.shares is 1024 per 100).
    cpu_weight: int | None = None
    # CPUs the tree may use at most, busy machine or not (1.0 = one whole CPU).
    cpu_quota: float | None = None


@dataclass(frozen=True)
class Overlay:
    """A fresh writable view of a read-only directory: `lower` shared, `upper` this dyno's own.

    With an `image` (an ext4 file made by `make_disk_image`), `upper` and `work` are
    directories inside it, mounted at `image_mount` first: the writable layer is
    then capped at the image's size.
    """

    lower: Path
    upper: Path
    work: Path
    merged: Path
    image: Path | None = None
    image_mount: Path | None = None


@dataclass(frozen=True)
class SandboxSpec:
    argv: Sequence[str]
    env: Mapping[str, str]
    mounts: Sequence[Mount] = ()
    workdir: str = "/"
    hostname: str = "sandbox"
    uid: int | None = None
    limits: Limits = field(default_factory=Limits)
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
    # A host directory used as /tmp (on the dyno's capped disk); None: a fresh tmpfs.
    tmp: Path | None = None
    # Enter this network namespace (a bind-mounted nsfs file) before bwrap starts.
    netns: Path | None = None
    # Enter this mount namespace (`/proc/PID/ns/mnt`) before bwrap starts: a build's,
    # where its capped disk is mounted (`builder/disk.py`).
    mountns: Path | None = None
    # An inherited descriptor holding a seccomp program (`runtime/seccomp.py`).
    seccomp_fd: int | None = None
    # An inherited descriptor bwrap reads its options from (`bwrap --args`), NUL-separated.
    options_fd: int | None = None


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


# cgroup v1 keeps one hierarchy per controller; v2 has one tree with every controller.
_V1_CONTROLLERS = ("memory", "pids", "cpu")
_CPU_PERIOD_US = 100_000


def cgroup_settings(version: str, limits: Limits, cpus: int) -> dict[str, dict[str, str]]:
    """The files to write per controller directory (pure): {"memory": {"memory.max": ...}}.

    v2 has one directory, keyed "" here. A quota above the machine's CPUs is no limit."""
    files: dict[str, dict[str, str]] = {}
    if version == "v2":
        v2: dict[str, str] = {}
        if limits.memory_mb:
            v2["memory.max"] = str(limits.memory_mb * 1024 * 1024)
            v2["memory.swap.max"] = "0"
        if limits.pids:
            v2["pids.max"] = str(limits.pids)
        if limits.cpu_weight:
            v2["cpu.weight"] = str(max(1, min(10000, limits.cpu_weight)))
        if limits.cpu_quota and limits.cpu_quota < cpus:
            v2["cpu.max"] = f"{int(limits.cpu_quota * _CPU_PERIOD_US)} {_CPU_PERIOD_US}"
        return {"": v2}
    if limits.memory_mb:
        files["memory"] = {"memory.limit_in_bytes": str(limits.memory_mb * 1024 * 1024)}
    if limits.pids:
        files["pids"] = {"pids.max": str(limits.pids)}
    cpu: dict[str, str] = {}
    if limits.cpu_weight:
        cpu["cpu.shares"] = str(max(2, limits.cpu_weight * 1024 // 100))
    if limits.cpu_quota and limits.cpu_quota < cpus:
        cpu["cpu.cfs_period_us"] = str(_CPU_PERIOD_US)
        cpu["cpu.cfs_quota_us"] = str(int(limits.cpu_quota * _CPU_PERIOD_US))
    if cpu:
        files["cpu"] = cpu
    return files


class Cgroup:
    """The cgroup(s) of one sandboxed process tree, with its limits; removed afterwards.

    On cgroup v1 that is one directory per limited controller (memory, pids, cpu),
    each under `slipway/NAME`; on v2 one directory `slipway/NAME`."""

    def __init__(self, version: str, name: str, limits: Limits, cpus: int | None = None) -> None:
        self.version = version
        self.dirs: list[Path] = []
        settings = cgroup_settings(version, limits, cpus or os.cpu_count() or 1)
        try:
            if version == "v2":
                _enable_v2_controllers()
                self._make(CGROUP_ROOT / "slipway" / name, settings[""])
            else:
                # The memory directory always exists: memory.stat is what R14 reads.
                settings.setdefault("memory", {})
                for controller in _V1_CONTROLLERS:
                    if controller in settings and (CGROUP_ROOT / controller).is_dir():
                        self._make(
                            CGROUP_ROOT / controller / "slipway" / name, settings[controller]
                        )
        except OSError:
            self.remove()
            raise

    def _make(self, path: Path, files: dict[str, str]) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.dirs.append(path)
        for key, value in files.items():
            (path / key).write_text(value)

    @property
    def path(self) -> Path:
        """Where memory.stat and the OOM counters are."""
        if self.version == "v2":
            return self.dirs[0]
        return next((d for d in self.dirs if d.parts[-3] == "memory"), self.dirs[0])

    @property
    def procs(self) -> Path:
        return self.path / "cgroup.procs"

    @property
    def procs_files(self) -> list[Path]:
        return [d / "cgroup.procs" for d in self.dirs]

    def remove(self) -> None:
        for path in self.dirs:
            _rmdir_when_empty(path)


def _enable_v2_controllers() -> None:
    """Delegate memory, pids and cpu to `slipway/` and its children (idempotent)."""
    base = CGROUP_ROOT / "slipway"
    base.mkdir(exist_ok=True)
    for parent in (CGROUP_ROOT, base):
        control = parent / "cgroup.subtree_control"
        enabled = control.read_text().split()
        wanted = [c for c in ("memory", "pids", "cpu") if c not in enabled]
        if wanted:
            with contextlib.suppress(OSError):
                control.write_text(" ".join(f"+{c}" for c in wanted))


def _rmdir_when_empty(path: Path) -> None:
    for _ in range(50):
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)  # processes still leaving the cgroup


def remove_leftover_cgroups(prefix: str) -> int:
    """Remove empty `slipway/<prefix>*` cgroups a kill -9 left behind; returns how many."""
    removed = 0
    bases = [CGROUP_ROOT / "slipway"] + [CGROUP_ROOT / c / "slipway" for c in _V1_CONTROLLERS]
    for base in bases:
        if not base.is_dir():
            continue
        for path in base.glob(prefix + "*"):
            with contextlib.suppress(OSError):
                path.rmdir()
                removed += 1
    return removed


# What a dyno's disk holds: the overlay's upper layer (the app's uid's), its work
# directory, and /tmp. A build's holds /tmp only (its runner makes the rest).
DYNO_DISK_DIRS: tuple[tuple[str, int, bool], ...] = (
    ("upper", 0o755, True),
    ("work", 0o700, False),
    ("tmp", 0o1777, False),
)


def make_disk_image(
    image: Path,
    size_mb: int,
    uid: int,
    mkfs: str = "mkfs.ext4",
    dirs: Sequence[tuple[str, int, bool]] = DYNO_DISK_DIRS,
) -> None:
    """A sparse ext4 image holding `dirs` (name, mode, owned by `uid`): for a dyno
    `upper/` (the uid's), `work/` and `tmp/` (1777).

    It takes no room until written to, and formats in milliseconds (no journal:
    the layer is thrown away with the dyno or the build anyway)."""
    staging = image.with_name(image.name + ".d")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    staging.chmod(0o755)
    for name, mode, owned in dirs:
        (staging / name).mkdir()
        if owned:
            os.chown(staging / name, uid, uid)
        (staging / name).chmod(mode)
    with image.open("wb") as fh:
        fh.truncate(size_mb * 1024 * 1024)
    try:
        done = subprocess.run(
            [
                *(mkfs, "-q", "-F", "-O", "^has_journal", "-E", "lazy_itable_init=1,nodiscard"),
                *("-m", "0", "-d", str(staging), str(image)),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if done.returncode != 0:
        image.unlink(missing_ok=True)
        raise SandboxError(f"cannot make the disk image: {done.stderr.strip() or done.stdout}")


# $0 is the colon-separated list of cgroup.procs files to join.
def _drops_to_uid(spec: SandboxSpec, caps: Capabilities) -> bool:
    return caps.is_root and spec.uid is not None and caps.setpriv is not None


def bwrap_options(spec: SandboxSpec, caps: Capabilities) -> list[str]:
    """bwrap's options (pure): namespaces, the read-only system, mounts, the environment."""
    opts = ["--die-with-parent"]
    if spec.seccomp_fd is not None:
        opts += ["--add-seccomp-fd", str(spec.seccomp_fd)]
    if spec.new_session:
        opts += ["--new-session"]
    if not _drops_to_uid(spec, caps):
        opts += ["--unshare-user"]
    opts += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    opts += ["--hostname", spec.hostname]
    for d in SYSTEM_DIRS:
        if Path(d).exists():
            opts += ["--ro-bind", d, d]
    for extra in spec.extra_ro:
        opts += ["--ro-bind", str(extra), str(extra)]
    for hidden in spec.hidden:
        if os.path.isdir(hidden) and not os.path.islink(hidden):
            opts += ["--tmpfs", hidden]
        elif os.path.exists(hidden):
            opts += ["--ro-bind", "/dev/null", hidden]
    opts += ["--proc", "/proc", "--dev", "/dev"]
    if spec.tmp is not None:
        opts += ["--bind", str(spec.tmp), "/tmp"]  # noqa: S108
    else:
        # A private /tmp, writable by the unprivileged uid like any Unix /tmp (sticky, 1777).
        opts += ["--perms", "1777", "--tmpfs", "/tmp"]  # noqa: S108
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
            opts += ["--perms", "0755", "--dir", text]
        opts += ["--bind" if mount.writable else "--ro-bind", str(mount.host), mount.inside]
    opts += ["--chdir", spec.workdir, "--clearenv"]
    for key, value in spec.env.items():
        opts += ["--setenv", key, value]
    return opts


_JOIN_CGROUPS = 'IFS=:; for f in $0; do echo $$ > "$f" || exit 125; done; unset IFS; exec "$@"'


def build_argv(
    spec: SandboxSpec, caps: Capabilities, cgroup_procs: Path | Sequence[Path] | None
) -> list[str]:
    """The full command line (pure): cgroup entry, mounts, network, uid drop, bwrap, command."""
    argv: list[str] = []
    if cgroup_procs is not None:
        procs = [cgroup_procs] if isinstance(cgroup_procs, Path) else list(cgroup_procs)
        # The shell joins the cgroup(s) before exec'ing the rest, so no child escapes them.
        argv += ["/bin/sh", "-c", _JOIN_CGROUPS, ":".join(str(p) for p in procs)]
    if spec.overlay is not None:
        # A private mount namespace: the overlay (and the loop-mounted disk under it)
        # vanishes with the sandbox, even after a kill -9 of the platform, so no mount
        # and no loop device is ever left behind on the host.
        ov = spec.overlay
        argv += ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c"]
        if ov.image is not None and ov.image_mount is not None:
            argv += [
                'mount -o loop,nosuid,nodev "$5" "$6" && '
                'mount -t overlay overlay -o "lowerdir=$1,upperdir=$2,workdir=$3" "$4" '
                '&& shift 6 && exec "$@"',
                "overlay",
                str(ov.lower),
                str(ov.upper),
                str(ov.work),
                str(ov.merged),
                str(ov.image),
                str(ov.image_mount),
            ]
        else:
            argv += [
                'mount -t overlay overlay -o "lowerdir=$1,upperdir=$2,workdir=$3" "$4" '
                '&& shift 4 && exec "$@"',
                "overlay",
                str(ov.lower),
                str(ov.upper),
                str(ov.work),
                str(ov.merged),
            ]
    if spec.netns is not None or spec.mountns is not None:
        # Joined as root, before bwrap: the sandbox cannot leave them (no CAP_SYS_ADMIN).
        argv += ["nsenter"]
        argv += [f"--mount={spec.mountns}"] if spec.mountns is not None else []
        argv += [f"--net={spec.netns}"] if spec.netns is not None else []
    if not caps.isolated:
        return argv + list(spec.argv)
    assert caps.bwrap is not None
    # As root, bwrap itself runs privileged (so it can reach bind sources under private
    # directories) and setpriv inside the sandbox drops to the app's uid for good: no
    # capabilities, no new privileges, files written owned by that uid on the host.
    # As anyone else, a user namespace maps the caller to itself.
    drop_to_uid = _drops_to_uid(spec, caps)
    argv += [caps.bwrap]
    options = bwrap_options(spec, caps)
    # Options from a descriptor: the environment (config vars, add-on credentials) must
    # never be in a process title, which every user of the host can read.
    argv += ["--args", str(spec.options_fd)] if spec.options_fd is not None else options
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
    """Runs builds. With a dyno network, each run gets a network namespace of its own on
    it: the outside world (package registries) through NAT, nothing of the platform."""

    def __init__(
        self,
        caps: Capabilities | None = None,
        spawner: Spawner | None = None,
        network: DynoNetwork | None = None,
    ) -> None:
        self.caps = caps or detect_capabilities()
        self._spawn: Spawner = spawner or subprocess.Popen
        self.network = network if self.caps.isolated else None

    def run(self, spec: SandboxSpec, on_line: Callable[[str], None]) -> int:
        """Run to completion, feeding each output line (stdout and stderr merged) to on_line."""
        if self.network is None or spec.netns is not None:
            return self._run(spec, on_line)
        try:
            lease = self.network.attach(None, ())
        except NetworkError as exc:
            raise SandboxError(f"cannot give {spec.argv[0]} a network: {exc}") from exc
        try:
            mounts = list(spec.mounts)
            if self.network.resolv_conf is not None:
                mounts.append(Mount(self.network.resolv_conf, "/etc/resolv.conf"))
            return self._run(dataclasses.replace(spec, netns=lease.netns, mounts=mounts), on_line)
        finally:
            self.network.detach(lease)

    def _run(self, spec: SandboxSpec, on_line: Callable[[str], None]) -> int:
        cgroup = None
        if spec.limits != Limits() and self.caps.cgroup:
            try:
                cgroup = Cgroup(self.caps.cgroup, f"s-{uuid.uuid4().hex[:12]}", spec.limits)
            except OSError as exc:
                log.warning("cannot create a cgroup (%s); no memory, process or CPU limit", exc)
        env = dict(spec.env) if not self.caps.isolated else {"PATH": "/usr/bin:/bin"}
        try:
            with spawn_fds(spec, self.caps) as (ready, fds):
                argv = build_argv(ready, self.caps, cgroup.procs_files if cgroup else None)
                proc = self._spawn(
                    argv,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
                    cwd=None if self.caps.isolated else spec.workdir,
                    start_new_session=True,
                    pass_fds=fds,
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


@contextlib.contextmanager
def spawn_fds(
    spec: SandboxSpec, caps: Capabilities
) -> Iterator[tuple[SandboxSpec, tuple[int, ...]]]:
    """The spec with its seccomp filter and bwrap's options in inheritable descriptors, and
    the descriptors to pass to the spawned process; closed again afterwards."""
    if not caps.isolated:
        yield spec, ()
        return
    fds: list[int] = []
    try:
        program = no_user_namespaces()
        if program is not None:
            fds.append(filter_fd(program))
            spec = dataclasses.replace(spec, seccomp_fd=fds[-1])
        payload = b"".join(o.encode() + b"\0" for o in bwrap_options(spec, caps))
        fds.append(filter_fd(payload, "slipway-bwrap-args"))
        yield dataclasses.replace(spec, options_fd=fds[-1]), tuple(fds)
    finally:
        for fd in fds:
            os.close(fd)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    if proc.poll() is None:
        proc.kill()
