"""Config vars, releases (list, info, config snapshot, rollback, release a slug) and slugs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from slipway.api import serialize
from slipway.api.bodies import ReleaseCreate, SlugCreate
from slipway.api.deps import current_account, get_platform
from slipway.api.paging import paged_response
from slipway.platform import releases, views
from slipway.platform.errors import InvalidParams, NotFound
from slipway.platform.release_output import ReleaseOutputs

router = APIRouter()
Actor = Annotated[views.Actor, Depends(current_account)]


@router.get("/apps/{app}/config-vars")
def get_config(app: str, request: Request, actor: Actor) -> dict[str, str]:
    with get_platform(request).tx() as tx:
        return releases.get_config(tx, actor, app)


@router.patch("/apps/{app}/config-vars")
def update_config(
    app: str,
    request: Request,
    actor: Actor,
    changes: Annotated[dict[str, str | None], Body()],
) -> dict[str, str]:
    with get_platform(request).tx() as tx:
        return releases.update_config(tx, actor, app, changes)


# How long a release-output stream waits for the release phase to start (the CLI asks
# right after a rollback or retry, before the dyno manager has begun it).
OUTPUT_START_WAIT = 120.0
OUTPUT_POLL = 0.2


def _outputs(request: Request) -> ReleaseOutputs | None:
    outputs: ReleaseOutputs | None = getattr(request.app.state, "release_outputs", None)
    return outputs


def _render(request: Request) -> Callable[[views.Release], dict[str, Any]]:
    outputs = _outputs(request)
    return lambda r: serialize.release(r, outputs.url(r.id) if outputs else None)


def _release_key(r: views.Release, field: str) -> Any:
    return r.version if field == "version" else r.id


@router.get("/apps/{app}/releases")
def list_releases(app: str, request: Request, actor: Actor) -> JSONResponse:
    with get_platform(request).tx() as tx:
        items = releases.list_releases(tx, actor, app)
    return paged_response(request, items, ("version", "id"), _release_key, _render(request))


@router.get("/apps/{app}/releases/{release}")
def get_release(app: str, release: str, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        return _render(request)(releases.get_release(tx, actor, app, release))


@router.get("/release-output/{release_id}")
async def release_output(release_id: str, token: str, request: Request) -> Response:
    """The release command's output as plain text, followed live until it ends (no auth:
    the URL carries its own token, as Heroku's output_stream_url does)."""
    outputs = _outputs(request)
    if outputs is None or not outputs.check_token(release_id, token):
        raise NotFound(
            "This release output URL is not valid; get a new one from the release "
            "(heroku releases:info).",
            resource="release",
        )
    platform = get_platform(request)

    def target() -> tuple[str, int, bool, str]:
        with platform.tx() as tx:
            found = releases.release_output_of(tx, release_id)
        if found is None:
            raise NotFound("That release no longer exists.", resource="release")
        return found

    app_id, version, runs_phase, _status = await asyncio.to_thread(target)
    path = outputs.path(app_id, version)

    async def stream() -> AsyncIterator[bytes]:
        deadline = time.monotonic() + OUTPUT_START_WAIT
        # Until the phase starts: a release that settles without one (superseded) has none.
        while runs_phase and not outputs.started(app_id, version):
            _, _, _, status = await asyncio.to_thread(target)
            if status != "pending" or time.monotonic() > deadline:
                return
            await asyncio.sleep(OUTPUT_POLL)
        offset = 0
        while True:
            ended = outputs.ended(app_id, version)
            if path.exists():
                with path.open("rb") as fh:
                    fh.seek(offset)
                    chunk = fh.read()
                offset += len(chunk)
                if chunk:
                    yield chunk
            if ended or not runs_phase:
                return
            await asyncio.sleep(OUTPUT_POLL)

    return StreamingResponse(stream(), media_type="text/plain; charset=utf-8")


@router.get("/apps/{app}/releases/{release}/config-vars")
def get_release_config(app: str, release: str, request: Request, actor: Actor) -> dict[str, str]:
    with get_platform(request).tx() as tx:
        return releases.release_config(tx, actor, app, release)


@router.post("/apps/{app}/releases", status_code=201)
def create_release(app: str, body: ReleaseCreate, request: Request, actor: Actor) -> dict[str, Any]:
    """`{"release": id}` rolls back to that release; `{"slug": id}` releases a slug."""
    if (body.release is None) == (body.slug is None):
        raise InvalidParams("Send either release (to roll back) or slug (to deploy), not both.")
    with get_platform(request).tx() as tx:
        if body.release is not None:
            view = releases.rollback(tx, actor, app, body.release)
        else:
            assert body.slug is not None
            view = releases.release_slug(tx, actor, app, body.slug, body.description)
    return _render(request)(view)


@router.post("/apps/{app}/slugs", status_code=201)
def create_slug(app: str, body: SlugCreate, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        view = releases.create_slug(
            tx,
            actor,
            app,
            process_types=body.process_types,
            commit=body.commit,
            commit_description=body.commit_description,
            buildpack_provided_description=body.buildpack_provided_description,
            stack=body.stack,
            checksum=body.checksum,
        )
    return serialize.slug(view)


@router.get("/apps/{app}/slugs/{slug}")
def get_slug(app: str, slug: str, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        return serialize.slug(releases.get_slug(tx, actor, app, slug))
