"""The dashboard's pages and forms, one handler each, modelled on Heroku's dashboard.

Each handler runs in a worker thread behind `web.door` and calls platform use cases
only; a write is one use case (one transaction), then a redirect back to the page
with a one-sentence notice. A page's live regions (`?part=NAME`) are the same
templates the page includes, fetched again by `static/dashboard.js`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import JSONResponse, Response, StreamingResponse

from slipway.dashboard.sessions import (
    PRESESSION_COOKIE,
    SESSION_COOKIE,
    SESSION_SECONDS,
    clear_cookie,
    new_presession,
    set_cookie,
)
from slipway.dashboard.web import Page
from slipway.platform import (
    apps,
    authorizations,
    builds,
    collaborators,
    domains,
    dynos,
    formations,
    log_sessions,
    releases,
    signin,
    summaries,
    teams,
    transfers,
)
from slipway.platform.addons import catalogue, provisioning, records
from slipway.platform.errors import InvalidParams, NotFound, PlatformError, Unauthorized
from slipway.platform.formation_rules import DYNO_SIZES, FormationUpdate, display_size
from slipway.platform.metrics import queries as metric_queries
from slipway.platform.permissions import ACCOUNT_WRITE, CONFIG_READ, role_permissions

STALE_FORMATION = (
    "Someone else changed the formation while you had this page open; "
    "nothing was changed: look at the new values and try again."
)


def _safe_next(target: str) -> str:
    """Only a path on this host: a sign-in link cannot send the person elsewhere."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


# -- signing in and out -----------------------------------------------------------------


def signin_page(page: Page) -> Response:
    csrf = page.csrf_token or new_presession()
    page.csrf_token = csrf
    response: Response = page.render(
        "signin.html",
        next=_safe_next(page.query("next", "/")),
        error=page.query("m"),
        email="",
    )
    set_cookie(page.request, response, PRESESSION_COOKIE, csrf, 3600)
    return response


def signin_submit(page: Page) -> Response:
    form = page.form
    target = _safe_next(form.get("next", "/"))
    email = form.get("email", "")
    if not page.csrf_token or form.get("csrf") != page.csrf_token:
        page.csrf_token = new_presession()
        refused: Response = page.render(
            "signin.html",
            403,
            next=target,
            error="This form is missing its security token; reload the page and try again.",
            email=email,
        )
        set_cookie(page.request, refused, PRESESSION_COOKIE, page.csrf_token, 3600)
        return refused
    request = page.request
    try:
        actor = signin.sign_in(
            page.platform,
            email,
            form.get("password", ""),
            address=request.client.host if request.client else None,
            need=ACCOUNT_WRITE,
        )
        with page.platform.tx() as tx:
            made = authorizations.create_authorization(
                tx,
                actor,
                description="Dashboard session",
                scope=["global"],
                expires_in=SESSION_SECONDS,
            )
    except PlatformError as exc:
        status = 429 if exc.id == "rate_limit" else 401
        return page.render("signin.html", status, next=target, error=exc.message, email=email)
    response = page.redirect(target)
    set_cookie(request, response, SESSION_COOKIE, made.token, SESSION_SECONDS)
    clear_cookie(request, response, PRESESSION_COOKIE)
    return response


def signout(page: Page) -> Response:
    actor = page.me
    assert actor.authorization_id is not None
    try:
        with page.platform.tx() as tx:
            authorizations.revoke_authorization(tx, actor, actor.authorization_id)
    except (NotFound, Unauthorized):
        pass
    response = page.redirect("/signin")
    clear_cookie(page.request, response, SESSION_COOKIE)
    return response


# -- apps -------------------------------------------------------------------------------


def _apps(page: Page, status: int = 200, error: str = "") -> Response:
    with page.platform.tx() as tx:
        listed = summaries.app_summaries(tx, page.me)
        if page.part() == "apps":
            return page.render("parts/apps.html", apps=listed)
        owners = [t.name for t in teams.list_teams(tx, page.me) if t.role in ("admin", "member")]
        offered = [t for t in transfers.list_transfers(tx, page.me) if t.recipient.id == page.me.id]
    return page.render(
        "apps.html",
        status,
        apps=listed,
        owners=owners,
        transfers=offered,
        title="Apps",
        error=error,
    )


