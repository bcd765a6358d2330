"""Add-ons: the catalogue, add-ons, attachments, resolve, and Slipway's pg/redis actions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse

from slipway.addons.errors import AddonError
from slipway.addons.provider import Backups, Provider, SupportsBackups
from slipway.api import serialize
from slipway.api.bodies import AddonCreate, AddonDelete, AddonResolve, AttachmentCreate
from slipway.api.deps import current_account, get_platform
from slipway.platform import addons, views
from slipway.platform.errors import InvalidParams, NotFound, Unavailable

router = APIRouter()
Actor = Annotated[views.Account, Depends(current_account)]


def _providers(request: Request) -> Mapping[str, Provider]:
    providers: Mapping[str, Provider] | None = request.app.state.addons
    return providers or {}


def _service(request: Request, ident: str) -> Provider:
    for provider in _providers(request).values():
        service = provider.service
        if ident in (service.name, serialize.addon_service(service)["id"], *service.aliases):
            return provider
    raise NotFound(f"Couldn't find that add-on service ({ident}).", resource="addon_service")


@router.get("/addon-services")
def list_services(request: Request, actor: Actor) -> list[dict[str, Any]]:
    return [serialize.addon_service(p.service) for p in _providers(request).values()]


@router.get("/addon-services/{ident}")
def get_service(ident: str, request: Request, actor: Actor) -> dict[str, Any]:
    return serialize.addon_service(_service(request, ident).service)


@router.get("/addon-services/{ident}/plans")
def list_plans(ident: str, request: Request, actor: Actor) -> list[dict[str, Any]]:
    service = _service(request, ident).service
    return [serialize.plan(service, p) for p in service.plans]


@router.get("/addon-services/{ident}/plans/{plan}")
def get_plan(ident: str, plan: str, request: Request, actor: Actor) -> dict[str, Any]:
    service = _service(request, ident).service
    for p in service.plans:
        if plan in (p.name, p.short_name, serialize.plan(service, p)["id"]):
            return serialize.plan(service, p)
    raise NotFound(f"Couldn't find that plan ({plan}).", resource="plan")


@router.get("/addons")
def list_all(request: Request, actor: Actor) -> list[dict[str, Any]]:
    with get_platform(request).tx() as tx:
        return [serialize.addon(a) for a in addons.list_addons(tx, actor, None)]


@router.get("/apps/{app}/addons")
def list_for_app(app: str, request: Request, actor: Actor) -> list[dict[str, Any]]:
    with get_platform(request).tx() as tx:
        return [serialize.addon(a) for a in addons.list_addons(tx, actor, app)]


@router.get("/addons/{ident}")
def get_addon(ident: str, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        return serialize.addon(addons.get_addon(tx, actor, ident))


@router.get("/apps/{app}/addons/{ident}")
def get_app_addon(app: str, ident: str, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        return serialize.addon(addons.get_addon(tx, actor, ident, app))


@router.post("/apps/{app}/addons", status_code=201)
def create(app: str, body: AddonCreate, request: Request, actor: Actor) -> dict[str, Any]:
    plan = body.plan if isinstance(body.plan, str) else body.plan.name
    created = addons.create_addon(
        get_platform(request),
        _providers(request),
        actor,
        app,
        plan=plan,
        attachment_name=body.attachment.name if body.attachment else None,
        name=body.name,
        options=body.config or {},
    )
    return serialize.addon(created)


@router.delete("/apps/{app}/addons/{ident}")
def destroy(
    app: str, ident: str, request: Request, actor: Actor, body: AddonDelete | None = None
) -> dict[str, Any]:
    """The official CLI sends `{"force": false}` as the DELETE's body."""
    gone = addons.destroy_addon(
        get_platform(request),
        _providers(request),
        actor,
        app,
        ident,
        force=bool(body and body.force),
    )
    return serialize.addon(gone)


@router.post("/actions/addons/resolve")
def resolve(body: AddonResolve, request: Request, actor: Actor) -> list[dict[str, Any]]:
    with get_platform(request).tx() as tx:
        return [serialize.addon(a) for a in addons.resolve(tx, actor, body.addon, body.app)]


