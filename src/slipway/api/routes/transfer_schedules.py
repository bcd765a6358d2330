"""pg:backups:schedule, :schedules and :unschedule on Heroku's data API paths.

The official CLI sends these to HEROKU_DATA_HOST (the same server, see
docs/cli-contract-wave2.md §2.3) with the add-on's id from its attachment
resolve; `slipway pg:backups:schedule` uses the same paths.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from slipway.api import serialize
from slipway.api.bodies import TransferScheduleCreate
from slipway.api.deps import current_account, get_platform
from slipway.platform import views
from slipway.platform.addons import backup_schedules

router = APIRouter()
Actor = Annotated[views.Actor, Depends(current_account)]


def _app(request: Request) -> str | None:
    return request.query_params.get("app")


@router.get("/client/v11/databases/{ident}/transfer-schedules")
def list_schedules(ident: str, request: Request, actor: Actor) -> list[dict[str, Any]]:
    with get_platform(request).tx() as tx:
        listed = backup_schedules.list_schedules(tx, actor, ident, _app(request))
        return [serialize.transfer_schedule(s) for s in listed]


@router.post("/client/v11/databases/{ident}/transfer-schedules", status_code=201)
def schedule(
    ident: str, body: TransferScheduleCreate, request: Request, actor: Actor
) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        made = backup_schedules.schedule(
            tx,
            actor,
            ident,
            _app(request),
            hour=body.hour,
            timezone=body.timezone,
            name=body.schedule_name or "",
        )
        return serialize.transfer_schedule(made)


@router.delete("/client/v11/databases/{ident}/transfer-schedules/{schedule_id}")
def unschedule(ident: str, schedule_id: str, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        gone = backup_schedules.unschedule(tx, actor, ident, _app(request), schedule_id)
        return serialize.transfer_schedule(gone)
