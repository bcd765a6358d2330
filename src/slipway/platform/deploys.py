"""Deploys: a build record, the buildpack run, the slug, and release vN — or nothing at all.

The git push hook and `POST /apps/{app}/builds` both end up here. Builds of one
app never interleave: a second waits for the first. Whatever fails, the
current release stays current.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from slipway.builder.disk import BuildDisks
from slipway.builder.errors import BuildError
from slipway.builder.runner import BuildRequest, BuildRunner
from slipway.options import option
from slipway.platform import access, accounts, apps, authorizations, builds, releases, views
from slipway.platform.capabilities import same_token
from slipway.platform.errors import PlatformError, Unauthorized, Unavailable
from slipway.platform.ports import SourceFetcher
from slipway.platform.route_rules import BUILD_OUTPUT, GIT_PUSH
from slipway.platform.tx import Platform
from slipway.slugs.store import SOFT_LIMIT, SlugError, SlugStore

log = logging.getLogger("slipway.deploys")

Emit = Callable[[str], None]
MAX_SOURCE_BYTES = 1024 * 1024 * 1024
PUSH_TOKEN_TTL = 3600


@dataclass
class DeployOptions:
    keep_releases: int = option(
        10,
        "--keep-releases",
        "Slugs of this many recent releases per app are kept; older ones are collected.",
        min=1,
    )
    build_memory_mb: int = option(4096, "--build-memory", min=64)
    build_pids: int = option(
        4096, "--build-pids", "Processes and threads a build may run at once.", min=16
    )
    build_cpus: float = option(
        0.0,
        "--build-cpus",
        "CPUs a build may use at most (0: all of the machine's but half a CPU).",
        min=0,
    )
    build_timeout: float = option(
        25 * 60, "--build-timeout", "Seconds a buildpack's compile may take.", min=1
    )
    build_disk_mb: int = option(
        2048,
        "--build-disk",
        "MB a build may write: its build directory, its cache and /tmp, on a disk of its "
        "own (0: no cap).",
        min=0,
    )
    # Slugs packed this recently are never collected: their release may not exist yet.
    slug_grace: float = option(3600.0, "--slug-grace", hidden=True, min=0)


@dataclass(frozen=True)
class DeployResult:
    ok: bool
    build: views.Build
    release_version: int | None = None


@dataclass
class _PushGrant:
    account_id: str
    app_id: str
    expires: float
    authorization_id: str | None = None


@dataclass
class PushTokens:
    """Short-lived capabilities handed to the git hook of one authorised push."""

    grants: dict[str, _PushGrant] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def issue(self, account_id: str, app_id: str, authorization_id: str | None = None) -> str:
        token = secrets.token_urlsafe(32)
        with self.lock:
            now = time.monotonic()
            self.grants = {k: g for k, g in self.grants.items() if g.expires > now}
            self.grants[token] = _PushGrant(
                account_id, app_id, now + PUSH_TOKEN_TTL, authorization_id
            )
        return token

    def redeem(self, token: str) -> _PushGrant | None:
        with self.lock:
            grant = self.grants.get(token)
            if grant is None or grant.expires < time.monotonic():
                return None
            return grant

    def revoke(self, token: str) -> None:
        with self.lock:
            self.grants.pop(token, None)


class Deployer:
    def __init__(
        self,
        platform: Platform,
        runner: BuildRunner,
        slugs: SlugStore,
        data_dir: Path,
        secret: bytes,
        public_api_url: str,
        options: DeployOptions | None = None,
    ) -> None:
        self.platform = platform
        self.runner = runner
        self.slugs = slugs
        self.data_dir = data_dir
        self.secret = secret
        self.public_api_url = public_api_url.rstrip("/")
        self.options = options or DeployOptions()
        self.push_tokens = PushTokens()
        self._app_locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        (data_dir / "builds").mkdir(parents=True, exist_ok=True)
        for shared in ("cache", "work"):
            # Traversable, not listable: each build gets one subdirectory it owns.
            (data_dir / shared).mkdir(parents=True, exist_ok=True)
            (data_dir / shared).chmod(0o711)
        (data_dir / "sources").mkdir(parents=True, exist_ok=True)
        # Also removes what builds of a crashed server left in work/.
        self.disks = BuildDisks(data_dir / "work", self.options.build_disk_mb)

    # -- build output ---------------------------------------------------------

    def output_path(self, build_id: str) -> Path:
        return self.data_dir / "builds" / f"{build_id}.log"

    def output_token(self, build_id: str, grant: str | None = None) -> str:
        return hmac.new(
            self.secret, f"build-output:{build_id}:{grant or ''}".encode(), hashlib.sha256
        ).hexdigest()

    def output_url(self, build_id: str, grant: str | None = None) -> str:
        """The build's output_stream_url. Made for someone's token (`grant`), it works
        while that token is good; the one in the app's log (no grant) is the platform's."""
        token = self.output_token(build_id, grant)
        url = f"{self.public_api_url}/build-output/{build_id}?token={token}"
        return url + (f"&grant={grant}" if grant else "")

    def check_output_token(self, build_id: str, token: str, grant: str | None = None) -> bool:
        return same_token(self.output_token(build_id, grant), token)

    def output_grant(self, build_id: str, grant: str | None) -> access.Grant | None:
        """The grant the output URL was made with, checked now; None when refused."""
        with self.platform.tx() as tx:
            app_id = builds.build_app_id(tx, build_id)
        if app_id is None:
            return None
        checked = access.Grant(self.platform, grant, app_id, BUILD_OUTPUT)
        return checked if checked.still_valid() else None

    # -- uploaded sources ----------------------------------------------------------

    def _token(self, purpose: str, ident: str) -> str:
        return hmac.new(self.secret, f"{purpose}:{ident}".encode(), hashlib.sha256).hexdigest()

    def source_path(self, source_id: str) -> Path:
        if not (source_id.isascii() and source_id.isalnum()):
            raise ValueError("bad source id")
        return self.data_dir / "sources" / f"{source_id}.tgz"

    def source_url(self, source_id: str) -> str:
        token = self._token("source", source_id)
        return f"{self.public_api_url}/source-blobs/{source_id}?token={token}"

    def check_source_token(self, source_id: str, token: str) -> bool:
        return (
            source_id.isascii()
            and source_id.isalnum()
            and same_token(self._token("source", source_id), token)
        )

    # -- deploys ----------------------------------------------------------------

    def _app_lock(self, app_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._app_locks.setdefault(app_id, threading.Lock())

    @contextlib.contextmanager
    def _serialised(self, app_id: str, emit: Emit) -> Iterator[None]:
        lock = self._app_lock(app_id)
        if not lock.acquire(blocking=False):
            emit("-----> Another deploy of this app is running; waiting for it to finish")
            lock.acquire()
        try:
            yield
        finally:
            lock.release()

    def start(
        self,
        actor: views.Actor,
        app_ident: str,
        *,
        source_url: str | None = None,
        source_version: str | None = None,
        source_checksum: str | None = None,
        buildpacks: list[str] | None = None,
    ) -> tuple[views.Build, views.BuildContext]:
        if source_url is not None:
            self._sources()  # refuse before a build record exists that could never run
        with self.platform.tx() as tx:
            build, ctx = builds.start_build(
                tx,
                actor,
                app_ident,
                source_url=source_url,
                source_version=source_version,
                source_checksum=source_checksum,
                buildpacks=buildpacks,
            )
            tx.log(ctx.app_id, f"Build started by user {actor.email}")
            return build, ctx

    def run(
        self, actor: views.Actor, ctx: views.BuildContext, source: Path, emit: Emit
    ) -> DeployResult:
        """Run a started build to the end. Never raises for a failed build: it reports it."""
        log_path = self.output_path(ctx.build_id)
        with log_path.open("a", encoding="utf-8") as log_file:

            def out(line: str) -> None:
                log_file.write(line + "\n")
                log_file.flush()
                emit(line)

            try:
                with self._serialised(ctx.app_id, out):
                    version = self._build_and_release(actor, ctx, source, out)
                ok = True
            except BuildError as exc:
                for line in exc.message.splitlines():
                    out(f" !     {line}")
                ok, version = False, None
            except PlatformError as exc:
                # The release was refused (a token revoked mid-build, access removed):
                # nothing was released, and the pusher is told why in one sentence.
                out(f" !     {exc.message} Nothing was released.")
                ok, version = False, None
            except Exception:
                log.exception("build %s failed unexpectedly", ctx.build_id)
                out(" !     The build failed because of an internal error; see the server log.")
                ok, version = False, None
            self._record_result(ctx, ok)
        with self.platform.tx() as tx:
            build = builds.get_build(tx, actor, ctx.app_id, ctx.build_id)
        return DeployResult(ok, build, version)

    def _record_result(self, ctx: views.BuildContext, ok: bool) -> None:
        """The build's final status and its line in the app's log stream."""
        with self.platform.tx() as tx:
            if ok:
                tx.log(ctx.app_id, "Build succeeded")
            else:
                builds.mark_build(tx, ctx.build_id, "failed")
                tx.log(
                    ctx.app_id,
                    "Build failed -- check your build output: " + self.output_url(ctx.build_id),
                )

    def _build_and_release(
        self, actor: views.Actor, ctx: views.BuildContext, source: Path, out: Emit
    ) -> int:
        out(f"-----> Building on the {ctx.stack[:1].upper()}{ctx.stack[1:]} stack")
        work = Path(
            tempfile.mkdtemp(prefix=f"build-{ctx.build_id[:8]}-", dir=self.data_dir / "work")
        )
        try:
            work.chmod(0o755)
            with self.platform.tx() as tx:
                # Config may have changed while the build waited for the lock.
                current = builds.start_context_config(tx, ctx.app_id)
            cache = self.data_dir / "cache" / ctx.app_id
            # The build's disk lasts until its slug is packed and its cache kept.
            with self.disks.workspace(work, cache, ctx.uid, out) as space:
                outcome = self.runner.run(
                    BuildRequest(
                        source=source,
                        work_dir=space.work_dir,
                        cache_dir=space.cache_dir,
                        buildpacks=ctx.buildpacks,
                        config=current,
                        stack=ctx.stack,
                        source_version=ctx.source_version,
                        uid=ctx.uid,
                        memory_mb=self.options.build_memory_mb,
                        timeout=self.options.build_timeout,
                        pids=self.options.build_pids,
                        cpus=self.options.build_cpus or None,
                        disk_mb=space.size_mb,
                        mountns=space.mountns,
                        tmp_dir=space.tmp_dir,
                        stage_dir=space.stage_dir,
                    ),
                    out,
                )
                out("")
                out("-----> Compressing...")
                try:
                    packed = self.slugs.pack(outcome.build_dir)
                except SlugError as exc:
                    raise BuildError(str(exc)) from exc
                space.keep_cache(out)
            out(f"       Done: {packed.size / (1024 * 1024):.1f}M")
            if packed.size > SOFT_LIMIT:
                out(" !     Warning: the slug is over 300 MB; consider a .slugignore file.")
            out("-----> Launching...")
            with self.platform.tx() as tx:
                # The token that started the build must still be good when it releases.
                if actor.authorization_id is not None and (
                    authorizations.still_valid(tx, actor.authorization_id) is None
                ):
                    raise Unauthorized("The token that started this build was revoked.")
                build = builds.get_build(tx, actor, ctx.app_id, ctx.build_id)
                slug = releases.create_slug(
                    tx,
                    actor,
                    ctx.app_id,
                    process_types=outcome.process_types,
                    commit=build.source_version,
                    buildpack_provided_description=outcome.description,
                    size=packed.size,
                    checksum=packed.checksum,
                    runtimes=outcome.runtimes,
                )
                added = releases.add_default_config(tx, ctx.app_id, outcome.config_vars)
                release = releases.release_slug(tx, actor, ctx.app_id, slug.id, None)
                builds.mark_build(
                    tx, ctx.build_id, "succeeded", slug_id=slug.id, release_id=release.id
                )
            # With a dyno manager, a push waits for the release's dynos, so a push that
            # cannot boot is rejected and says why.
            if release.status == "pending" and self.platform.ports.dyno_runtime is not None:
                self._wait_for_release(ctx, release, outcome.process_types, out)
            if added:
                out(f"       Default config vars set by the buildpack: {', '.join(added)}")
            if outcome.runtimes:
                shown = ", ".join(f"{k} {v}" for k, v in outcome.runtimes.items())
                out(f"       Runtimes in the slug: {shown}")
            out(f"       Released v{release.version}")
            out(f"       {ctx.web_url} deployed to Slipway")
            self.collect_slugs()
            return release.version
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _wait_for_release(
        self,
        ctx: views.BuildContext,
        release: views.Release,
        process_types: dict[str, str],
        out: Emit,
    ) -> None:
        """Release phase, then the new web dynos: the push ends when they are up, or fails."""
        runtime = self.platform.ports.dyno_runtime
        assert runtime is not None
        if "release" in process_types:
            out("-----> Running release command...")
        out(f"-----> Starting the dynos of v{release.version}...")
        result = runtime.wait_release(
            ctx.app_id, release.version, lambda line: out(f"       {line}")
        )
        if not result.ok:
            raise BuildError(
                f"Release v{release.version} failed: {result.message}.\n"
                "What was running before keeps running; see `logs` for details."
            )

    def forget_app(self, app_id: str, build_ids: list[str]) -> None:
        """After an app is destroyed: its build cache, repository and build logs go too."""
        for name in (app_id, f"{app_id}.new", f"{app_id}.old"):  # .new/.old: a swap cut short
            shutil.rmtree(self.data_dir / "cache" / name, ignore_errors=True)
        repositories = self.platform.ports.repositories
        if repositories is not None:  # unwired only where no git server keeps repositories
            repositories.remove(app_id)
        for build_id in build_ids:
            self.output_path(build_id).unlink(missing_ok=True)
        self.collect_slugs()

    def collect_slugs(self) -> None:
        with self.platform.tx() as tx:
            keep = builds.slugs_to_keep(tx, self.options.keep_releases)
        cutoff = time.time() - self.options.slug_grace
        recent = {
            p.name.removesuffix(".tgz")
            for p in self.slugs.root.glob("*.tgz")
            if p.stat().st_mtime > cutoff
        }
        removed = self.slugs.collect(keep | recent)
        if removed:
            log.info("collected %d unused slugs", len(removed))

    # -- sources -------------------------------------------------------------

    def _sources(self) -> SourceFetcher:
        sources = self.platform.ports.sources
        if sources is None:
            raise Unavailable(
                "This server cannot download sources, so it cannot build from a URL; "
                "deploy with git push instead."
            )
        return sources

    def fetch_source(self, url: str, checksum: str | None, dest: Path) -> None:
        """Download a source tarball (Heroku's source_blob.url), bounded and checksummed."""
        sha256 = self._sources().fetch(url, dest, MAX_SOURCE_BYTES)
        if checksum:
            algo, _, expected = checksum.partition(":")
            if algo.upper() != "SHA256" or expected.lower() != sha256:
                raise BuildError("The source archive does not match source_blob.checksum.")

    def run_from_url(
        self, actor: views.Actor, ctx: views.BuildContext, url: str, checksum: str | None
    ) -> None:
        """Background build started through the API: download, then the usual run."""
        with tempfile.TemporaryDirectory(dir=self.data_dir / "work") as tmp:
            source = Path(tmp) / "source.tgz"
            try:
                self.fetch_source(url, checksum, source)
            except BuildError as exc:
                with self.output_path(ctx.build_id).open("a") as fh:
                    fh.write(f" !     {exc.message}\n")
                self._record_result(ctx, False)
                return
            self.run(actor, ctx, source, lambda _line: None)

    def pusher(self, grant: _PushGrant) -> views.Actor:
        """Who pushes, as an actor with git push's need: refused if their token was
        revoked (or their access removed) since git let the push in."""
        with self.platform.tx() as tx:
            if grant.authorization_id is not None:
                actor = authorizations.still_valid(tx, grant.authorization_id)
                if actor is None:
                    raise Unauthorized("The token this push came with is no longer valid.")
            else:
                actor = views.Actor(accounts.get_account(tx, grant.account_id))
            actor = actor.needing(GIT_PUSH)
            apps.find_app_row(tx, actor, grant.app_id)
            return actor