@router.get("/addon-attachments")
def list_attachments(request: Request, actor: Actor) -> list[dict[str, Any]]:
    with get_platform(request).tx() as tx:
        return [serialize.attachment(a) for a in addons.list_attachments(tx, actor, None)]


@router.get("/apps/{app}/addon-attachments")
def list_app_attachments(app: str, request: Request, actor: Actor) -> list[dict[str, Any]]:
    with get_platform(request).tx() as tx:
        return [serialize.attachment(a) for a in addons.list_attachments(tx, actor, app)]


@router.post("/addon-attachments", status_code=201)
def attach(body: AttachmentCreate, request: Request, actor: Actor) -> dict[str, Any]:
    created = addons.attach(
        get_platform(request), _providers(request), actor, body.addon, body.app, body.name
    )
    return serialize.attachment(created)


@router.delete("/addon-attachments/{ident}")
def detach(ident: str, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        return serialize.attachment(addons.detach(tx, actor, ident))


# -- Slipway's own: what pg:* and redis:* need --------------------------------------------


def _resource(request: Request, actor: views.Account, ident: str) -> tuple[Provider, str]:
    app = request.query_params.get("app")
    with get_platform(request).tx() as tx:
        service, resource_id = addons.resource_of(tx, actor, ident, app)
    provider = _providers(request).get(service)
    if provider is None:
        raise Unavailable(f"The {service} provider is not available on this server.")
    return provider, resource_id


def _call(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except AddonError as exc:
        raise addons.platform_error(exc) from exc


def _postgres(provider: Provider) -> Backups:
    if not isinstance(provider, SupportsBackups):
        raise InvalidParams(f"{provider.service.name} add-ons have no backups; only Postgres does.")
    return provider.backups


@router.get("/addons/{ident}/info")
def info(ident: str, request: Request, actor: Actor) -> list[dict[str, str]]:
    provider, resource_id = _resource(request, actor, ident)
    return [{"label": k, "value": v} for k, v in _call(provider.info, resource_id)]


@router.post("/addons/{ident}/actions/rotate-credentials")
def rotate(ident: str, request: Request, actor: Actor) -> dict[str, Any]:
    rotated = addons.rotate_credentials(
        get_platform(request), _providers(request), actor, ident, request.query_params.get("app")
    )
    return serialize.addon(rotated)


def _backup(b: Any) -> dict[str, Any]:
    return {
        "name": b.name,
        "created_at": serialize.ts(b.created_at),
        "size": b.size,
        "status": b.status,
    }


@router.get("/addons/{ident}/backups")
def backups(ident: str, request: Request, actor: Actor) -> list[dict[str, Any]]:
    provider, resource_id = _resource(request, actor, ident)
    return [_backup(b) for b in _call(_postgres(provider).list_backups, resource_id)]


@router.post("/addons/{ident}/backups", status_code=201)
def capture(ident: str, request: Request, actor: Actor) -> dict[str, Any]:
    provider, resource_id = _resource(request, actor, ident)
    return _backup(_call(_postgres(provider).capture_backup, resource_id))


@router.post("/addons/{ident}/backups/{name}/actions/restore")
def restore(ident: str, name: str, request: Request, actor: Actor) -> dict[str, str]:
    provider, resource_id = _resource(request, actor, ident)
    _call(_postgres(provider).restore_backup, resource_id, name)
    return {"restored": name}


@router.get("/addons/{ident}/backups/{name}/download")
def download(ident: str, name: str, request: Request, actor: Actor) -> FileResponse:
    provider, resource_id = _resource(request, actor, ident)
    path = _call(_postgres(provider).backup_path, resource_id, name)
    return FileResponse(path, media_type="application/octet-stream", filename=f"{name}.dump")


@router.get("/addons/{ident}/addon-attachments")
def addon_attachments(ident: str, request: Request, actor: Actor) -> list[dict[str, Any]]:
    with get_platform(request).tx() as tx:
        addon = addons.get_addon(tx, actor, ident)
        return [
            serialize.attachment(a)
            for a in addons.list_attachments(tx, actor, None)
            if a.addon_id == addon.id
        ]
