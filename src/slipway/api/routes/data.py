"""The part of Heroku's data API the official `pg:*` and `redis:*` commands use.

The CLI sends these to `HEROKU_DATA_HOST` with the scheme and port of
`HEROKU_HOST` (docs/cli-contract-wave2.md §0), so the API serves them itself and
`slipway heroku-env` sets `HEROKU_DATA_HOST` to the API's host. pg:credentials*
authenticate with Basic `:TOKEN`, which `deps.current_account` accepts.

Paths: `/client/v11/*` (databases, transfers), `/postgres/v0/*` (credentials),
`/redis/v0/*` (key-value stores); and `/backup-downloads/*`, the signed HTTPS link
`pg:backups:url` hands out and `pg:backups:download` fetches.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import FileResponse, JSONResponse

from slipway.api.bodies import CredentialRotation, DataReset, DataRestore, ScalarText
from slipway.api.deps import current_account, get_platform
from slipway.api.serialize import ts
from slipway.platform import addons, views
from slipway.platform.addons import data
from slipway.platform.capabilities import Signer
from slipway.platform.errors import InvalidParams, NotFound

router = APIRouter()
Actor = Annotated[views.Actor, Depends(current_account)]
Json = dict[str, Any]

DOWNLOAD = "backup-download"
DOWNLOAD_TTL = 3600


def _info_rows(rows: tuple[tuple[str, str], ...]) -> list[Json]:
    return [{"name": label, "values": [value]} for label, value in rows]


def _short_plan(plan: str) -> str:
    return plan.split(":", 1)[-1]


# -- Postgres: databases -----------------------------------------------------------------


@router.get("/client/v11/databases/{ident}")
def pg_database(ident: str, request: Request, actor: Actor) -> Json:
    info = data.data_info(get_platform(request), actor, ident, data.POSTGRES)
    rows = dict(info.rows)
    return {
        "id": info.addon.id,
        "name": info.addon.name,
        "plan": _short_plan(info.addon.plan),
        "resource_url": info.resource_url,
        "waiting?": False,
        "postgres_version": rows.get("PG Version"),
        "following": None,
        "leader": None,
        "is_in_recovery?": False,
        "created_at": ts(info.created_at),
        "info": _info_rows(info.rows),
    }


@router.get("/client/v11/databases/{ident}/wait_status")
def pg_wait(ident: str, request: Request, actor: Actor) -> Json:
    waiting, message = data.wait_status(get_platform(request), actor, ident)
    return {"waiting?": waiting, "message": message, "error?": False}


@router.put("/client/v11/databases/{ident}/reset")
def pg_reset(ident: str, request: Request, actor: Actor, body: DataReset | None = None) -> Json:
    if body is not None and body.extensions:
        raise InvalidParams(
            "Slipway's databases have no extensions to enable on reset; leave -e out and "
            "run CREATE EXTENSION afterwards."
        )
    data.reset(get_platform(request), actor, ident)
    return {"message": "Database reset."}


@router.get("/client/v11/databases/{ident}/transfer-schedules")
def pg_schedules(ident: str, request: Request, actor: Actor) -> list[Json]:
    data.require(get_platform(request), actor, ident, data.POSTGRES)
    return []


@router.post("/client/v11/databases/{ident}/transfer-schedules")
def pg_schedule(ident: str, request: Request, actor: Actor) -> Json:
    raise InvalidParams(
        "Scheduled backups are not available on Slipway; run heroku pg:backups:capture "
        "from a scheduler (cron, or a scheduled one-off dyno) instead."
    )


# -- Postgres: transfers (backups and restores) ------------------------------------------


def _transfer(t: views.Transfer, backup_url: str, *, verbose: bool = False) -> Json:
    backup = t.kind == "backup"
    body: Json = {
        "uuid": t.uuid,
        "num": t.num,
        "from_name": t.attachment if backup else "BACKUP",
        "to_name": "BACKUP" if backup else t.attachment,
        "from_type": "pg_dump" if backup else "gof3r",
        "to_type": "gof3r" if backup else "pg_restore",
        # No database URL here: it would carry the password.
        "from_url": None if backup else backup_url,
        "to_url": backup_url if backup else None,
        "options": {},
        "source_bytes": t.size,
        "processed_bytes": t.size,
        "succeeded": t.succeeded,
        "warnings": 0,
        "created_at": ts(t.created_at),
        "started_at": ts(t.created_at),
        "finished_at": ts(t.finished_at),
        "updated_at": ts(t.finished_at),
        "canceled_at": None,
        "schedule": None,
        "from_database": {"id": t.addon_id, "name": t.addon_name} if backup else None,
        "to_database": None if backup else {"id": t.addon_id, "name": t.addon_name},
    }
    if verbose or not t.succeeded:
        message = t.message or ("Completed" if t.succeeded else "Failed")
        body["logs"] = [{"created_at": ts(t.finished_at), "message": message}]
    return body


def _url_of(request: Request, t: views.Transfer) -> str:
    with get_platform(request).tx() as tx:
        return data.backup_url(tx, t.backup_addon_id, t.backup_name)


@router.get("/client/v11/apps/{app}/transfers")
def list_transfers(app: str, request: Request, actor: Actor) -> list[Json]:
    found = data.list_transfers(get_platform(request), actor, app)
    return [_transfer(t, _url_of(request, t)) for t in found]


@router.get("/client/v11/apps/{app}/transfers/{ident}")
def get_transfer(
    app: str, ident: str, request: Request, actor: Actor, verbose: bool = False
) -> Json:
    found = data.get_transfer(get_platform(request), actor, app, ident)
    return _transfer(found, _url_of(request, found), verbose=verbose)


@router.post("/client/v11/databases/{ident}/backups", status_code=201)
def capture(ident: str, request: Request, actor: Actor) -> Json:
    found = data.capture(get_platform(request), actor, ident)
    return _transfer(found, _url_of(request, found))


@router.post("/client/v11/databases/{ident}/restores", status_code=201)
def restore(ident: str, body: DataRestore, request: Request, actor: Actor) -> Json:
    if body.extensions:
        raise InvalidParams(
            "Slipway restores the backup as it is; leave -e out (the extensions a backup "
            "uses are restored with it)."
        )
    found = data.restore(get_platform(request), actor, ident, body.backup_url)
    return _transfer(found, _url_of(request, found))


@router.post("/client/v11/apps/{app}/transfers/{ident}/actions/public-url", status_code=201)
def public_url(app: str, ident: str, request: Request, actor: Actor) -> Json:
    """A signed HTTPS link to the backup (`pg:backups:url`, `pg:backups:download`), valid
    for an hour."""
    found = data.get_transfer(get_platform(request), actor, app, ident)
    if found.kind != "backup" or not found.succeeded:
        raise InvalidParams(f"{ident} is not a completed backup; name a backup (b001).")
    signer: Signer = request.app.state.signer
    expires = int(time.time()) + DOWNLOAD_TTL
    target = f"{found.backup_addon_id}/{found.backup_name}"
    token = signer.token(DOWNLOAD, target, expires)
    url = f"{_url_of(request, found)}?expires={expires}&token={token}"
    return {"url": url, "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))}


@router.get("/backup-downloads/{addon_id}/{name}")
def download(
    addon_id: str, name: str, request: Request, expires: int = 0, token: str = ""
) -> Response:
    """The backup's file, for a link `public-url` signed (no login: the link is the key)."""
    signer: Signer | None = getattr(request.app.state, "signer", None)
    target = f"{addon_id}/{name}"
    if signer is None or not signer.check(DOWNLOAD, target, token, expires, now=time.time()):
        raise NotFound(
            "This backup link is not valid or has expired; get a new one with "
            "heroku pg:backups:url.",
            resource="backup",
        )
    path = data.backup_file(get_platform(request), addon_id, name)
    return FileResponse(path, media_type="application/octet-stream", filename=f"{name}.dump")


