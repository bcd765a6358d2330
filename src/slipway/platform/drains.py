"""Log drains: where an app's log stream is also delivered (syslog, syslog+tls, https)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from slipway.logs.drains.urls import DrainUrlError, parse_drain_url
from slipway.platform import audit, views
from slipway.platform.apps import find_app_row
from slipway.platform.errors import Conflict, InvalidParams, NotFound, Unavailable
from slipway.platform.events import DrainsChanged
from slipway.platform.tx import Platform, Tx
from slipway.store.models import AppRow, LogDrainRow

MAX_DRAINS_PER_APP = 6  # Logplex's default per channel


def drain_view(row: LogDrainRow, app: AppRow) -> views.LogDrain:
    return views.LogDrain(
        id=row.id,
        app_id=app.id,
        app_name=app.name,
        token=row.token,
        url=row.url,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _rows(tx: Tx, app: AppRow) -> list[LogDrainRow]:
    return list(
        tx.session.scalars(
            select(LogDrainRow).where(LogDrainRow.app_id == app.id).order_by(LogDrainRow.created_at)
        )
    )


def list_drains(tx: Tx, actor: views.Actor, app_ident: str) -> list[views.LogDrain]:
    app = find_app_row(tx, actor, app_ident)
    return [drain_view(r, app) for r in _rows(tx, app)]


def check_drain_url(platform: Platform, url: str) -> None:
    """A drain URL must parse (scheme, host, port) and its host must accept connections:
    a drain that can never deliver is refused. Blocking: the probe is network I/O."""
    try:
        parse_drain_url(url)
    except DrainUrlError as exc:
        raise InvalidParams(str(exc)) from exc
    probe = platform.ports.drain_probe
    if probe is None:
        raise Unavailable("This server cannot check drain URLs, so drains cannot be added.")
    problem = probe.unreachable(url)
    if problem is not None:
        raise InvalidParams(problem)


def add_drain(platform: Platform, actor: views.Actor, app_ident: str, url: str) -> views.LogDrain:
    """Checked before anything is stored (and outside the transaction: the probe can take
    seconds), then recorded; the dispatcher follows the DrainsChanged event.

    Access comes first: the probe connects to the URL's host, and nobody may make the
    platform probe hosts for an app they cannot touch.
    """
    with platform.tx() as tx:
        find_app_row(tx, actor, app_ident)
    check_drain_url(platform, url)
    with platform.tx() as tx:
        return _record_drain(tx, actor, app_ident, url)


def _record_drain(tx: Tx, actor: views.Actor, app_ident: str, url: str) -> views.LogDrain:
    app = find_app_row(tx, actor, app_ident, lock=True)
    rows = _rows(tx, app)
    if any(r.url == url for r in rows):
        raise Conflict(f"A drain to {url} already exists for {app.name}.")
    if len(rows) >= MAX_DRAINS_PER_APP:
        raise InvalidParams(
            f"{app.name} already has {MAX_DRAINS_PER_APP} drains, the most an app can have; "
            "remove one first."
        )
    now = tx.clock.now()
    row = LogDrainRow(
        id=str(uuid.uuid4()),
        app_id=app.id,
        token=f"d.{uuid.uuid4()}",
        url=url,
        created_at=now,
        updated_at=now,
    )
    tx.session.add(row)
    tx.session.flush()
    tx.emit(DrainsChanged(app.id))
    tx.log(app.id, f"Add drain {url} by user {actor.email}")
    audit.record(tx, actor, "drain-add", f"Added the drain {url}", app=app)
    return drain_view(row, app)


def _find(tx: Tx, app: AppRow, ident: str) -> LogDrainRow:
    for row in _rows(tx, app):
        if ident in (row.id, row.url, row.token):
            return row
    raise NotFound(f"Couldn't find that drain ({ident}) on {app.name}.", resource="log-drain")


def get_drain(tx: Tx, actor: views.Actor, app_ident: str, ident: str) -> views.LogDrain:
    app = find_app_row(tx, actor, app_ident)
    return drain_view(_find(tx, app, ident), app)


def remove_drain(tx: Tx, actor: views.Actor, app_ident: str, ident: str) -> views.LogDrain:
    app = find_app_row(tx, actor, app_ident, lock=True)
    row = _find(tx, app, ident)
    view = drain_view(row, app)
    tx.session.delete(row)
    tx.emit(DrainsChanged(app.id))
    tx.log(app.id, f"Remove drain {view.url} by user {actor.email}")
    audit.record(tx, actor, "drain-remove", f"Removed the drain {view.url}", app=app)
    return view


def drains_of(tx: Tx, app_id: str) -> list[tuple[str, str, str]]:
    """(id, token, url) of an app's drains, for the dispatcher; no access check (internal)."""
    rows = tx.session.scalars(select(LogDrainRow).where(LogDrainRow.app_id == app_id))
    return [(r.id, r.token, r.url) for r in rows]


def all_app_ids_with_drains(tx: Tx) -> list[str]:
    return list(set(tx.session.scalars(select(LogDrainRow.app_id))))
