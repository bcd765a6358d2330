"""What the dashboard's pages show, each read in a few queries (not one per app or release).

The dashboard (`slipway.dashboard`) calls these and the ordinary use cases; like
every use case they check access through `platform.access`, so a page shows only
what its person may see. `abilities` says which write controls to offer.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Mapping

from sqlalchemy import func, select

from slipway.platform import access, views
from slipway.platform.acm.plan import FAILED, FAILING, ISSUED, PENDING
from slipway.platform.apps import find_app_row
from slipway.platform.permissions import (
    APP_SETTINGS,
    CONFIG_READ,
    CONFIG_WRITE,
    DEPLOY,
    DEPLOY_OR_OPERATE,
    MANAGE,
    OPERATE,
    OWNER,
    Need,
)
from slipway.platform.releases import release_view
from slipway.platform.tx import Tx
from slipway.runtime.errors import DynoError
from slipway.store.models import AccountRow, AppRow, BuildRow, FormationRow, ReleaseRow, TeamRow

# What a control on a page needs, named as the page's templates name it.
ABILITY_NEEDS: Mapping[str, Need] = {
    "deploy": DEPLOY,
    "scale": OPERATE,
    "addons": DEPLOY_OR_OPERATE,
    "rollback": DEPLOY_OR_OPERATE,
    "config_read": CONFIG_READ,
    "config_write": CONFIG_WRITE,
    "maintenance": APP_SETTINGS,
    "domains": MANAGE,
    "rename": MANAGE,
    "owner": OWNER,
}


def abilities(tx: Tx, actor: views.Actor, app_ident: str) -> frozenset[str]:
    """The names of ABILITY_NEEDS the actor may do to the app (it must at least view it)."""
    row = find_app_row(tx, actor, app_ident)
    return frozenset(name for name, n in ABILITY_NEEDS.items() if access.can(tx, actor, row, n))


@dataclasses.dataclass(frozen=True)
class AppSummary:
    """One line of the apps page."""

    id: str
    name: str
    team: str | None
    owner_email: str
    maintenance: bool
    release_version: int | None
    release_description: str | None
    released_at: dt.datetime | None
    web_quantity: int
    web_states: tuple[str, ...]  # each web dyno's state, as the runtime has it


def app_summaries(tx: Tx, actor: views.Actor) -> list[AppSummary]:
    """Every app the actor can view, by name, in a fixed number of queries."""
    ids = access.visible_app_ids(tx, actor.id)
    if not ids:
        return []
    rows = tx.session.execute(
        select(AppRow, TeamRow.name, AccountRow.email)
        .outerjoin(TeamRow, TeamRow.id == AppRow.team_id)
        .join(AccountRow, AccountRow.id == AppRow.owner_id)
        .where(AppRow.id.in_(ids))
        .order_by(AppRow.name)
    ).all()
    newest = (
        select(ReleaseRow.app_id, func.max(ReleaseRow.version).label("version"))
        .where(ReleaseRow.app_id.in_(ids), ReleaseRow.status == "succeeded")
        .group_by(ReleaseRow.app_id)
        .subquery()
    )
    releases = {
        r.app_id: r
        for r in tx.session.execute(
            select(ReleaseRow.app_id, ReleaseRow.version, ReleaseRow.description).join(
                newest,
                (newest.c.app_id == ReleaseRow.app_id) & (newest.c.version == ReleaseRow.version),
            )
        ).all()
    }
    web = dict(
        tx.session.execute(
            select(FormationRow.app_id, FormationRow.quantity).where(
                FormationRow.app_id.in_(ids), FormationRow.type == "web"
            )
        ).all()
    )
    runtime = tx.ports.dyno_runtime
    result = []
    for app, team, owner_email in rows:
        states: tuple[str, ...] = ()
        if runtime is not None:
            try:
                states = tuple(d.state for d in runtime.dynos(app.id) if d.type == "web")
            except DynoError:
                states = ()
        release = releases.get(app.id)
        result.append(
            AppSummary(
                id=app.id,
                name=app.name,
                team=team,
                owner_email=owner_email,
                maintenance=app.maintenance,
                release_version=release.version if release else None,
                release_description=release.description if release else None,
                released_at=app.released_at,
                web_quantity=int(web.get(app.id, 0)),
                web_states=states,
            )
        )
    return result


@dataclasses.dataclass(frozen=True)
class ReleasePage:
    releases: list[views.Release]
    build_of: dict[str, str]  # release id -> the build that made it
    # release id -> the config var names it changed from the release before (names only).
    changed: dict[str, list[str]]
    older: int | None  # the version to ask for next (`before`), when there are more


def release_page(
    tx: Tx, actor: views.Actor, app_ident: str, *, limit: int = 50, before: int | None = None
) -> ReleasePage:
    """The newest `limit` releases below version `before` (all of them, page by page)."""
    app = find_app_row(tx, actor, app_ident)
    current = tx.session.scalar(
        select(func.max(ReleaseRow.version)).where(
            ReleaseRow.app_id == app.id, ReleaseRow.status == "succeeded"
        )
    )
    query = select(ReleaseRow).where(ReleaseRow.app_id == app.id)
    if before is not None:
        query = query.where(ReleaseRow.version < before)
    fetched = list(tx.session.scalars(query.order_by(ReleaseRow.version.desc()).limit(limit + 1)))
    more = len(fetched) > limit
    rows = fetched[:limit]
    changed = {}
    for i, row in enumerate(rows):
        previous: dict[str, str] = fetched[i + 1].config if i + 1 < len(fetched) else {}
        now: dict[str, str] = row.config or {}
        changed[row.id] = sorted(
            k for k in set(previous) | set(now) if previous.get(k) != now.get(k)
        )
    ids = [r.id for r in rows]
    build_of = {
        release_id: build_id
        for build_id, release_id in tx.session.execute(
            select(BuildRow.id, BuildRow.release_id).where(BuildRow.release_id.in_(ids))
        ).all()
        if release_id
    }
    return ReleasePage(
        [release_view(tx, r, app, current_version=current) for r in rows],
        build_of,
        changed,
        rows[-1].version if more and rows else None,
    )


def formation_fingerprint(formation: list[views.Formation]) -> str:
    """What a formation form was drawn from: a change by someone else changes it."""
    text = ",".join(
        f"{f.type}:{f.quantity}:{f.size}" for f in sorted(formation, key=lambda f: f.type)
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def certificate_status(domain: views.Domain) -> str:
    """What the Settings page says about a domain's HTTPS certificate: ACM's status
    (`acm_status`, and why it fails) where ACM looks after the host, else who made it."""
    status, reason = domain.acm_status, domain.acm_status_reason
    if domain.sni_endpoint and status is None:
        return f"HTTPS with the certificate {domain.sni_endpoint} added to this app"
    if status == ISSUED:
        return "HTTPS with a certificate from Automatic Certificate Management"
    if status == PENDING:
        return "A certificate is being requested from the certificate authority"
    if status in (FAILING, FAILED):
        return f"The certificate request is {status}: {reason or 'no reason was given'}"
    if status is not None:
        return f"Automatic Certificate Management: {status}"
    return "HTTPS with a certificate from the platform's CA, made by the router"
