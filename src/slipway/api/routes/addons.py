"""Add-ons: the catalogue, add-ons, attachments, resolve, and Slipway's pg/redis actions."""

from __future__ import annotations

import html
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from slipway.api import serialize
from slipway.api.bodies import (
    AddonCreate,
    AddonDelete,
    AddonResolve,
    AddonUpdate,
    AttachmentCreate,
    AttachmentResolve,
)
from slipway.api.deps import current_account, get_platform
from slipway.platform import addons, views
from slipway.platform.capabilities import Signer
from slipway.platform.errors import InvalidParams, NotFound

router = APIRouter()
Actor = Annotated[views.Actor, Depends(current_account)]
PAGE = "addon-page"


def page_url(request: Request, addon_id: str) -> str | None:
    """The add-on's page (`addons:open`): a link that is its own credential."""
    signer: Signer | None = getattr(request.app.state, "signer", None)
    if signer is None:
        return None
    base = request.app.state.public_url
    return f"{base}/addon-pages/{addon_id}?token={signer.token(PAGE, addon_id)}"


def _addon(request: Request, a: views.Addon) -> dict[str, Any]:
    return serialize.addon(a, page_url(request, a.id))


def _attachment(request: Request, a: views.Attachment) -> dict[str, Any]:
    return serialize.attachment(a, page_url(request, a.addon_id))


@router.get("/addon-services")
def list_services(request: Request, actor: Actor) -> list[dict[str, Any]]:
    return [serialize.addon_service(s) for s in addons.list_services(get_platform(request))]


@router.get("/addon-services/{ident}")
def get_service(ident: str, request: Request, actor: Actor) -> dict[str, Any]:
    return serialize.addon_service(addons.get_service(get_platform(request), ident))


@router.get("/addon-services/{ident}/plans")
def list_plans(ident: str, request: Request, actor: Actor) -> list[dict[str, Any]]:
    return [serialize.plan(p) for p in addons.list_plans(get_platform(request), ident)]


@router.get("/addon-services/{ident}/plans/{plan}")
def get_plan(ident: str, plan: str, request: Request, actor: Actor) -> dict[str, Any]:
    return serialize.plan(addons.get_plan(get_platform(request), ident, plan))


@router.get("/addons")
def list_all(request: Request, actor: Actor) -> list[dict[str, Any]]:
    with get_platform(request).tx() as tx:
        return [_addon(request, a) for a in addons.list_addons(tx, actor, None)]


@router.get("/apps/{app}/addons")
def list_for_app(app: str, request: Request, actor: Actor) -> list[dict[str, Any]]:
    with get_platform(request).tx() as tx:
        return [_addon(request, a) for a in addons.list_addons(tx, actor, app)]