def apps_page(page: Page) -> Response:
    return _apps(page)


def create_app(page: Page) -> Response:
    """A personal app, or one of a team the person may create apps in (`owner`)."""
    name = page.form.get("name", "").strip() or None
    owner = page.form.get("owner", "")
    try:
        with page.platform.tx() as tx:
            if owner:
                made = teams.create_team_app(tx, page.me, owner, name)
            else:
                made = apps.create_app(tx, page.me, name=name)
    except PlatformError as exc:
        return _apps(page, 422, exc.message)
    return page.redirect(f"/apps/{made.name}", f"Created {made.name}.")


def answer_transfer(page: Page) -> Response:
    """Accept or decline an app someone offered to the person."""
    answer = page.form.get("answer", "")
    if answer not in ("accepted", "declined"):
        return _apps(page, 422, "Accept or decline the transfer.")
    ident = str(page.request.path_params["transfer"])
    try:
        with page.platform.tx() as tx:
            done = transfers.answer_transfer(tx, page.me, ident, answer)
    except PlatformError as exc:
        return _apps(page, 422, exc.message)
    if answer == "accepted":
        return page.redirect(f"/apps/{done.app_name}", f"{done.app_name} is yours now.")
    return page.redirect("/", f"Declined {done.app_name}.")


def _app_context(page: Page) -> dict[str, Any]:
    with page.platform.tx() as tx:
        app = apps.get_app(tx, page.me, page.app)
        can = summaries.abilities(tx, page.me, page.app)
    return {"app": app, "can": can, "title": app.name}


def _dynos(page: Page) -> list[dynos.DynoView]:
    try:
        with page.platform.tx() as tx:
            return dynos.list_dynos(tx, page.me, page.app)
    except PlatformError:
        return []


def overview(page: Page) -> Response:
    ctx = _app_context(page)
    with page.platform.tx() as tx:
        formation = formations.list_formation(tx, page.me, page.app)
        addons = records.list_addons(tx, page.me, page.app)
        activity = summaries.release_page(tx, page.me, page.app, limit=5)
        people = collaborators.list_collaborators(tx, page.me, page.app)
    running = _dynos(page)
    if page.part() == "glance":
        return page.render(
            "parts/glance.html", formation=formation, dynos=running, activity=activity, **ctx
        )
    return page.render(
        "overview.html",
        formation=formation,
        dynos=running,
        addons=addons,
        activity=activity,
        people=people,
        section="overview",
        **ctx,
    )


def _resources(page: Page, status: int = 200, error: str = "") -> Response:
    ctx = _app_context(page)
    with page.platform.tx() as tx:
        formation = formations.list_formation(tx, page.me, page.app)
        addons = records.list_addons(tx, page.me, page.app)
        limit = tx.settings.max_dynos_per_app
    running = _dynos(page)
    if page.part() == "dynos":
        return page.render("parts/dynos.html", dynos=running, **ctx)
    plans = []
    if "addons" in ctx["can"]:
        for service in catalogue.list_services(page.platform):
            plans += [p.name for p in catalogue.list_plans(page.platform, service.name)]
    return page.render(
        "resources.html",
        status,
        formation=[f for f in formation if f.type != "release"],
        fingerprint=summaries.formation_fingerprint(formation),
        dynos=running,
        addons=addons,
        plans=plans,
        sizes=[display_size(s.name) for s in DYNO_SIZES],
        limit=limit,
        error=error,
        section="resources",
        **ctx,
    )


def resources(page: Page) -> Response:
    return _resources(page)


def update_formation(page: Page) -> Response:
    form = page.form
    with page.platform.tx() as tx:
        current = formations.list_formation(tx, page.me, page.app)
        if summaries.formation_fingerprint(current) != form.get("seen"):
            raise _Stale
        updates = []
        for f in current:
            quantity = form.get(f"quantity-{f.type}")
            size = form.get(f"size-{f.type}")
            if quantity is None and size is None:
                continue
            if quantity is not None and not quantity.isdigit():
                raise InvalidParams(f"The quantity of {f.type} must be a whole number.")
            q = int(quantity) if quantity is not None else f.quantity
            if q != f.quantity or (size and size.lower() != f.size.lower()):
                updates.append(FormationUpdate(f.type, q, size or None))
        if updates:
            formations.update_formation(tx, page.me, page.app, updates)
    if not updates:
        return page.redirect(f"/apps/{page.app}/resources", "Nothing to change.")
    changed = ", ".join(f"{u.type} to {u.quantity}" for u in updates)
    return page.redirect(f"/apps/{page.app}/resources", f"Scaled {changed}.")


