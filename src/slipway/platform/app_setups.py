"""App setups: an app made from a source tarball's app.json (Heroku's `POST /app-setups`).

`start` does, before answering, what can be refused with one sentence and nothing made: it
downloads the source, reads and checks app.json (valid JSON, the stack, known add-on
plans, a value for every required config var), then creates the app with its buildpacks
and config vars and records the setup `pending`. The rest runs in the background, one step
after another, each recorded before it starts:

    addons      each add-on provisioned through the platform's add-on use case
    build       the first build and release, as a push would make them
    formation   the quantities and sizes app.json asks for
    postdeploy  scripts.postdeploy, once, in a one-off dyno after the first release

A failure at any step ends the setup `failed` with the step and one sentence, and leaves
the app as it is for inspection, as Heroku does. A setup the server was running when it
stopped is marked failed at the next start, with the step it was at.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import shutil
import tarfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from slipway.builder.errors import BuildError
from slipway.platform import app_json, apps, builds, dynos, formations, releases, views
from slipway.platform.addons import provisioning
from slipway.platform.addons.catalogue import resolve_plan
from slipway.platform.apps import find_app_row
from slipway.platform.deploys import Deployer
from slipway.platform.errors import InvalidParams, NotFound, PlatformError
from slipway.platform.formation_rules import FormationUpdate
from slipway.platform.tx import Platform
from slipway.store.models import AppSetupRow

log = logging.getLogger("slipway.app_setups")
POSTDEPLOY_TIMEOUT = 30 * 60
EXIT_RE = re.compile(r"^Process exited with status (\d+)$")
LINE_RE = re.compile(r"^\S+ (\w+)\[([^\]]+)\]: (.*)$")


@dataclass(frozen=True)
class SetupRequest:
    source_url: str
    source_checksum: str | None = None
    source_version: str | None = None
    app_name: str | None = None
    stack: str | None = None
    env: Mapping[str, str] | None = None
    buildpacks: Sequence[str] | None = None


@dataclass(frozen=True)
class AppSetup:
    id: str
    app_id: str
    app_name: str
    status: str
    step: str | None
    failure_message: str | None
    manifest_errors: tuple[str, ...]
    build_id: str | None
    build_status: str | None
    postdeploy: dict[str, object] | None
    created_at: dt.datetime
    updated_at: dt.datetime


def read_manifest(archive: Path) -> bytes | None:
    """app.json at the top of the tarball (or of its one top directory); None without one."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar.getmembers():
                parts = Path(member.name.lstrip("./")).parts
                if parts and parts[-1] == "app.json" and len(parts) <= 2 and member.isfile():
                    if member.size > app_json.MAX_MANIFEST_BYTES:
                        raise InvalidParams("app.json is over 512 KB; make it smaller.")
                    handle = tar.extractfile(member)
                    return handle.read() if handle else None
    except tarfile.TarError as exc:
        raise InvalidParams(f"The source archive cannot be read ({exc}).") from exc
    return None


