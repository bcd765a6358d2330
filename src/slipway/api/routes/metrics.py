"""Metrics: an app's as JSON (`slipway metrics`), the platform's in Prometheus' text."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response

from slipway.api.deps import current_account, get_platform
from slipway.platform import views
from slipway.platform.metrics import prometheus, queries

router = APIRouter()
Actor = Annotated[views.Actor, Depends(current_account)]


@router.get("/apps/{app}/metrics")
def app_metrics(
    app: str, request: Request, actor: Actor, minutes: int = 60, resolution: str = "1m"
) -> dict[str, Any]:
    return queries.app_metrics(
        get_platform(request), actor, app, minutes=minutes, resolution=resolution
    )


@router.get("/metrics", response_class=PlainTextResponse)
def platform_metrics(request: Request, actor: Actor) -> Response:
    body = prometheus.exposition(get_platform(request), actor)
    return Response(body, media_type=prometheus.CONTENT_TYPE)