@router.get("/addons/{ident}")
def get_addon(ident: str, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        return _addon(request, addons.get_addon(tx, actor, ident))


@router.get("/apps/{app}/addons/{ident}")
def get_app_addon(app: str, ident: str, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        return _addon(request, addons.get_addon(tx, actor, ident, app))


@router.post("/apps/{app}/addons", status_code=201)
def create(app: str, body: AddonCreate, request: Request, actor: Actor) -> dict[str, Any]:
    plan = body.plan if isinstance(body.plan, str) else body.plan.name
    created = addons.create_addon(
        get_platform(request),
        actor,
        app,
        plan=plan,
        attachment_name=body.attachment.name if body.attachment else None,
        name=body.name,
        options=body.config or {},
    )
    return _addon(request, created)


@router.delete("/apps/{app}/addons/{ident}")
def destroy(
    app: str, ident: str, request: Request, actor: Actor, body: AddonDelete | None = None
) -> dict[str, Any]:
    """The official CLI sends `{"force": false}` as the DELETE's body."""
    gone = addons.destroy_addon(
        get_platform(request), actor, app, ident, force=bool(body and body.force)
    )
    return _addon(request, gone)


@router.post("/actions/addons/resolve")
def resolve(body: AddonResolve, request: Request, actor: Actor) -> list[dict[str, Any]]:
    with get_platform(request).tx() as tx:
        return [_addon(request, a) for a in addons.resolve(tx, actor, body.addon, body.app)]


@router.get("/addon-attachments")
def list_attachments(request: Request, actor: Actor) -> list[dict[str, Any]]:
    with get_platform(request).tx() as tx:
        return [_attachment(request, a) for a in addons.list_attachments(tx, actor, None)]


@router.get("/apps/{app}/addon-attachments")
def list_app_attachments(app: str, request: Request, actor: Actor) -> list[dict[str, Any]]:
    with get_platform(request).tx() as tx:
        return [_attachment(request, a) for a in addons.list_attachments(tx, actor, app)]


@router.post("/addon-attachments", status_code=201)
def attach(body: AttachmentCreate, request: Request, actor: Actor) -> dict[str, Any]:
    """The official CLI sends `{"addon": {"name": ...}, "app": {"name": ...}}`; the schema
    also allows plain strings."""
    addon = body.addon if isinstance(body.addon, str) else body.addon.ident
    app = body.app if isinstance(body.app, str) else body.app.ident
    created = addons.attach(get_platform(request), actor, addon, app, body.name, body.namespace)
    return _attachment(request, created)


@router.get("/addon-attachments/{ident}")
def get_attachment(ident: str, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        return _attachment(request, addons.get_attachment(tx, actor, ident))


@router.get("/apps/{app}/addon-attachments/{ident}")
def get_app_attachment(app: str, ident: str, request: Request, actor: Actor) -> dict[str, Any]:
    """By id, or by name within the app (`heroku addons:detach DATABASE`)."""
    with get_platform(request).tx() as tx:
        return _attachment(request, addons.get_attachment(tx, actor, ident, app))


@router.post("/actions/addon-attachments/resolve")
def resolve_attachments(
    body: AttachmentResolve, request: Request, actor: Actor
) -> list[dict[str, Any]]:
    with get_platform(request).tx() as tx:
        found = addons.resolve_attachments(tx, actor, body.addon_attachment, body.app)
    if body.addon_service:
        found = [a for a in found if a.addon_service == body.addon_service]
    return [_attachment(request, a) for a in found]


@router.delete("/addon-attachments/{ident}")
def detach(ident: str, request: Request, actor: Actor) -> dict[str, Any]:
    with get_platform(request).tx() as tx:
        return _attachment(request, addons.detach(tx, actor, ident))


@router.patch("/apps/{app}/addons/{ident}")
def update(
    app: str, ident: str, body: AddonUpdate, request: Request, actor: Actor
) -> dict[str, Any]:
    """`{"name": ...}` renames (addons:rename); `{"plan": ...}` changes the plan in place
    (addons:upgrade, addons:downgrade)."""
    platform = get_platform(request)
    if (body.name is None) == (body.plan is None):
        raise InvalidParams("Send either name (to rename) or plan (to change the plan).")
    if body.name is not None:
        with platform.tx() as tx:
            return _addon(request, addons.rename_addon(tx, actor, app, ident, body.name))
    assert body.plan is not None
    plan = body.plan if isinstance(body.plan, str) else body.plan.name
    return _addon(request, addons.change_plan(platform, actor, app, ident, plan))


@router.get("/addons/{ident}/config/{namespace}")
def namespace_config(
    ident: str, namespace: str, request: Request, actor: Actor
) -> list[dict[str, Any]]:
    """A credential's config (`addons:attach --credential NAME` checks it is not empty):
    Slipway's add-ons have one credential, default."""
    with get_platform(request).tx() as tx:
        addons.get_addon(tx, actor, ident)
    return []


@router.get("/addon-pages/{addon_id}")
def addon_page(addon_id: str, token: str, request: Request) -> HTMLResponse:
    """What `heroku addons:open` opens: the add-on's info rows (no login: the link is
    signed for this add-on)."""
    signer: Signer | None = getattr(request.app.state, "signer", None)
    if signer is None or not signer.check(PAGE, addon_id, token):
        raise NotFound("This add-on link is not valid; run heroku addons:open again.")
    addon, rows = addons.addon_page(get_platform(request), addon_id)
    cells = "".join(
        f"<tr><th>{html.escape(label)}</th><td>{html.escape(value)}</td></tr>"
        for label, value in rows
    )
    title = html.escape(f"{addon.name} ({addon.plan})")
    page = (
        f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title></head>"
        f"<body><h1>{title}</h1><p>On {html.escape(addon.app_name)}, attached as "
        f"{html.escape(', '.join(addon.config_vars) or 'nothing')}.</p>"
        f"<table>{cells}</table></body></html>"
    )
    return HTMLResponse(page)


# -- Slipway's own: what pg:* and redis:* need --------------------------------------------


def _app(request: Request) -> str | None:
    """The app the CLI names with `?app=`, so an attachment name (DATABASE) resolves in it."""
    return request.query_params.get("app")


@router.get("/addons/{ident}/info")
def info(ident: str, request: Request, actor: Actor) -> list[dict[str, str]]:
    rows = addons.addon_info(get_platform(request), actor, ident, _app(request))
    return [serialize.info_row(label, value) for label, value in rows]


@router.post("/addons/{ident}/actions/rotate-credentials")
def rotate(ident: str, request: Request, actor: Actor) -> dict[str, Any]:
    rotated = addons.rotate_credentials(get_platform(request), actor, ident, _app(request))
    return _addon(request, rotated)


@router.get("/addons/{ident}/backups")
def backups(ident: str, request: Request, actor: Actor) -> list[dict[str, Any]]:
    listed = addons.list_backups(get_platform(request), actor, ident, _app(request))
    return [serialize.backup(b) for b in listed]


@router.post("/addons/{ident}/backups", status_code=201)
def capture(ident: str, request: Request, actor: Actor) -> dict[str, Any]:
    captured = addons.capture_backup(get_platform(request), actor, ident, _app(request))
    return serialize.backup(captured)


@router.post("/addons/{ident}/backups/{name}/actions/restore")
def restore(ident: str, name: str, request: Request, actor: Actor) -> dict[str, str]:
    addons.restore_backup(get_platform(request), actor, ident, _app(request), name)
    return {"restored": name}


@router.get("/addons/{ident}/backups/{name}/download")
def download(ident: str, name: str, request: Request, actor: Actor) -> FileResponse:
    path = addons.backup_path(get_platform(request), actor, ident, _app(request), name)
    return FileResponse(path, media_type="application/octet-stream", filename=f"{name}.dump")


@router.get("/addons/{ident}/addon-attachments")
def addon_attachments(ident: str, request: Request, actor: Actor) -> list[dict[str, Any]]:
    with get_platform(request).tx() as tx:
        addon = addons.get_addon(tx, actor, ident)
        return [
            _attachment(request, a)
            for a in addons.list_attachments(tx, actor, None)
            if a.addon_id == addon.id
        ]


@router.get("/addons/{ident}/open", response_model=None)
def open_page(ident: str, request: Request) -> Response:
    """addons:open lands here (the add-on's web_url) in a browser: the browser asks for the
    API key as a password (Basic; its rule prompts for it), then goes on to the add-on's page,
    logged in."""
    actor = current_account(request)
    page = addons.open_page(get_platform(request), actor, ident, _app(request))
    response = RedirectResponse(page.url, status_code=302)
    for name, value in page.cookies.items():
        response.set_cookie(name, value, path="/", httponly=False, samesite="lax")
    return response


@router.get("/addons/{ident}/messages")
def messages(ident: str, request: Request, actor: Actor) -> list[dict[str, Any]]:
    """slipway mail:inbox: the newest messages first (`?limit=`, 100 by default)."""
    try:
        limit = max(1, min(1000, int(request.query_params.get("limit", "100"))))
    except ValueError:
        limit = 100
    listed = addons.list_messages(get_platform(request), actor, ident, _app(request), limit)
    return [serialize.mail_message(m) for m in listed]


@router.get("/addons/{ident}/messages/{message_id}")
def message(ident: str, message_id: str, request: Request, actor: Actor) -> dict[str, Any]:
    shown = addons.get_message(get_platform(request), actor, ident, _app(request), message_id)
    return serialize.mail_message(shown, raw=True)