class _Stale(Exception):
    pass


def update_formation_checked(page: Page) -> Response:
    try:
        return update_formation(page)
    except _Stale:
        return _resources(page, 409, STALE_FORMATION)
    except InvalidParams as exc:
        return _resources(page, 422, exc.message)


def restart(page: Page) -> Response:
    """Restart all dynos, or one (`dyno`), as Heroku's Resources menu does."""
    name = page.form.get("dyno") or None
    with page.platform.tx() as tx:
        dynos.restart(tx, page.me, page.app, name=name)
    return page.redirect(
        f"/apps/{page.app}/resources", f"Restarting {name}." if name else "Restarting all dynos."
    )


def add_addon(page: Page) -> Response:
    plan = page.form.get("plan", "")
    try:
        made = provisioning.create_addon(page.platform, page.me, page.app, plan=plan)
    except PlatformError as exc:
        return _resources(page, 422, exc.message)
    return page.redirect(f"/apps/{page.app}/resources", f"Added {made.name}.")


def remove_addon(page: Page) -> Response:
    name = page.form.get("addon", "")
    try:
        provisioning.destroy_addon(page.platform, page.me, page.app, name, force=False)
    except PlatformError as exc:
        return _resources(page, 422, exc.message)
    return page.redirect(f"/apps/{page.app}/resources", f"Removed {name}.")


# -- deploy -----------------------------------------------------------------------------


def deploy(page: Page) -> Response:
    ctx = _app_context(page)
    with page.platform.tx() as tx:
        recent = list(reversed(builds.list_builds(tx, page.me, page.app)))[:20]
    if page.part() == "builds":
        return page.render("parts/builds.html", builds=recent, **ctx)
    return page.render(
        "deploy.html",
        builds=recent,
        shown=page.query("build") or (recent[0].id if recent else ""),
        section="deploy",
        **ctx,
    )


def build_output(page: Page) -> Response:
    build_id = str(page.request.path_params["build"])
    with page.platform.tx() as tx:
        builds.get_build(tx, page.me, page.app, build_id)
    deployer = page.dash.deployer
    if deployer is None:
        return Response("This server keeps no build output.\n", 404, media_type="text/plain")
    path = deployer.output_path(build_id)
    grant = deployer.output_grant(build_id, page.me.authorization_id)
    platform = page.platform

    def finished() -> bool:
        with platform.tx() as tx:
            return builds.build_status(tx, build_id) != "pending"

    async def stream() -> AsyncIterator[bytes]:
        offset = 0
        while True:
            if grant is None or not await asyncio.to_thread(grant.still_valid):
                return
            done = await asyncio.to_thread(finished)
            if path.exists():
                with path.open("rb") as fh:
                    fh.seek(offset)
                    chunk = fh.read()
                offset += len(chunk)
                if chunk:
                    yield chunk
            if done:
                return
            await asyncio.sleep(0.2)

    return StreamingResponse(
        stream(), media_type="text/plain; charset=utf-8", headers={"X-Accel-Buffering": "no"}
    )


# -- metrics ----------------------------------------------------------------------------


def metrics_page(page: Page) -> Response:
    ctx = _app_context(page)
    return page.render("metrics.html", section="metrics", **ctx)


def metrics_json(page: Page) -> Response:
    minutes = page.query("minutes", "60")
    resolution = page.query("resolution", "1m")
    data = metric_queries.app_metrics(
        page.platform,
        page.me,
        page.app,
        minutes=int(minutes) if minutes.isdigit() else 60,
        resolution=resolution,
    )
    return JSONResponse(data)


# -- activity ---------------------------------------------------------------------------


def activity(page: Page) -> Response:
    ctx = _app_context(page)
    before = page.query("before")
    with page.platform.tx() as tx:
        listed = summaries.release_page(
            tx, page.me, page.app, before=int(before) if before.isdigit() else None
        )
    if page.part() == "releases":
        return page.render("parts/releases.html", activity=listed, **ctx)
    return page.render("activity.html", activity=listed, section="activity", **ctx)


