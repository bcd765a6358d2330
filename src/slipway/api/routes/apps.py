"""`/apps`: create, list, info, rename, maintenance, destroy."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from slipway.api import serialize
from slipway.api.bodies import AppCreate, AppUpdate
from slipway.api.deps import current_account, get_platform
from slipway.api.paging import paged_response
from slipway.platform import addons, apps, builds, views
from slipway.platform.errors import InvalidParams

router = APIRouter()
Actor = Annotated[views.Actor, Depends(current_account)]


def _app_key(a: views.App, field: str) -> Any:
    return {"id": a.id, "name": a.name, "updated_at": a.updated_at}[field]


def _list(request: Request, actor: views.Actor) -> JSONResponse:
    with get_platform(request).tx() as tx:
        items = apps.list_apps(tx, actor)
    return paged_response(request, items, ("id", "name", "updated_at"), _app_key, serialize.app)


@router.get("/apps")
def list_apps(request: Request, actor: Actor) -> JSONResponse:
    return _list(request, actor)


@router.get("/users/{user}/apps")
def list_user_apps(user: str, request: Request, actor: Actor) -> JSONResponse:
    if user not in ("~", actor.id, actor.email):
        raise InvalidParams("You can only list your own apps; use /users/~/apps.")
    return _list(request, actor)


@router.post("/apps", status_code=201)
def create_app(request: Request, actor: Actor, body: AppCreate | None = None) -> dict[str, Any]:
    body = body or AppCreate()
    platform = get_platform(request)
    settings = platform.settings
    if body.region is not None and body.region != settings.region:
        raise InvalidParams(f"Region {body.region!r} is not available here; use {settings.region}.")
    if body.stack is not None and body.stack != settings.stack:
        raise InvalidParams(f"Stack {body.stack!r} is not available here; use {settings.stack}.")
    with platform.tx() as tx:
        return serialize.app(apps.create_app(tx, actor, body.name))


@router.get("/apps/{app}")
def get_app(app: str, request: Request, actor: Actor, extended: bool = False) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        view = apps.get_app(tx, actor, app)
    body = serialize.app(view)
    if extended:
        body["extended"] = serialize.app_extended(view)
    return body


@router.patch("/apps/{app}")
def update_app(app: str, body: AppUpdate, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        view = apps.update_app(
            tx,
            actor,
            app,
            name=body.name,
            maintenance=body.maintenance,
            build_stack=body.build_stack,
            sleeps=body.sleeps,
        )
    return serialize.app(view)


@router.delete("/apps/{app}")
def delete_app(app: str, request: Request, actor: Actor) -> dict[str, Any]:
    platform = get_platform(request)
    # Heroku destroys an app's add-ons with it (and detaches them from other apps).
    addons.destroy_app_addons(platform, actor, app)
    with platform.tx() as tx:
        # Build ids are read before the rows go, so their logs can be removed too.
        build_ids = builds.build_ids_of(tx, apps.find_app_row(tx, actor, app).id)
        view = apps.delete_app(tx, actor, app)
    deployer = request.app.state.deployer
    if deployer is not None:
        deployer.forget_app(view.id, build_ids)
    outputs = request.app.state.release_outputs
    if outputs is not None:
        outputs.forget_app(view.id)
    return serialize.app(view)
