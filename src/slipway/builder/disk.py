"""A build's writable space on a disk of its own, capped in size (`--build-disk`).

A build writes its build directory, the changes to the app's cache, the staged
buildpacks, the config-var files and /tmp onto one sparse ext4 image
(`runtime.sandbox.make_disk_image`), so a build that fills it gets ENOSPC there
and nowhere else: not the host, not the data directory, not another build.

The image is loop-mounted in a private mount namespace held by one small
process per build (`unshare --mount` running `read`), never on the host:

- a dyno started during the build copies the host's mounts into its own
  namespace; a host mount would be pinned there (loop device and all) until the
  dyno stops. The host never sees this mount, so nothing can pin it;
- the holder ends when its stdin closes, which a `kill -9` of the server does
  too: the namespace, the mount and the loop device go with it, and the image is
  unlinked as soon as it is mounted, so a crash leaves no mount, no loop device
  and at most a half-made image (removed at the next start).

The build's sandboxes enter that namespace (`SandboxSpec.mountns`); this process
reaches the disk through `/proc/PID/root`, which names the holder's view, so
the runner and the slug packer use ordinary paths.

The cache is part of the cap: a build must not fill the host through its cache
any more than through its build directory. It stays persistent without being
copied in: the build sees the app's cache through an overlay whose upper layer
is on the disk, so only what the build changes there counts against the cap.
Only when the build succeeded, and changed it, does the result replace the app's
cache, as a new directory (rsync with `--link-dest`: unchanged files are hard
links, so that costs little) swapped in after the disk is gone, so a failed or
full build leaves the previous cache as it was; a cache over the cap is not kept.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from slipway.runtime.sandbox import SandboxError, make_disk_image

log = logging.getLogger("slipway.builder.disk")

Emit = Callable[[str], None]

# In the holder's namespace: the image on $2, the app's cache ($3) seen through an overlay
# at $2/cache whose layer is on the image; it says so and waits for its stdin to close.
# The overlay is unmounted before anything is removed: the app's cache stays untouched.
_UNSHARE = ("unshare", "--mount", "--propagation", "private", "/bin/sh", "-c")
_HOLD = (
    'mount -o loop,nosuid,nodev "$1" "$2" || exit 1\n'
    'mkdir "$2/cache" "$2/.cache-layer" "$2/.cache-work" || exit 1\n'
    'o="lowerdir=$3,upperdir=$2/.cache-layer,workdir=$2/.cache-work"\n'
    # volatile (Linux 5.10+): no sync of the disk when the overlay goes, as nothing is kept.
    'mount -t overlay overlay -o "$o,volatile" "$2/cache" 2>/dev/null || '
    'mount -t overlay overlay -o "$o" "$2/cache" || exit 1\n'
    "echo mounted\n"
    "read _ || true\n"
    # What the build wrote is thrown away: deleted first, it is never written back to the
    # image on the way out (unmounting flushes every dirty page: ~0.2 s per 100 MB).
    'umount "$2/cache" && find "$2" -mindepth 1 -maxdepth 1 -exec rm -rf {} +\n'
)


def out_of_space_message(size_mb: int) -> str:
    return (
        f"The build ran out of disk space ({size_mb} MB); make it write less (a .slugignore "
        "keeps files out of the build) or raise the limit (slipway server --build-disk)."
    )


def is_out_of_space(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


@dataclass
class Workspace:
    """Where one build writes, as this process reaches it."""

    work_dir: Path
    cache_dir: Path
    # The build's /tmp on the disk; None: a fresh tmpfs per sandbox run (uncapped).
    tmp_dir: Path | None = None
    # The namespace the build's sandboxes enter to see the disk.
    mountns: Path | None = None
    size_mb: int = 0
    # The app's own cache on the host, replaced by `cache_dir` when the build succeeds.
    host_cache: Path | None = None
    # A directory on the host where the source is unpacked and .slugignore applied before
    # it is copied onto the disk: their checks resolve links, and a path through
    # /proc/PID/root resolves to the host's view, not the disk's.
    stage_dir: Path | None = None

    # Set by keep_cache: the new cache made beside the app's, or no cache at all.
    _fresh: Path | None = None
    _drop: bool = False

    def keep_cache(self, emit: Emit) -> None:
        """The build succeeded: its cache is to become the app's (see `finish`)."""
        if self.host_cache is None:
            return
        if _tree_bytes(self.cache_dir) > self.size_mb * 1024 * 1024:
            emit(
                f"       The build cache is over {self.size_mb} MB, so it is not kept; the next "
                "build starts without one."
            )
            self._drop = True
            return
        fresh = self.host_cache.with_name(self.host_cache.name + ".new")
        shutil.rmtree(fresh, ignore_errors=True)
        try:
            if not differs(self.cache_dir, self.host_cache):
                return  # the build changed nothing there: the app's cache stays as it is
            sync_tree(self.cache_dir, fresh, like=self.host_cache)
        except OSError as exc:
            # The slug is packed: a cache that cannot be kept costs the next build time only.
            log.warning("cannot keep the build cache %s: %s", self.host_cache, exc)
            shutil.rmtree(fresh, ignore_errors=True)
            return
        self._fresh = fresh

    def finish(self) -> None:
        """After the disk is gone (the old cache is no overlay's layer any more): the swap."""
        if self.host_cache is None:
            return
        if self._drop:
            shutil.rmtree(self.host_cache, ignore_errors=True)
        elif self._fresh is not None:
            old = self.host_cache.with_name(self.host_cache.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            if self.host_cache.exists():
                self.host_cache.rename(old)
            self._fresh.rename(self.host_cache)
            shutil.rmtree(old, ignore_errors=True)


class BuildDisks:
    """Makes each build's capped disk under `root` (the data dir's `work/`)."""

    def __init__(self, root: Path, size_mb: int, *, mkfs: str = "mkfs.ext4") -> None:
        self.root = root
        self.size_mb = size_mb
        self.mkfs = mkfs
        self._warned = threading.Lock()
        self.enabled = size_mb > 0
        self._remove_leftovers()
        if not self.enabled:
            return
        missing = [t for t in (mkfs, "unshare", "mount") if shutil.which(t) is None]
        if os.geteuid() != 0 or missing:
            why = "not running as root" if os.geteuid() != 0 else f"{', '.join(missing)} missing"
            self._disable(why)

    def _disable(self, why: str) -> None:
        self.enabled = False
        if self._warned.acquire(blocking=False):
            log.warning(
                "!!! Build disks are NOT capped (%s): a build can fill the host's disk. Run "
                "Slipway as root with e2fsprogs and loop devices to cap them at --build-disk. !!!",
                why,
            )

    def _remove_leftovers(self) -> None:
        """What a crashed server's builds left: their directories and half-made images.

        No mount is ever left on the host (see the module's doc), so none is looked for."""
        if not self.root.is_dir():
            return
        for path in self.root.iterdir():
            if path.name.endswith(".img") or path.name.endswith(".img.d"):
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
            elif path.name.startswith("build-") and path.is_dir():
                shutil.rmtree(path, ignore_errors=True)

    @contextlib.contextmanager
    def workspace(
        self, work: Path, cache: Path, uid: int | None, emit: Emit
    ) -> Iterator[Workspace]:
        """One build's writable space: on a capped disk when it can be had."""
        holder = self._mount(work, cache) if self.enabled else None
        if holder is None:
            yield Workspace(work, cache)
            return
        view = Path(f"/proc/{holder.pid}/root") / work.relative_to("/")
        space = Workspace(
            view,
            view / "cache",
            tmp_dir=view / "tmp",
            mountns=Path(f"/proc/{holder.pid}/ns/mnt"),
            size_mb=self.size_mb,
            host_cache=cache,
            stage_dir=work / "source",
        )
        try:
            yield space
        finally:
            _release(holder)
        space.finish()

    def _mount(self, work: Path, cache: Path) -> subprocess.Popen[bytes] | None:
        image = self.root / f"{work.name}-{uuid.uuid4().hex[:8]}.img"
        holder: subprocess.Popen[bytes] | None = None
        try:
            cache.mkdir(parents=True, exist_ok=True)
            make_disk_image(image, self.size_mb, 0, self.mkfs, dirs=(("tmp", 0o1777, False),))
            holder = subprocess.Popen(
                [*_UNSHARE, _HOLD, "build-disk", str(image), str(work), str(cache)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            assert holder.stdout is not None
            said = holder.stdout.readline().decode(errors="replace").strip()
            if said != "mounted":
                rest = holder.stdout.read().decode(errors="replace").strip()
                raise SandboxError(" ".join(p for p in (said, rest) if p) or "mount failed")
            return holder
        except (OSError, SandboxError) as exc:
            if holder is not None:
                _release(holder)
            self._disable(f"cannot mount a build disk: {exc}")
            return None
        finally:
            # The loop device keeps the image open: nothing of it is left on the host's
            # directory from now on, even after a crash.
            image.unlink(missing_ok=True)


def copy_tree(src: Path, dest: Path) -> None:
    """A copy with owners, modes, links and times (`cp -a`): as root, faster than Python's.

    Raises OSError (ENOSPC when the destination filled up)."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            ["cp", "-a", "--", f"{src}/.", str(dest)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except subprocess.SubprocessError as exc:
        raise OSError(f"cannot copy {src}: {exc}") from exc
    if done.returncode != 0:
        if os.strerror(errno.ENOSPC) in done.stderr:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dest))
        raise OSError(f"cannot copy {src}: {done.stderr.strip()}")


def sync_tree(src: Path, dest: Path, like: Path) -> None:
    """`dest` made a copy of `src`, where files unchanged from `like` are hard links to them
    (rsync --link-dest); without rsync, a plain copy."""
    if shutil.which("rsync") is None or not like.is_dir():
        copy_tree(src, dest)
        return
    try:
        done = subprocess.run(
            ["rsync", "-a", "--delete", f"--link-dest={like.absolute()}", f"{src}/", f"{dest}/"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except subprocess.SubprocessError as exc:
        raise OSError(f"cannot copy {src}: {exc}") from exc
    if done.returncode != 0:
        raise OSError(f"cannot copy {src}: {done.stderr.strip()}")


def differs(src: Path, dest: Path) -> bool:
    """Whether `dest` is not already what a copy of `src` would make (rsync's dry run; the
    top directory's own attributes aside). Without rsync, or with no `dest`, it differs."""
    if shutil.which("rsync") is None or not dest.is_dir():
        return True
    try:
        done = subprocess.run(
            ["rsync", "-a", "--delete", "--dry-run", "--out-format=%i %n", f"{src}/", f"{dest}/"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except subprocess.SubprocessError as exc:
        raise OSError(f"cannot compare {src}: {exc}") from exc
    if done.returncode != 0:
        raise OSError(f"cannot compare {src}: {done.stderr.strip()}")
    return any(line and not line.endswith(" ./") for line in done.stdout.splitlines())


def _tree_bytes(root: Path) -> int:
    """What a tree takes on disk (its blocks), as `du` counts it."""
    total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
    return total


def _release(holder: subprocess.Popen[bytes]) -> None:
    """End the holder: its namespace, the mount and the loop device go with it."""
    for stream in (holder.stdin, holder.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
    try:
        holder.wait(timeout=10)
    except subprocess.TimeoutExpired:
        holder.kill()
        holder.wait()
