"""What this Slipway offers every app: its stack and its region (`heroku stack`, `regions`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from slipway.api import serialize
from slipway.api.deps import current_account, get_platform
from slipway.platform import views
from slipway.platform.errors import NotFound

router = APIRouter()
Actor = Annotated[views.Actor, Depends(current_account)]


@router.get("/stacks")
def list_stacks(request: Request, actor: Actor) -> list[dict[str, Any]]:
    return [serialize.stack(get_platform(request).settings.stack)]


@router.get("/stacks/{ident}")
def get_stack(ident: str, request: Request, actor: Actor) -> dict[str, Any]:
    stack = get_platform(request).settings.stack
    if ident not in (stack, serialize.STACK_ID):
        raise NotFound(f"Couldn't find that stack ({ident}); this server has {stack}.")
    return serialize.stack(stack)


@router.get("/regions")
def list_regions(request: Request, actor: Actor) -> list[dict[str, Any]]:
    return [serialize.region(get_platform(request).settings.region)]


@router.get("/regions/{ident}")
def get_region(ident: str, request: Request, actor: Actor) -> dict[str, Any]:
    region = get_platform(request).settings.region
    if ident not in (region, serialize.REGION_ID):
        raise NotFound(f"Couldn't find that region ({ident}); this server has {region}.")
    return serialize.region(region)