class AppSetups:
    def __init__(self, platform: Platform, deployer: Deployer) -> None:
        self.platform = platform
        self.deployer = deployer
        self.root = deployer.data_dir / "setups"
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        self._recover()

    # -- reading ----------------------------------------------------------------

    def _view(self, row: AppSetupRow, app_name: str, build_status: str | None) -> AppSetup:
        return AppSetup(
            id=row.id,
            app_id=row.app_id,
            app_name=app_name,
            status=row.status,
            step=row.step,
            failure_message=row.failure_message,
            manifest_errors=tuple(row.manifest_errors or ()),
            build_id=row.build_id,
            build_status=build_status,
            postdeploy=row.postdeploy,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    def get(self, actor: views.Actor, setup_id: str) -> AppSetup:
        with self.platform.tx() as tx:
            row = tx.session.get(AppSetupRow, setup_id)
            if row is None:
                raise NotFound(f"Couldn't find that app setup ({setup_id}).", resource="app-setup")
            app = find_app_row(tx, actor, row.app_id)
            status = builds.build_status(tx, row.build_id) if row.build_id else None
            return self._view(row, app.name, status)

    # -- starting ---------------------------------------------------------------

    def start(self, actor: views.Actor, request: SetupRequest) -> AppSetup:
        setup_id = str(uuid.uuid4())
        source = self.root / f"{setup_id}.tgz"
        try:
            try:
                self.deployer.fetch_source(request.source_url, request.source_checksum, source)
            except BuildError as exc:
                raise InvalidParams(exc.message) from exc
            manifest = self._check(request, source)
            app = self._create(actor, request, manifest, setup_id)
        except BaseException:
            source.unlink(missing_ok=True)
            raise
        threading.Thread(
            target=self._run,
            args=(actor, setup_id, app.id, manifest, request, source),
            name=f"setup-{setup_id[:8]}",
            daemon=True,
        ).start()
        return self.get(actor, setup_id)

    def _check(self, request: SetupRequest, source: Path) -> app_json.Manifest:
        text = read_manifest(source)
        manifest = app_json.parse_manifest(text) if text is not None else app_json.Manifest()
        stack = self.platform.settings.stack
        for wanted in (manifest.stack, request.stack):
            if wanted is not None and wanted != stack:
                raise InvalidParams(
                    f"app.json asks for the stack {wanted}, which this platform does not have; "
                    f'use "{stack}".'
                )
        for addon in manifest.addons:
            resolve_plan(self.platform.ports.addons, addon.plan)
        overrides = dict(request.env or {})
        missing = manifest.missing(overrides)
        if missing:
            var = missing[0]
            about = f" ({var.description})" if var.description else ""
            raise InvalidParams(
                f"app.json requires the config var {var.name}{about}; give it a value "
                "(overrides.env, or answer apps:setup's prompt)."
            )
        return manifest

    def _create(
        self,
        actor: views.Actor,
        request: SetupRequest,
        manifest: app_json.Manifest,
        setup_id: str,
    ) -> views.App:
        with self.platform.tx() as tx:
            app = apps.create_app(tx, actor, request.app_name)
            chosen = list(request.buildpacks or manifest.buildpacks)
            if chosen:
                builds.set_buildpacks(tx, actor, app.id, chosen)
            config = manifest.config(dict(request.env or {}))
            if config:
                releases.update_config(tx, actor, app.id, dict(config))
            now = tx.clock.now()
            tx.session.add(
                AppSetupRow(
                    id=setup_id,
                    app_id=app.id,
                    status="pending",
                    step="addons",
                    failure_message=None,
                    manifest_errors=[],
                    build_id=None,
                    postdeploy=None,
                    user_id=actor.id,
                    created_at=now,
                    updated_at=now,
                )
            )
            tx.log(app.id, f"App setup started by user {actor.email}")
            return app

    # -- the steps --------------------------------------------------------------

    def _record(self, setup_id: str, **fields: object) -> None:
        with self.platform.tx() as tx:
            row = tx.session.get(AppSetupRow, setup_id)
            if row is None:
                return  # the app was destroyed meanwhile
            for key, value in fields.items():
                setattr(row, key, value)
            row.updated_at = tx.clock.now()

    def _run(
        self,
        actor: views.Actor,
        setup_id: str,
        app_id: str,
        manifest: app_json.Manifest,
        request: SetupRequest,
        source: Path,
    ) -> None:
        step = "addons"
        try:
            for addon in manifest.addons:
                provisioning.create_addon(
                    self.platform,
                    actor,
                    app_id,
                    plan=addon.plan,
                    attachment_name=addon.attachment,
                    options=addon.options or None,
                )
            step = "build"
            self._record(setup_id, step=step)
            self._build(actor, setup_id, app_id, request, source)
            step = "formation"
            self._record(setup_id, step=step)
            self._scale(actor, app_id, manifest.formation)
            if manifest.postdeploy is not None:
                step = "postdeploy"
                self._record(setup_id, step=step)
                self._postdeploy(actor, setup_id, app_id, manifest.postdeploy)
            self._record(setup_id, status="succeeded", step=None)
            self._log(app_id, "App setup succeeded")
        except PlatformError as exc:
            self._fail(setup_id, app_id, step, exc.message)
        except BuildError as exc:
            self._fail(setup_id, app_id, step, exc.message)
        except Exception:
            log.exception("app setup %s failed at %s", setup_id, step)
            self._fail(setup_id, app_id, step, "an internal error stopped it; see the server log")
        finally:
            source.unlink(missing_ok=True)

    def _fail(self, setup_id: str, app_id: str, step: str, message: str) -> None:
        text = f"The app setup failed at the {step} step: {message.rstrip('.')}."
        self._record(setup_id, status="failed", failure_message=text)
        self._log(app_id, text + " The app is left as it is, for inspection.")

    def _log(self, app_id: str, text: str) -> None:
        with self.platform.tx() as tx:
            tx.log(app_id, text)

    def _build(
        self,
        actor: views.Actor,
        setup_id: str,
        app_id: str,
        request: SetupRequest,
        source: Path,
    ) -> None:
        build, ctx = self.deployer.start(
            actor,
            app_id,
            source_url=request.source_url,
            source_version=request.source_version,
            source_checksum=request.source_checksum,
        )
        self._record(setup_id, build_id=build.id)
        work = self.root / f"{setup_id}-build.tgz"
        shutil.copyfile(source, work)
        try:
            result = self.deployer.run(actor, ctx, work, lambda _line: None)
        finally:
            work.unlink(missing_ok=True)
        if not result.ok:
            raise InvalidParams(
                f"the build failed; see its output with `slipway builds:output {build.id}`"
            )

    def _scale(
        self, actor: views.Actor, app_id: str, formation: Sequence[app_json.FormationSpec]
    ) -> None:
        if not formation:
            return
        with self.platform.tx() as tx:
            known = {f.type for f in formations.list_formation(tx, actor, app_id)}
            unknown = [f.type for f in formation if f.type not in known]
            if unknown:
                raise InvalidParams(
                    f"app.json's formation names {unknown[0]}, which the app's Procfile does "
                    "not declare"
                )
            formations.update_formation(
                tx,
                actor,
                app_id,
                [FormationUpdate(f.type, f.quantity, f.size) for f in formation],
            )

    def _postdeploy(
        self, actor: views.Actor, setup_id: str, app_id: str, script: app_json.Postdeploy
    ) -> None:
        logs = self.platform.ports.logs
        recent = logs.recent(app_id, None, None, 1) if logs else []
        seq = recent[-1].seq if recent else 0
        with self.platform.tx() as tx:
            dyno = dynos.create_dyno(
                tx,
                actor,
                app_id,
                command=script.command,
                attach=False,
                size=script.size,
                env={},
                force_no_tty=True,
                ptype="postdeploy",
            )
        output, code = self._wait_for_exit(app_id, dyno.info.name, seq)
        self._record(setup_id, postdeploy={"output": output, "exit_code": code})
        if code != 0:
            raise InvalidParams(f"scripts.postdeploy exited with status {code}")

    def _wait_for_exit(
        self, app_id: str, dyno: str, seq: int, clock: Callable[[], float] = time.monotonic
    ) -> tuple[str, int]:
        """The one-off's output and exit status, read from the app's log stream."""
        logs = self.platform.ports.logs
        if logs is None:
            raise InvalidParams("this server keeps no logs, so a postdeploy script cannot be run")
        lines: list[str] = []
        deadline = clock() + POSTDEPLOY_TIMEOUT
        while clock() < deadline:
            for entry in logs.since(app_id, None, dyno, seq):
                seq = entry.seq
                match = LINE_RE.match(entry.format())
                if match is None:
                    continue
                source, _, message = match.groups()
                if source == "app":
                    lines.append(message)
                elif (exited := EXIT_RE.match(message)) is not None:
                    return "\n".join(lines), int(exited.group(1))
            time.sleep(0.2)
        raise InvalidParams("scripts.postdeploy did not finish within 30 minutes")

    # -- after a restart ---------------------------------------------------------

    def _recover(self) -> None:
        with self.platform.tx() as tx:
            rows = tx.session.scalars(
                select(AppSetupRow).where(AppSetupRow.status == "pending")
            ).all()
            for row in rows:
                row.status = "failed"
                row.failure_message = (
                    f"The app setup failed at the {row.step or 'first'} step: the server stopped "
                    "while it ran; the app is left as it is, for inspection."
                )
                row.updated_at = tx.clock.now()
        for stale in self.root.glob("*.tgz"):
            stale.unlink(missing_ok=True)
