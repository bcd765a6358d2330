"""Config vars, releases (list, info, config snapshot, rollback, release a slug) and slugs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse

from slipway.api import serialize
from slipway.api.bodies import ReleaseCreate, SlugCreate
from slipway.api.deps import current_account, get_platform
from slipway.api.paging import paged_response
from slipway.platform import releases, views
from slipway.platform.errors import InvalidParams

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


def _release_key(r: views.Release, field: str) -> Any:
    return r.version if field == "version" else r.id


@router.get("/apps/{app}/releases")
def list_releases(app: str, request: Request, actor: Actor) -> JSONResponse:
    with get_platform(request).tx() as tx:
        items = releases.list_releases(tx, actor, app)
    return paged_response(request, items, ("version", "id"), _release_key, serialize.release)


@router.get("/apps/{app}/releases/{release}")
def get_release(app: str, release: str, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        return serialize.release(releases.get_release(tx, actor, app, release))


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
    return serialize.release(view)


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
