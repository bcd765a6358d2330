"""Dynos: list, info, one-off create (`heroku run`), restart and stop."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from slipway.api import serialize
from slipway.api.bodies import DynoCreate
from slipway.api.deps import current_account, get_platform
from slipway.platform import dynos, views

router = APIRouter()
Actor = Annotated[views.Actor, Depends(current_account)]


@router.get("/apps/{app}/dynos")
def list_dynos(app: str, request: Request, actor: Actor) -> list[dict[str, Any]]:
    with get_platform(request).tx() as tx:
        return [serialize.dyno(d) for d in dynos.list_dynos(tx, actor, app)]


@router.get("/apps/{app}/dynos/{dyno}")
def get_dyno(app: str, dyno: str, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        return serialize.dyno(dynos.get_dyno(tx, actor, app, dyno))


@router.post("/apps/{app}/dynos", status_code=201)
def create_dyno(app: str, body: DynoCreate, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        created = dynos.create_dyno(
            tx,
            actor,
            app,
            command=body.command,
            attach=bool(body.attach),
            size=body.size,
            env=body.env or {},
            force_no_tty=bool(body.force_no_tty),
            ptype=body.type or "run",
            time_to_live=body.time_to_live,
        )
    return serialize.dyno(created)


def _accepted() -> Response:
    return Response(content="{}", status_code=202, media_type="application/json")


@router.delete("/apps/{app}/dynos")
def restart_all(app: str, request: Request, actor: Actor) -> Response:
    with get_platform(request).tx() as tx:
        dynos.restart(tx, actor, app)
    return _accepted()


@router.delete("/apps/{app}/dynos/{dyno}")
def restart_one(app: str, dyno: str, request: Request, actor: Actor) -> Response:
    with get_platform(request).tx() as tx:
        dynos.restart(tx, actor, app, name=dyno)
    return _accepted()


@router.delete("/apps/{app}/formations/{ptype}")
def restart_type(app: str, ptype: str, request: Request, actor: Actor) -> Response:
    with get_platform(request).tx() as tx:
        dynos.restart(tx, actor, app, ptype=ptype)
    return _accepted()


@router.post("/apps/{app}/dynos/{dyno}/actions/stop")
def stop_one(app: str, dyno: str, request: Request, actor: Actor) -> Response:
    with get_platform(request).tx() as tx:
        dynos.stop(tx, actor, app, name=dyno)
    return _accepted()


@router.post("/apps/{app}/formations/{ptype}/actions/stop")
def stop_type(app: str, ptype: str, request: Request, actor: Actor) -> Response:
    with get_platform(request).tx() as tx:
        dynos.stop(tx, actor, app, ptype=ptype)
    return _accepted()


@router.get("/accounts/{account}/actions/get-quota")
@router.post("/accounts/{account}/actions/get-quota")
def get_quota(account: str, request: Request, actor: Actor) -> dict[str, Any]:
    """The eco dyno-hour pool, in seconds, as `heroku ps` reads it."""
    with get_platform(request).tx() as tx:
        quota, used = dynos.eco_quota(tx, actor, account)
    return {"account_quota": int(quota), "quota_used": int(used), "apps": []}
