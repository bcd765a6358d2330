"""Heroku Scheduler's jobs of an app: `slipway scheduler`, `scheduler:add`, `:remove`, `:run`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from slipway.api import serialize
from slipway.api.bodies import SchedulerJobCreate
from slipway.api.deps import current_account, get_platform
from slipway.platform import views
from slipway.platform.scheduler import jobs

router = APIRouter()
Actor = Annotated[views.Actor, Depends(current_account)]


@router.get("/apps/{app}/scheduler/jobs")
def list_jobs(app: str, request: Request, actor: Actor) -> list[dict[str, Any]]:
    with get_platform(request).tx() as tx:
        return [serialize.scheduler_job(j) for j in jobs.list_jobs(tx, actor, app)]


@router.post("/apps/{app}/scheduler/jobs", status_code=201)
def add_job(app: str, body: SchedulerJobCreate, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        job = jobs.add_job(
            tx, actor, app, frequency=body.frequency, command=body.command, size=body.size
        )
        return serialize.scheduler_job(job)


@router.delete("/apps/{app}/scheduler/jobs/{ident}")
def remove_job(app: str, ident: str, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        return serialize.scheduler_job(jobs.remove_job(tx, actor, app, ident))


@router.post("/apps/{app}/scheduler/jobs/{ident}/actions/run", status_code=202)
def run_job(app: str, ident: str, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        return serialize.scheduler_job(jobs.run_job(tx, actor, app, ident))