# -- Postgres: credentials ---------------------------------------------------------------


def _credential(c: views.Credential, *, with_password: bool) -> Json:
    entry: Json = {"user": c.user, "state": "active", "connections": c.connections}
    if with_password:
        entry["password"] = c.password
    return {
        "uuid": None,
        "name": "default",
        "state": "active",
        "database": c.database,
        "host": c.host,
        "port": c.port,
        "credentials": [entry],
    }


@router.get("/postgres/v0/databases/{ident}/credentials")
def credentials(ident: str, request: Request, actor: Actor) -> list[Json]:
    found = data.credential(get_platform(request), actor, ident)
    return [_credential(found, with_password=False)]


@router.get("/postgres/v0/databases/{ident}/credentials/{name}")
def credential(ident: str, name: str, request: Request, actor: Actor) -> Json:
    data.check_credential_name(name)
    return _credential(data.credential(get_platform(request), actor, ident), with_password=True)


@router.post("/postgres/v0/databases/{ident}/credentials_rotation")
@router.post("/postgres/v0/databases/{ident}/credentials/{name}/credentials_rotation")
def rotate(
    ident: str,
    request: Request,
    actor: Actor,
    name: str = "default",
    body: CredentialRotation | None = None,
) -> Json:
    """New password for the one credential; attached apps get a release with it."""
    data.check_credential_name(name)
    data.require(get_platform(request), actor, ident, data.POSTGRES)
    addons.rotate_credentials(get_platform(request), actor, ident, None)
    return {}