def rollback(page: Page) -> Response:
    target = page.form.get("version", "")
    with page.platform.tx() as tx:
        made = releases.rollback(tx, page.me, page.app, target)
    return page.redirect(
        f"/apps/{page.app}/activity", f"Rolled back to v{target}: this is v{made.version}."
    )


RELEASE_OUTPUT_WAIT = 120.0


def release_output(page: Page) -> Response:
    """The release phase's output as plain text, followed until the phase ends."""
    version = str(page.request.path_params["version"])
    with page.platform.tx() as tx:
        release = releases.get_release(tx, page.me, page.app, version)
    outputs = page.dash.release_outputs
    if outputs is None or not release.release_phase:
        return Response(f"v{release.version} ran no release phase.\n", 404, media_type="text/plain")
    path = outputs.path(release.app_id, release.version)

    async def stream() -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RELEASE_OUTPUT_WAIT
        offset = 0
        while True:
            ended = outputs.ended(release.app_id, release.version)
            if path.exists():
                with path.open("rb") as fh:
                    fh.seek(offset)
                    chunk = fh.read()
                offset += len(chunk)
                if chunk:
                    yield chunk
            if ended or loop.time() > deadline:
                return
            await asyncio.sleep(0.2)

    return StreamingResponse(stream(), media_type="text/plain; charset=utf-8")


# -- access -----------------------------------------------------------------------------


def access_page(page: Page, status: int = 200, error: str = "") -> Response:
    ctx = _app_context(page)
    team = ctx["app"].team
    with page.platform.tx() as tx:
        people = collaborators.list_collaborators(tx, page.me, page.app)
        members = [
            (m, sorted(p.value for p in role_permissions(m.role)))
            for m in (teams.list_members(tx, page.me, team.name) if team else [])
        ]
    return page.render(
        "access.html",
        status,
        people=people,
        members=members,
        error=error,
        section="access",
        **ctx,
    )


def add_collaborator(page: Page) -> Response:
    email = page.form.get("email", "").strip()
    try:
        with page.platform.tx() as tx:
            collaborators.add_collaborator(tx, page.me, page.app, email)
    except PlatformError as exc:
        return access_page(page, 422, exc.message)
    return page.redirect(f"/apps/{page.app}/access", f"Added {email}.")


def remove_collaborator(page: Page) -> Response:
    email = page.form.get("email", "").strip()
    try:
        with page.platform.tx() as tx:
            collaborators.remove_collaborator(tx, page.me, page.app, email)
    except PlatformError as exc:
        return access_page(page, 422, exc.message)
    if email.lower() == page.me.email:
        return page.redirect("/", f"You left {page.app}.")
    return page.redirect(f"/apps/{page.app}/access", f"Removed {email}.")


# -- settings ---------------------------------------------------------------------------


def settings(page: Page, status: int = 200, error: str = "") -> Response:
    ctx = _app_context(page)
    with page.platform.tx() as tx:
        keys = (
            sorted(releases.get_config(tx, page.me.needing(CONFIG_READ), page.app))
            if "config_read" in ctx["can"]
            else []
        )
        hosts = domains.list_domains(tx, page.me, page.app)
    return page.render(
        "settings.html",
        status,
        keys=keys,
        domains=[(d, summaries.certificate_status(d)) for d in hosts],
        error=error,
        section="settings",
        **ctx,
    )


def settings_page(page: Page) -> Response:
    return settings(page)


def config_json(page: Page) -> Response:
    """The values, revealed on request (the page shows only the names until asked)."""
    with page.platform.tx() as tx:
        values = releases.get_config(tx, page.me, page.app)
    return JSONResponse(values)


def update_config(page: Page) -> Response:
    form = page.form
    key = form.get("key", "").strip()
    if form.get("action") == "remove":
        changes: dict[str, str | None] = {key: None}
        done = f"Removed {key}."
    else:
        # A textarea sends CRLF line breaks; the value the person typed has LF ones.
        changes = {key: form.get("value", "").replace("\r\n", "\n")}
        done = f"Set {key}."
    try:
        with page.platform.tx() as tx:
            releases.update_config(tx, page.me, page.app, changes)
    except PlatformError as exc:
        return settings(page, 422, exc.message)
    return page.redirect(f"/apps/{page.app}/settings", done)


