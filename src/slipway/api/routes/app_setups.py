"""Heroku's app-setup resource: POST /app-setups (an app from app.json), GET to follow it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from slipway.api import serialize
from slipway.api.bodies import AppSetupCreate
from slipway.api.deps import current_account
from slipway.platform import views
from slipway.platform.app_setups import AppSetups, SetupRequest
from slipway.platform.errors import Unavailable

router = APIRouter()
Actor = Annotated[views.Actor, Depends(current_account)]


def setups(request: Request) -> AppSetups:
    found: AppSetups | None = request.app.state.app_setups
    if found is None:
        raise Unavailable("This server cannot build apps, so it cannot set them up from app.json.")
    return found


@router.post("/app-setups", status_code=201)
def create_app_setup(body: AppSetupCreate, request: Request, actor: Actor) -> dict[str, Any]:
    service = setups(request)
    overrides = body.overrides
    buildpacks = None
    if overrides is not None and overrides.buildpacks:
        buildpacks = [bp.url or bp.name or "" for bp in overrides.buildpacks]
    setup = service.start(
        actor,
        SetupRequest(
            source_url=body.source_blob.url,
            source_checksum=body.source_blob.checksum,
            source_version=body.source_blob.version,
            app_name=body.app.name if body.app else None,
            stack=body.app.stack if body.app else None,
            env=overrides.env if overrides else None,
            buildpacks=buildpacks,
        ),
    )
    return serialize.app_setup(setup, service.deployer.output_url)


@router.get("/app-setups/{setup_id}")
def get_app_setup(setup_id: str, request: Request, actor: Actor) -> dict[str, Any]:
    service = setups(request)
    return serialize.app_setup(service.get(actor, setup_id), service.deployer.output_url)
