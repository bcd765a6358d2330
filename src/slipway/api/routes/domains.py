"""`/apps/{app}/domains`: the hostnames the router serves an app on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from slipway.api import serialize
from slipway.api.bodies import AcmRefresh, DomainCreate, DomainUpdate, SniEndpointCreate
from slipway.api.deps import current_account, get_platform
from slipway.api.paging import paged_response
from slipway.platform import domains, views
from slipway.platform.acm import hosts
from slipway.platform.errors import NotFound
from slipway.platform.tx import Tx

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


@router.patch("/apps/{app}/domains/{ident}")
def update_domain(
    app: str, ident: str, body: DomainUpdate, request: Request, actor: Actor
) -> dict[str, Any]:
    """certs:add's domain choice: the router picks certificates by SNI name, so the
    domain is served by any certificate naming it; the answer names the one in use."""
    with get_platform(request).tx() as tx:
        for item in domains.list_domains(tx, actor, app):
            if ident in (item.id, item.hostname):
                return serialize.domain(item)
    raise NotFound(f"Couldn't find that domain ({ident}).", resource="domain")


@router.delete("/apps/{app}/domains/{ident}")
def remove_domain(app: str, ident: str, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        return serialize.domain(domains.remove_domain(tx, actor, app, ident))


@router.get("/apps/{app}/sni-endpoints")
def list_sni_endpoints(app: str, request: Request, actor: Actor) -> list[dict[str, Any]]:
    """Certificates users added and those ACM issued for the app (local mode: none, the
    router mints one for every routed host from the platform's CA)."""
    with get_platform(request).tx() as tx:
        return [serialize.sni_endpoint(e) for e in hosts.list_endpoints(tx, actor, app)]


@router.get("/apps/{app}/sni-endpoints/{ident}")
def get_sni_endpoint(app: str, ident: str, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        return serialize.sni_endpoint(hosts.endpoint_info(tx, actor, app, ident))


@router.post("/apps/{app}/sni-endpoints", status_code=201)
def add_sni_endpoint(
    app: str, body: SniEndpointCreate, request: Request, actor: Actor
) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        added = hosts.add_endpoint(tx, actor, app, body.certificate_chain, body.private_key)
        return serialize.sni_endpoint(added)


@router.delete("/apps/{app}/sni-endpoints/{ident}")
def remove_sni_endpoint(app: str, ident: str, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        return serialize.sni_endpoint(hosts.remove_endpoint(tx, actor, app, ident))


@router.post("/apps/{app}/acm")
def enable_acm(app: str, request: Request, actor: Actor) -> dict[str, Any]:
    """`certs:auto:enable`."""
    return _acm(request, lambda tx: hosts.set_acm(tx, actor, app, True))


@router.delete("/apps/{app}/acm")
def disable_acm(app: str, request: Request, actor: Actor) -> dict[str, Any]:
    """`certs:auto:disable`."""
    return _acm(request, lambda tx: hosts.set_acm(tx, actor, app, False))


@router.patch("/apps/{app}/acm")
def refresh_acm(app: str, body: AcmRefresh, request: Request, actor: Actor) -> dict[str, Any]:
    """`certs:auto:refresh` (`{"acm_refresh": true}`): ask the CA again now."""
    return _acm(request, lambda tx: hosts.refresh(tx, actor, app))


def _acm(request: Request, change: Callable[[Tx], views.App]) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        return serialize.app(change(tx))
