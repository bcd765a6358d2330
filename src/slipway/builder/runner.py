"""The buildpack runner: Heroku's buildpack API v2 (detect, compile, release), sandboxed.

It turns a source archive into a build directory ready to be packed as a slug,
and the process types it declares. It knows nothing of apps or releases.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from slipway.builder.buildpack_resolver import BUILTINS, BuildpackResolver, ResolvedBuildpack
from slipway.builder.disk import copy_tree, is_out_of_space, out_of_space_message
from slipway.builder.errors import BuildError, CompileFailed, NoBuildpackDetected, ProcfileError
from slipway.builder.procfile import parse_procfile
from slipway.builder.release_info import ReleaseInfo, parse_release
from slipway.builder.runtimes import RuntimeSupplier, SuppliedRuntime
from slipway.builder.source import apply_slugignore, extract_source
from slipway.runtime.sandbox import (
    Limits,
    Mount,
    Sandbox,
    SandboxError,
    SandboxSpec,
    SandboxTimeout,
)

Emit = Callable[[str], None]
log = logging.getLogger("slipway.builder")

DEFAULT_MEMORY_MB = 4096
DEFAULT_PIDS = 4096
DEFAULT_TIMEOUT = 25 * 60
DETECT_TIMEOUT = 60
# Free space under which a build's disk counts as full (its last writes got ENOSPC).
_FULL_BYTES = 4 * 1024 * 1024
# How a failing compile says it ran out: strerror(ENOSPC) (C, Python, Java), Node.js's code.
_OUT_OF_SPACE = ("No space left on device", "ENOSPC")
# Config vars never handed to a buildpack: they would change how the build itself runs.
_RESERVED_ENV = {"PATH", "LD_PRELOAD", "LD_LIBRARY_PATH", "PYTHONHOME", "PYTHONPATH"}

NO_BUILDPACK_MESSAGE = (
    "No default language could be detected for this app.\n"
    "\t\t\tHINT: This occurs when Slipway cannot detect the buildpack to use for this "
    "application automatically.\n"
    "\t\t\tSet one with `slipway buildpacks:set heroku/python` (or heroku/nodejs, heroku/ruby, "
    "heroku/java, a directory, or a git URL)."
)
NO_PROCESS_TYPES_MESSAGE = (
    "No Procfile and no default process type: add a Procfile with a line such as "
    "`web: <command that serves HTTP on $PORT>` to run the app."
)


@dataclass(frozen=True)
class BuildRequest:
    source: Path
    work_dir: Path
    cache_dir: Path
    buildpacks: Sequence[str]
    config: Mapping[str, str]
    stack: str
    source_version: str | None = None
    uid: int | None = None
    memory_mb: int = DEFAULT_MEMORY_MB
    timeout: float = DEFAULT_TIMEOUT
    # Processes and threads; CPUs at most (None: the machine's, less half a CPU for the rest).
    pids: int | None = DEFAULT_PIDS
    cpus: float | None = None
    # The build's capped disk (`builder/disk.py`): its size (0: uncapped), the namespace
    # its sandboxes enter to see it, and the /tmp on it.
    disk_mb: int = 0
    mountns: Path | None = None
    tmp_dir: Path | None = None
    # Where the source is unpacked first, on the host (`disk.Workspace.stage_dir`).
    stage_dir: Path | None = None


@dataclass(frozen=True)
class BuildOutcome:
    build_dir: Path
    process_types: dict[str, str]
    description: str
    # What bin/release said beyond the process types: the runtimes in the slug
    # ({"Node.js": "18.20.8"}) and default config vars the app gets unless it has them.
    runtimes: dict[str, str] = field(default_factory=dict)
    config_vars: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Layout:
    """Paths as the buildpack sees them: fixed mount points in the sandbox, host paths without."""

    build: str
    cache: str
    env: str
    buildpacks: str


class BuildRunner:
    def __init__(
        self,
        sandbox: Sandbox,
        resolver: BuildpackResolver,
        supplier: RuntimeSupplier | None = None,
    ) -> None:
        self.sandbox = sandbox
        self.resolver = resolver
        # Fetches the runtimes a built-in buildpack asks for outside the sandbox, into a
        # cache every app shares read-only; without it the built-ins fetch their own.
        self.supplier = supplier

    def run(self, req: BuildRequest, emit: Emit) -> BuildOutcome:
        try:
            return self._run(req, emit)
        except OSError as exc:
            # Unpacking the source, writing config vars, staging buildpacks: on the disk too.
            if req.disk_mb and is_out_of_space(exc):
                raise CompileFailed(out_of_space_message(req.disk_mb)) from exc
            raise

    def _run(self, req: BuildRequest, emit: Emit) -> BuildOutcome:
        build_dir = req.work_dir / "app"
        env_dir = req.work_dir / "env"
        bp_root = req.work_dir / "buildpacks"
        for d in (env_dir, bp_root, req.cache_dir):
            d.mkdir(parents=True, exist_ok=True)
        if req.stage_dir is not None:
            extract_source(req.source, req.stage_dir)
            apply_slugignore(req.stage_dir)
            copy_tree(req.stage_dir, build_dir)
            shutil.rmtree(req.stage_dir)
        else:
            extract_source(req.source, build_dir)
            apply_slugignore(build_dir)
        for key, value in req.config.items():
            (env_dir / key).write_text(value)

        if self.sandbox.caps.isolated:
            layout = _Layout("/app", "/cache", "/env", "/buildpacks")
        else:
            layout = _Layout(str(build_dir), str(req.cache_dir), str(env_dir), str(bp_root))
        mounts = [
            Mount(build_dir, "/app", writable=True),
            Mount(req.cache_dir, "/cache", writable=True),
            Mount(env_dir, "/env"),
            Mount(bp_root, "/buildpacks", writable=True),
        ]
        ctx = _Context(self.sandbox, req, layout, mounts, build_dir)

        ctx.own(bp_root)
        names = self._detect(req, ctx, bp_root, emit)

        info = ReleaseInfo()
        exports: list[str] = []
        for bp, path, name in names:
            emit(f"-----> {name} app detected")
            if self.supplier is not None and bp.url in BUILTINS:
                for supplied in self.supplier.supply(bp.url, build_dir, req.config, emit):
                    ctx.add_runtime(supplied)
            ctx.compile(path, exports, name, emit)
            inside = f"{layout.buildpacks}/{path.name}"
            exports.append(f"{inside}/export")
            info = info.merged(ctx.release(path, emit))

        process_types = _discover_process_types(build_dir, info.default_process_types, emit)
        return BuildOutcome(
            build_dir,
            process_types,
            ", ".join(n for _, _, n in names),
            runtimes=info.runtimes,
            config_vars=info.config_vars,
        )

    def _detect(
        self, req: BuildRequest, ctx: _Context, bp_root: Path, emit: Emit
    ) -> list[tuple[ResolvedBuildpack, Path, str]]:
        """The buildpacks to compile with, staged, and the names their bin/detect gave.

        The app's own list must all detect; without one, the first built-in that detects wins.
        """
        if req.buildpacks:
            chosen = [self.resolver.resolve(url) for url in req.buildpacks]
            staged = [ctx.stage(bp, i, bp_root) for i, bp in enumerate(chosen)]
            names = []
            for bp, path in staged:
                name = ctx.detect(path)
                if name is None:
                    raise CompileFailed(
                        f"App not compatible with buildpack: {bp.url}; its bin/detect found "
                        "nothing to build."
                    )
                names.append((bp, path, name))
            return names
        emit("-----> Determining which buildpack to use for this app")
        for i, builtin in enumerate(self.resolver.builtins()):
            _, path = ctx.stage(builtin, i, bp_root)
            name = ctx.detect(path)
            if name is not None:
                return [(builtin, path, name)]
        raise NoBuildpackDetected(NO_BUILDPACK_MESSAGE)


def _discover_process_types(
    build_dir: Path, defaults: dict[str, str], emit: Emit
) -> dict[str, str]:
    """The buildpacks' default process types, overridden by the Procfile's, as Heroku says."""
    process_types = dict(defaults)
    procfile = build_dir / "Procfile"
    declared: dict[str, str] = {}
    if procfile.is_file():
        declared = parse_procfile(procfile.read_text(errors="replace"))
        process_types.update(declared)
    emit("-----> Discovering process types")
    if declared:
        emit(f"       Procfile declares types -> {', '.join(declared)}")
    default_only = [t for t in defaults if t not in declared]
    if default_only:
        emit(f"       Default types for buildpack -> {', '.join(default_only)}")
    if not process_types:
        emit("       Procfile declares types -> (none)")
        emit(f"       {NO_PROCESS_TYPES_MESSAGE}")
    return process_types


class _Context:
    """One build's sandbox invocations."""

    def __init__(
        self,
        sandbox: Sandbox,
        req: BuildRequest,
        layout: _Layout,
        mounts: list[Mount],
        build_dir: Path,
    ) -> None:
        self.sandbox = sandbox
        self.req = req
        self.layout = layout
        self.mounts = mounts
        self.build_dir = build_dir
        self.extra_env: dict[str, str] = {}
        self.uid = req.uid if sandbox.caps.isolated and sandbox.caps.is_root else None
        if self.uid is not None:
            for path in (build_dir, req.cache_dir, req.work_dir / "env"):
                self.own(path)

    def own(self, root: Path) -> None:
        """Hand a tree to the app's uid, so the unprivileged build can write it.

        What it owns already is left alone: on a build disk the cache is an overlay, where
        a chown would copy each file up (onto the disk, against its cap)."""
        if self.uid is None:
            return
        uid = self.uid
        stat = os.stat(root)
        if stat.st_uid != uid or stat.st_gid != uid:
            os.chown(root, uid, uid)
        for dirpath, dirnames, filenames in os.walk(root):
            for n in dirnames + filenames:
                path = os.path.join(dirpath, n)
                stat = os.lstat(path)
                if stat.st_uid != uid or stat.st_gid != uid:
                    os.lchown(path, uid, uid)

    def stage(
        self, bp: ResolvedBuildpack, index: int, root: Path
    ) -> tuple[ResolvedBuildpack, Path]:
        """A writable copy per build, so a buildpack can write its `export` file.

        What the buildpack needs beside it (the built-ins' `common/`) is copied next to it
        once, as it sits in the source tree.
        """
        dest = root / f"{index:02d}"
        ignore = shutil.ignore_patterns(".git", "export", "__pycache__")
        shutil.copytree(bp.path, dest, symlinks=True, ignore=ignore)
        self.own(dest)
        for extra in bp.beside:
            if not (root / extra.name).exists():
                shutil.copytree(extra, root / extra.name, symlinks=True, ignore=ignore)
                self.own(root / extra.name)
        return bp, dest

    def add_runtime(self, supplied: SuppliedRuntime) -> None:
        """A runtime fetched by the platform, visible read-only to the rest of the build."""
        if self.sandbox.caps.isolated and supplied.mount is not None:
            if not any(m.inside == supplied.inside for m in self.mounts):
                self.mounts.append(Mount(supplied.mount, supplied.inside))
            self.extra_env[supplied.env_name] = supplied.path_inside()
        else:
            self.extra_env[supplied.env_name] = str(supplied.path)

    def _env(self) -> dict[str, str]:
        return self.extra_env | {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": self.layout.build,
            "LANG": "C.UTF-8",
            "STACK": self.req.stack,
            "SOURCE_VERSION": self.req.source_version or "",
            "BUILD_DIR": self.layout.build,
            "CACHE_DIR": self.layout.cache,
            "ENV_DIR": self.layout.env,
        }

    def _run(self, script: str, emit: Callable[[str], None], timeout: float) -> int:
        spec = SandboxSpec(
            argv=["/bin/bash", "-c", script],
            env=self._env(),
            mounts=self.mounts,
            workdir=self.layout.build,
            hostname="build",
            uid=self.uid,
            limits=Limits(
                memory_mb=self.req.memory_mb,
                pids=self.req.pids,
                cpu_weight=100,
                cpu_quota=self.req.cpus or max(1.0, (os.cpu_count() or 1) - 0.5),
            ),
            timeout=timeout,
            tmp=self.req.tmp_dir,
            mountns=self.req.mountns,
        )
        try:
            return self.sandbox.run(spec, emit)
        except SandboxTimeout as exc:
            limit = f"{timeout:.0f} seconds" if timeout < 120 else f"{timeout / 60:.0f} minutes"
            raise CompileFailed(
                f"The build took longer than {limit} and was stopped; make it faster or raise "
                "the limit (slipway server --build-timeout)."
            ) from exc
        except SandboxError as exc:
            raise BuildError(f"The build could not start: {exc}.") from exc

    def _bp(self, path: Path) -> str:
        return f"{self.layout.buildpacks}/{path.name}"

    def detect(self, path: Path) -> str | None:
        lines: list[str] = []
        code = self._run(
            f"exec {shlex.quote(self._bp(path) + '/bin/detect')} {shlex.quote(self.layout.build)}",
            lines.append,
            DETECT_TIMEOUT,
        )
        if code != 0:
            log.debug("%s/bin/detect exited %d: %s", path, code, lines)
            return None
        return " ".join(line.strip() for line in lines if line.strip()) or path.name

    def compile(self, path: Path, exports: list[str], name: str, emit: Emit) -> None:
        sources = "".join(
            f"if [ -f {shlex.quote(e)} ]; then . {shlex.quote(e)}; fi\n" for e in exports
        )
        args = " ".join(
            shlex.quote(a) for a in (self.layout.build, self.layout.cache, self.layout.env)
        )
        script = f"{sources}exec {shlex.quote(self._bp(path) + '/bin/compile')} {args}"
        said_full = False

        def watch(line: str) -> None:
            nonlocal said_full
            said_full = said_full or any(m in line for m in _OUT_OF_SPACE)
            emit(line)

        if self._run(script, watch, self.req.timeout) != 0:
            # Full now, or said so before it cleaned up after itself.
            if said_full and self.req.disk_mb:
                raise CompileFailed(out_of_space_message(self.req.disk_mb))
            self.check_disk()
            raise CompileFailed(f"Push rejected, failed to compile {name} app.")
        # A compile that ignored its write errors still filled the disk: its slug is cut short.
        self.check_disk()

    def check_disk(self) -> None:
        if self.full():
            raise CompileFailed(out_of_space_message(self.req.disk_mb))

    def full(self) -> bool:
        """Whether the build's disk is (as good as) full."""
        if not self.req.disk_mb:
            return False
        try:
            stat = os.statvfs(self.req.work_dir)
        except OSError:
            return False
        return stat.f_bavail * stat.f_frsize < _FULL_BYTES or stat.f_favail == 0

    def release(self, path: Path, emit: Emit) -> ReleaseInfo:
        if not (path / "bin" / "release").is_file():
            return ReleaseInfo()
        lines: list[str] = []
        script = (
            f"exec {shlex.quote(self._bp(path) + '/bin/release')} {shlex.quote(self.layout.build)}"
        )
        if self._run(script, lines.append, DETECT_TIMEOUT) != 0:
            raise CompileFailed("The buildpack's bin/release failed; see the lines above.")
        info = parse_release("\n".join(lines))
        if info is None:
            emit("       (bin/release printed something that is not YAML; ignored)")
            return ReleaseInfo()
        return info


__all__ = ["BuildOutcome", "BuildRequest", "BuildRunner", "ProcfileError"]
