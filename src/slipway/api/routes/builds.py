"""Builds, their output, buildpack installations, source uploads and git push deploys."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import (
    FileResponse,
    JSONResponse,
    Response,
    StreamingResponse,
)

from slipway.api import serialize
from slipway.api.bodies import BuildCreate, BuildpackInstallations
from slipway.api.deps import current_account, get_platform
from slipway.api.errors import error_response
from slipway.api.paging import paged_response
from slipway.platform import builds, views
from slipway.platform.deploys import MAX_SOURCE_BYTES, Deployer
from slipway.platform.errors import InvalidParams, Unauthorized

router = APIRouter()
Actor = Annotated[views.Actor, Depends(current_account)]
RESULT_MARKER = "\x00slipway-result:"


def deployer(request: Request) -> Deployer:
    d: Deployer = request.app.state.deployer
    return d


def _render(request: Request, actor: views.Actor) -> Any:
    d = deployer(request)
    return lambda b: serialize.build(b, d.output_url(b.id, actor.authorization_id))


def _build_key(b: views.Build, field: str) -> Any:
    return b.created_at if field == "created_at" else b.id


@router.get("/apps/{app}/builds")
def list_builds(app: str, request: Request, actor: Actor) -> JSONResponse:
    with get_platform(request).tx() as tx:
        items = builds.list_builds(tx, actor, app)
    return paged_response(request, items, ("created_at", "id"), _build_key, _render(request, actor))


@router.get("/apps/{app}/builds/{build_id}")
def get_build(app: str, build_id: str, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        build = builds.get_build(tx, actor, app, build_id)
    result: dict[str, Any] = _render(request, actor)(build)
    return result


@router.post("/apps/{app}/builds", status_code=201)
def create_build(app: str, body: BuildCreate, request: Request, actor: Actor) -> dict[str, Any]:
    """A build from a source tarball URL, run in the background as Heroku does."""
    d = deployer(request)
    chosen = None
    if body.buildpacks:
        chosen = [bp.url or bp.name or "" for bp in body.buildpacks]
    build, ctx = d.start(
        actor,
        app,
        source_url=body.source_blob.url,
        source_version=body.source_blob.version,
        source_checksum=body.source_blob.checksum,
        buildpacks=chosen,
    )
    threading.Thread(
        target=d.run_from_url,
        args=(actor, ctx, body.source_blob.url, body.source_blob.checksum),
        name=f"build-{build.id[:8]}",
        daemon=True,
    ).start()
    result: dict[str, Any] = _render(request, actor)(build)
    return result


@router.get("/build-output/{build_id}")
async def build_output(
    build_id: str, token: str, request: Request, grant: str | None = None
) -> Response:
    """The build's output as plain text, followed live until the build ends (no auth: the
    URL carries its own token, as Heroku's output_stream_url does, and the grant it was
    made for, checked while it streams)."""
    d = deployer(request)
    if not d.check_output_token(build_id, token, grant):
        return error_response(404, "not_found", "This output URL is not valid.")
    allowed = await asyncio.to_thread(d.output_grant, build_id, grant)
    if allowed is None:
        return error_response(
            404, "not_found", "This output URL's token was revoked or has expired."
        )
    path = d.output_path(build_id)
    platform = get_platform(request)

    def finished() -> bool:
        with platform.tx() as tx:
            return builds.build_status(tx, build_id) != "pending"

    async def stream() -> AsyncIterator[bytes]:
        offset = 0
        while True:
            if not await asyncio.to_thread(allowed.still_valid):
                return
            done = await asyncio.to_thread(finished)
            if path.exists():
                with path.open("rb") as fh:
                    fh.seek(offset)
                    chunk = fh.read()
                offset += len(chunk)
                if chunk:
                    yield chunk
            if done:
                return
            await asyncio.sleep(0.2)

    return StreamingResponse(stream(), media_type="text/plain; charset=utf-8")


@router.get("/apps/{app}/buildpack-installations")
def list_buildpacks(app: str, request: Request, actor: Actor) -> list[dict[str, Any]]:
    with get_platform(request).tx() as tx:
        return serialize.buildpack_installations(builds.get_buildpacks(tx, actor, app))


@router.put("/apps/{app}/buildpack-installations")
def set_buildpacks(
    app: str, body: BuildpackInstallations, request: Request, actor: Actor
) -> list[dict[str, Any]]:
    with get_platform(request).tx() as tx:
        urls = builds.set_buildpacks(tx, actor, app, [u.buildpack for u in body.updates])
    return serialize.buildpack_installations(urls)


@router.get("/buildpacks/{namespace}/{name}")
def registry_lookup(namespace: str, name: str) -> dict[str, Any]:
    """The buildpack registry the official CLI asks for `buildpacks:set heroku/python`."""
    ref = builds.registry_buildpack(namespace, name)
    return {"id": ref, "name": ref, "namespace": namespace, "blob_url": ref}


@router.post("/sources", status_code=201)
def create_source(request: Request, actor: Actor) -> dict[str, Any]:
    """Somewhere to upload a source tarball to (PUT), then build from (GET), as Heroku's."""
    d = deployer(request)
    source_id = secrets.token_hex(16)
    url = d.source_url(source_id)
    return {"source_blob": {"get_url": url, "put_url": url}}


