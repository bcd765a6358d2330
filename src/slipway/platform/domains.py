"""Domains: the app's own APP.<base domain>, and custom hostnames the router also serves."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select

from slipway.platform import audit, views
from slipway.platform.acm.hosts import annotate
from slipway.platform.apps import find_app_row
from slipway.platform.errors import Conflict, InvalidParams, NotFound
from slipway.platform.events import RuntimeChanged
from slipway.platform.tx import Tx
from slipway.store.models import AppRow, DomainRow

MAX_DOMAINS_PER_APP = 1000
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOSTNAME_RE = re.compile(rf"^(\*\.)?({_LABEL}\.)*{_LABEL}$")


def default_host(tx: Tx, app: AppRow) -> str:
    return f"{app.name}.{tx.settings.base_domain}"


def _view(tx: Tx, app: AppRow, row: DomainRow | None) -> views.Domain:
    if row is None:
        return views.Domain(
            id=app.id,
            app_id=app.id,
            app_name=app.name,
            hostname=default_host(tx, app),
            kind="heroku",
            cname=None,
            created_at=app.created_at,
            updated_at=app.updated_at,
        )
    return views.Domain(
        id=row.id,
        app_id=app.id,
        app_name=app.name,
        hostname=row.hostname,
        kind="custom",
        cname=default_host(tx, app),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def custom_hostnames(tx: Tx, app_id: str) -> list[str]:
    return list(
        tx.session.scalars(
            select(DomainRow.hostname)
            .where(DomainRow.app_id == app_id)
            .order_by(DomainRow.hostname)
        )
    )


def list_domains(tx: Tx, actor: views.Actor, app_ident: str) -> list[views.Domain]:
    app = find_app_row(tx, actor, app_ident)
    rows = tx.session.scalars(
        select(DomainRow).where(DomainRow.app_id == app.id).order_by(DomainRow.hostname)
    )
    return annotate(tx, [_view(tx, app, None), *(_view(tx, app, r) for r in rows)])


def _normalise(tx: Tx, hostname: str) -> str:
    host = hostname.strip().lower().rstrip(".")
    if len(host) > 253 or not _HOSTNAME_RE.match(host) or "." not in host:
        raise InvalidParams(
            f"{hostname!r} is not a valid hostname; use a name like www.example.com."
        )
    if host in tx.settings.platform_hosts:
        raise InvalidParams(f"{host} is one of the platform's own hosts; use another name.")
    base = tx.settings.base_domain
    if host == base or host.endswith("." + base):
        raise InvalidParams(
            f"{host} is under the platform's own domain {base}; apps already answer there."
        )
    return host


def add_domain(tx: Tx, actor: views.Actor, app_ident: str, hostname: str) -> views.Domain:
    app = find_app_row(tx, actor, app_ident, lock=True)
    host = _normalise(tx, hostname)
    taken = tx.session.scalar(select(DomainRow).where(DomainRow.hostname == host))
    if taken is not None:
        owner = "this app" if taken.app_id == app.id else "another app"
        raise Conflict(f"{host} is already in use by {owner}.")
    count = len(custom_hostnames(tx, app.id))
    if count >= MAX_DOMAINS_PER_APP:
        raise InvalidParams(f"{app.name} already has {count} domains, the most an app can have.")
    now = tx.clock.now()
    row = DomainRow(
        id=str(uuid.uuid4()), app_id=app.id, hostname=host, created_at=now, updated_at=now
    )
    tx.session.add(row)
    tx.session.flush()
    tx.log(app.id, f"Add {host} domain by user {actor.email}")
    audit.record(tx, actor, "domain-add", f"Added the domain {host}", app=app)
    tx.emit(RuntimeChanged(app.id))
    return _view(tx, app, row)


def remove_domain(tx: Tx, actor: views.Actor, app_ident: str, ident: str) -> views.Domain:
    app = find_app_row(tx, actor, app_ident, lock=True)
    host = ident.strip().lower().rstrip(".")
    row = tx.session.scalar(
        select(DomainRow).where(
            DomainRow.app_id == app.id, (DomainRow.hostname == host) | (DomainRow.id == ident)
        )
    )
    if row is None:
        if host == default_host(tx, app):
            raise InvalidParams(f"{host} is the app's own domain and cannot be removed.")
        raise NotFound(f"Couldn't find that domain ({ident}) on {app.name}.", resource="domain")
    view = _view(tx, app, row)
    tx.session.delete(row)
    tx.log(app.id, f"Remove {row.hostname} domain by user {actor.email}")
    audit.record(tx, actor, "domain-remove", f"Removed the domain {row.hostname}", app=app)
    tx.emit(RuntimeChanged(app.id))
    return view
