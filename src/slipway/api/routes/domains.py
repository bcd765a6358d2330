"""`/apps/{app}/domains`: the hostnames the router serves an app on."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from slipway.api import serialize
from slipway.api.bodies import DomainCreate
from slipway.api.deps import current_account, get_platform
from slipway.api.paging import paged_response
from slipway.platform import domains, views
from slipway.platform.errors import NotFound

router = APIRouter()
Actor = Annotated[views.Actor, Depends(current_account)]


@router.get("/apps/{app}/domains")
def list_domains(app: str, request: Request, actor: Actor) -> JSONResponse:
    with get_platform(request).tx() as tx:
        items = domains.list_domains(tx, actor, app)
    return paged_response(
        request, items, ("id", "hostname"), lambda d, f: getattr(d, f), serialize.domain
    )


@router.get("/apps/{app}/domains/{ident}")
def get_domain(app: str, ident: str, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        for item in domains.list_domains(tx, actor, app):
            if ident in (item.id, item.hostname):
                return serialize.domain(item)
    raise NotFound(f"Couldn't find that domain ({ident}).", resource="domain")


@router.post("/apps/{app}/domains", status_code=201)
def add_domain(app: str, body: DomainCreate, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        return serialize.domain(domains.add_domain(tx, actor, app, body.hostname))


@router.delete("/apps/{app}/domains/{ident}")
def remove_domain(app: str, ident: str, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        return serialize.domain(domains.remove_domain(tx, actor, app, ident))


@router.get("/apps/{app}/sni-endpoints")
def list_sni_endpoints(app: str, request: Request, actor: Actor) -> list[dict[str, Any]]:
    """None: the router mints a certificate for every routed host from the platform's CA."""
    with get_platform(request).tx() as tx:
        domains.list_domains(tx, actor, app)
    return []