# -- Redis -------------------------------------------------------------------------------


@router.get("/redis/v0/databases/{ident}")
def redis_database(ident: str, request: Request, actor: Actor) -> Json:
    info = data.data_info(get_platform(request), actor, ident, data.REDIS)
    rows = dict(info.rows)
    return {
        "id": info.addon.id,
        "name": info.addon.name,
        "plan": _short_plan(info.addon.plan),
        "resource_url": info.resource_url,
        # The CLI's redis:cli then speaks TLS to resource_url (rediss://).
        "prefer_native_tls": info.resource_url.startswith("rediss://"),
        "version": rows.get("Version"),
        "created_at": ts(info.created_at),
        "customer_encryption_key": None,
        "info": _info_rows(info.rows),
    }


def _settings(settings: dict[str, Any]) -> Json:
    return {k: {"value": s.value, "values": dict(s.choices)} for k, s in settings.items()}


@router.get("/redis/v0/databases/{ident}/config")
def redis_config(ident: str, request: Request, actor: Actor) -> Json:
    return _settings(data.get_settings(get_platform(request), actor, ident, data.REDIS))


@router.patch("/redis/v0/databases/{ident}/config")
def redis_update_config(
    ident: str,
    request: Request,
    actor: Actor,
    changes: Annotated[dict[str, ScalarText], Body()],
) -> Json:
    """redis:maxmemory, redis:timeout (a number), redis:keyspace-notifications."""
    platform = get_platform(request)
    return _settings(data.update_settings(platform, actor, ident, data.REDIS, dict(changes)))


@router.post("/redis/v0/databases/{ident}/credentials_rotation")
def redis_rotate(ident: str, request: Request, actor: Actor) -> Json:
    data.require(get_platform(request), actor, ident, data.REDIS)
    addons.rotate_credentials(get_platform(request), actor, ident, None)
    return {}


@router.get("/redis/v0/databases/{ident}/wait")
def redis_wait(ident: str, request: Request, actor: Actor) -> JSONResponse:
    waiting, message = data.wait_status(get_platform(request), actor, ident)
    return JSONResponse({"waiting?": waiting, "message": message})
