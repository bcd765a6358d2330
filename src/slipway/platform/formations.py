"""Formation use cases: how many dynos of each process type, and their size (in the store).

The pure rules they apply (sizes, quantities, limits) are `formation_rules.py`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping

from sqlalchemy import select

from slipway.platform import audit, views
from slipway.platform.apps import find_app_row, latest_live_release_row
from slipway.platform.errors import InvalidParams, NotFound
from slipway.platform.events import RuntimeChanged
from slipway.platform.formation_rules import (
    FormationEntry,
    FormationUpdate,
    display_size,
    plan_formation,
)
from slipway.platform.tx import Tx
from slipway.store.models import AppRow, FormationRow, SlugRow


def formation_view(row: FormationRow, app: AppRow) -> views.Formation:
    return views.Formation(
        id=row.id,
        app_id=app.id,
        app_name=app.name,
        type=row.type,
        command=row.command,
        quantity=row.quantity,
        size=row.size,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _rows(tx: Tx, app: AppRow) -> list[FormationRow]:
    return list(
        tx.session.scalars(
            select(FormationRow).where(FormationRow.app_id == app.id).order_by(FormationRow.type)
        )
    )


def planned_formation(
    process_types: Mapping[str, str], rows: Iterable[FormationRow], default_size: str
) -> list[tuple[str, str, int, str]]:
    """(type, command, quantity, size) the app will run once a slug with these types is live."""
    existing = {r.type: r for r in rows}
    planned = []
    for name, command in sorted(process_types.items()):
        if name == "release":
            continue
        row = existing.get(name)
        if row is None:
            planned.append((name, command, 1 if name == "web" else 0, default_size))
        else:
            planned.append((name, command, row.quantity, row.size))
    return planned


def formation_rows(tx: Tx, app: AppRow) -> list[FormationRow]:
    return _rows(tx, app)


def sync_formation(tx: Tx, app: AppRow, process_types: Mapping[str, str]) -> None:
    """Make the formation hold exactly the process types of the release going live.

    New types start at zero dynos, except `web`, which starts at one, as on
    Heroku's first deploy. Existing types keep their quantity and size.
    """
    now = tx.clock.now()
    # The release phase runs once per release, never as a scaled process.
    process_types = {k: v for k, v in process_types.items() if k != "release"}
    existing = {r.type: r for r in _rows(tx, app)}
    for name, stale in existing.items():
        if name not in process_types:
            tx.session.delete(stale)
    for name, command in process_types.items():
        row = existing.get(name)
        if row is None:
            tx.session.add(
                FormationRow(
                    id=str(uuid.uuid4()),
                    app_id=app.id,
                    type=name,
                    command=command,
                    quantity=1 if name == "web" else 0,
                    size=tx.settings.default_dyno_size,
                    created_at=now,
                    updated_at=now,
                )
            )
        elif row.command != command:
            row.command = command
            row.updated_at = now


def _release_phase(tx: Tx, app: AppRow) -> views.Formation | None:
    """The release phase as Heroku lists it in the formation: never scaled (quantity 0),
    but there, which is how `heroku releases:retry` learns the app has one."""
    live = latest_live_release_row(tx, app.id)
    slug = tx.session.get(SlugRow, live.slug_id) if live and live.slug_id else None
    if slug is None or "release" not in slug.process_types:
        return None
    return views.Formation(
        id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"slipway:formation:{app.id}:release")),
        app_id=app.id,
        app_name=app.name,
        type="release",
        command=slug.process_types["release"],
        quantity=0,
        size=tx.settings.default_dyno_size,
        created_at=slug.created_at,
        updated_at=slug.created_at,
    )


def list_formation(tx: Tx, actor: views.Actor, app_ident: str) -> list[views.Formation]:
    app = find_app_row(tx, actor, app_ident)
    release = _release_phase(tx, app)
    return [formation_view(r, app) for r in _rows(tx, app)] + ([release] if release else [])


def get_formation(tx: Tx, actor: views.Actor, app_ident: str, ptype: str) -> views.Formation:
    app = find_app_row(tx, actor, app_ident)
    for row in _rows(tx, app):
        if row.type == ptype:
            return formation_view(row, app)
    release = _release_phase(tx, app) if ptype == "release" else None
    if release is not None:
        return release
    raise NotFound(f"Couldn't find that process type ({ptype}).", resource="formation")


def update_formation(
    tx: Tx, actor: views.Actor, app_ident: str, updates: Iterable[FormationUpdate]
) -> list[views.Formation]:
    """Apply all updates or none; returns the whole formation, as the CLI expects."""
    app = find_app_row(tx, actor, app_ident, lock=True)
    rows = {r.type: r for r in _rows(tx, app)}
    current = {t: FormationEntry(type=t, quantity=r.quantity, size=r.size) for t, r in rows.items()}
    planned = plan_formation(current, updates)
    total = sum((planned.get(t) or current[t]).quantity for t in current)
    limit = tx.settings.max_dynos_per_app
    if total > limit:
        raise InvalidParams(
            f"Cannot run {total} dynos for {app.name}; the limit is {limit} per app. "
            "Scale another process type down first."
        )
    now = tx.clock.now()
    scaled = []
    for ptype, entry in planned.items():
        row = rows[ptype]
        if (row.quantity, row.size) != (entry.quantity, entry.size):
            row.quantity, row.size, row.updated_at = entry.quantity, entry.size, now
        scaled.append(f"{ptype}@{entry.quantity}:{display_size(entry.size)}")
    if scaled:
        tx.log(app.id, f"Scaled to {' '.join(scaled)} by user {actor.email}")
        audit.record(tx, actor, "scale", f"Scaled to {' '.join(scaled)}", app=app)
        tx.emit(RuntimeChanged(app.id))
    tx.session.flush()
    return [formation_view(r, app) for r in rows.values()]