def maintenance(page: Page) -> Response:
    on = page.form.get("maintenance") == "on"
    with page.platform.tx() as tx:
        apps.update_app(tx, page.me, page.app, maintenance=on)
    state = "on" if on else "off"
    return page.redirect(f"/apps/{page.app}/settings", f"Maintenance mode is {state}.")


def rename(page: Page) -> Response:
    name = page.form.get("name", "").strip()
    try:
        with page.platform.tx() as tx:
            app = apps.update_app(tx, page.me, page.app, name=name)
    except PlatformError as exc:
        return settings(page, 422, exc.message)
    return page.redirect(f"/apps/{app.name}/settings", f"Renamed to {app.name}.")


def add_domain(page: Page) -> Response:
    hostname = page.form.get("hostname", "").strip()
    try:
        with page.platform.tx() as tx:
            domains.add_domain(tx, page.me, page.app, hostname)
    except PlatformError as exc:
        return settings(page, 422, exc.message)
    return page.redirect(f"/apps/{page.app}/settings", f"Added {hostname}.")


def remove_domain(page: Page) -> Response:
    hostname = page.form.get("hostname", "").strip()
    with page.platform.tx() as tx:
        domains.remove_domain(tx, page.me, page.app, hostname)
    return page.redirect(f"/apps/{page.app}/settings", f"Removed {hostname}.")


def transfer(page: Page) -> Response:
    recipient = page.form.get("recipient", "").strip()
    try:
        with page.platform.tx() as tx:
            transfers.request_transfer(tx, page.me, page.app, recipient)
    except PlatformError as exc:
        return settings(page, 422, exc.message)
    return page.redirect(f"/apps/{page.app}/settings", f"Asked {recipient} to accept {page.app}.")


def delete(page: Page) -> Response:
    if page.form.get("confirm", "").strip() != page.app:
        return settings(
            page, 422, f"Type the app's name, {page.app}, to delete it; nothing was deleted."
        )
    platform = page.platform
    provisioning.destroy_app_addons(platform, page.me, page.app)
    with platform.tx() as tx:
        build_ids = builds.build_ids_of(tx, apps.get_app(tx, page.me, page.app).id)
        gone = apps.delete_app(tx, page.me, page.app)
    deployer = page.dash.deployer
    if deployer is not None:
        deployer.forget_app(gone.id, build_ids)
    if page.dash.release_outputs is not None:
        page.dash.release_outputs.forget_app(gone.id)
    return page.redirect("/", f"Deleted {gone.name}.")


# -- logs -------------------------------------------------------------------------------


def logs_page(page: Page) -> Response:
    ctx = _app_context(page)
    running = _dynos(page)
    types = sorted({d.info.type for d in running})
    return page.render(
        "logs.html",
        types=types,
        dyno_names=sorted(d.info.name for d in running),
        section="logs",
        **ctx,
    )


KEEPALIVE_SECONDS = 10.0


def logs_stream(page: Page) -> Response:
    source = page.query("source") or None
    dyno = page.query("dyno") or page.query("type") or None
    with page.platform.tx() as tx:
        session = log_sessions.create_log_session(
            tx, page.me, page.app, lines=100, tail=True, source=source, dyno=dyno
        )
    platform = page.platform

    async def stream() -> AsyncIterator[bytes]:
        yield b"retry: 1000\n\n"
        try:
            logs = log_sessions.open_log_stream(platform, session.token)
        except PlatformError as exc:
            yield _event("notice", exc.message)
            return
        try:
            backlog = logs.backlog()
            if backlog:
                yield _lines(backlog)
            while True:
                try:
                    fresh = await logs.next_batch(KEEPALIVE_SECONDS)
                except log_sessions.AccessEnded:
                    yield _event("notice", "Your access to this app's logs ended.")
                    return
                yield _lines(fresh) if fresh else b": keep-alive\n\n"
        finally:
            logs.close()

    return StreamingResponse(
        stream(),
        media_type="text/event-stream; charset=utf-8",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _event(kind: str, message: str) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(message)}\n\n".encode()


def _lines(lines: Any) -> bytes:
    data = "".join(f"data: {line.format()}\n" for line in lines)
    return f"id: {lines[-1].seq}\n{data}\n".encode()