@router.put("/source-blobs/{source_id}")
async def upload_source(source_id: str, token: str, request: Request) -> Response:
    d = deployer(request)
    if not d.check_source_token(source_id, token):
        return error_response(404, "not_found", "This upload URL is not valid.")
    path = d.source_path(source_id)
    tmp = path.with_suffix(".part")
    size = 0
    with tmp.open("wb") as fh:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_SOURCE_BYTES:
                tmp.unlink(missing_ok=True)
                return error_response(
                    413, "request_entity_too_large", "The source archive is over 1 GB."
                )
            fh.write(chunk)
    tmp.replace(path)
    return Response(status_code=200)


@router.get("/source-blobs/{source_id}")
def download_source(source_id: str, token: str, request: Request) -> Response:
    d = deployer(request)
    if not d.check_source_token(source_id, token) or not d.source_path(source_id).exists():
        return error_response(404, "not_found", "No such source.")
    path = d.source_path(source_id)
    return FileResponse(path, media_type="application/octet-stream")


@router.post("/internal/pushes")
async def push_deploy(request: Request) -> Response:
    """Called by the pre-receive hook of an authorised push; streams the build back."""
    d = deployer(request)
    auth = request.headers.get("authorization", "")
    grant = d.push_tokens.redeem(auth.removeprefix("Bearer ").strip())
    if grant is None:
        raise Unauthorized("This push is not authorised; push again.")
    version = request.query_params.get("version")
    if version is None or len(version) > 64:
        raise InvalidParams("The push did not say which commit to build.")
    work = Path(tempfile.mkdtemp(dir=d.data_dir / "work"))
    source = work / "source.tar"
    size = 0
    with source.open("wb") as fh:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_SOURCE_BYTES:
                raise InvalidParams("The pushed source is over 1 GB; make the repository smaller.")
            fh.write(chunk)
    actor = await asyncio.to_thread(d.pusher, grant)
    build, ctx = await asyncio.to_thread(
        lambda: d.start(
            actor, grant.app_id, source_version=version, source_url=None, source_checksum=None
        )
    )
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def emit(line: str) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, line)

    def work_thread() -> None:
        try:
            result = d.run(actor, ctx, source, emit)
            emit(f"{RESULT_MARKER} {'ok' if result.ok else 'failed'}")
        finally:
            shutil.rmtree(work, ignore_errors=True)
            loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=work_thread, name=f"push-{build.id[:8]}", daemon=True).start()

    async def stream() -> AsyncIterator[bytes]:
        while True:
            line = await queue.get()
            if line is None:
                return
            yield (line + "\n").encode()

    return StreamingResponse(stream(), media_type="text/plain; charset=utf-8")


@router.get("/tls/ca.crt")
def ca_certificate(request: Request) -> Response:
    """The platform's CA, public: clients add it to their trust for git and the CLI."""
    path: Path | None = request.app.state.ca_cert
    if path is None or not path.exists():
        return error_response(404, "not_found", "This server uses a certificate of its own.")
    return Response(path.read_bytes(), media_type="application/x-pem-file")


@router.get("/tls/info")
def platform_info(request: Request) -> dict[str, Any]:
    """Public facts a client needs to set up git: where to push and which CA to trust."""
    platform = get_platform(request)
    has_ca = request.app.state.ca_cert is not None
    return {"git_host": platform.settings.git_host, "has_ca_cert": has_ca}
