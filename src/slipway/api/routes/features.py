"""Labs (`heroku labs`): the app's features, and the account's (there are none)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from slipway.api import serialize
from slipway.api.bodies import FeatureUpdate
from slipway.api.deps import current_account, get_platform
from slipway.platform import features, views

router = APIRouter()
Actor = Annotated[views.Actor, Depends(current_account)]


@router.get("/account/features")
def list_account_features(actor: Actor) -> list[dict[str, Any]]:
    return []


@router.get("/account/features/{name}")
@router.patch("/account/features/{name}")
def account_feature(name: str, actor: Actor) -> dict[str, Any]:
    """Always 404: the official CLI then looks for the feature on the app (labs:enable)."""
    return serialize.feature(features.get_account_feature(name))


@router.get("/apps/{app}/features")
def list_app_features(app: str, request: Request, actor: Actor) -> list[dict[str, Any]]:
    with get_platform(request).tx() as tx:
        return [serialize.feature(f) for f in features.list_app_features(tx, actor, app)]


@router.get("/apps/{app}/features/{name}")
def get_app_feature(app: str, name: str, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        return serialize.feature(features.get_app_feature(tx, actor, app, name))


@router.patch("/apps/{app}/features/{name}")
def update_app_feature(
    app: str, name: str, body: FeatureUpdate, request: Request, actor: Actor
) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        return serialize.feature(features.set_app_feature(tx, actor, app, name, body.enabled))
