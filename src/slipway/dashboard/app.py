"""The dashboard's ASGI application: its pages, each behind `web.door`, and its static files."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from slipway.dashboard import pages
from slipway.dashboard.sessions import CsrfTokens
from slipway.dashboard.web import Dashboard, Handler, door, make_templates, with_headers
from slipway.platform.deploys import Deployer
from slipway.platform.release_output import ReleaseOutputs
from slipway.platform.route_rules import DASHBOARD
from slipway.platform.tx import Platform

STATIC = Path(__file__).parent / "static"

# Every page and form: its rule's key in platform/route_rules.DASHBOARD, and its handler.
PAGES: dict[str, Handler] = {
    "GET /signin": pages.signin_page,
    "POST /signin": pages.signin_submit,
    "POST /signout": pages.signout,
    "GET /": pages.apps_page,
    "POST /apps": pages.create_app,
    "POST /transfers/{transfer}": pages.answer_transfer,
    "GET /apps/{app}": pages.overview,
    "GET /apps/{app}/resources": pages.resources,
    "POST /apps/{app}/formation": pages.update_formation_checked,
    "POST /apps/{app}/restart": pages.restart,
    "POST /apps/{app}/addons": pages.add_addon,
    "POST /apps/{app}/addons/remove": pages.remove_addon,
    "GET /apps/{app}/deploy": pages.deploy,
    "GET /apps/{app}/builds/{build}/output": pages.build_output,
    "GET /apps/{app}/metrics": pages.metrics_page,
    "GET /apps/{app}/metrics.json": pages.metrics_json,
    "GET /apps/{app}/activity": pages.activity,
    "POST /apps/{app}/rollback": pages.rollback,
    "GET /apps/{app}/releases/{version}/output": pages.release_output,
    "GET /apps/{app}/access": pages.access_page,
    "POST /apps/{app}/collaborators": pages.add_collaborator,
    "POST /apps/{app}/collaborators/remove": pages.remove_collaborator,
    "GET /apps/{app}/settings": pages.settings_page,
    "GET /apps/{app}/config.json": pages.config_json,
    "POST /apps/{app}/config": pages.update_config,
    "POST /apps/{app}/maintenance": pages.maintenance,
    "POST /apps/{app}/rename": pages.rename,
    "POST /apps/{app}/domains": pages.add_domain,
    "POST /apps/{app}/domains/remove": pages.remove_domain,
    "POST /apps/{app}/transfer": pages.transfer,
    "POST /apps/{app}/delete": pages.delete,
    "GET /apps/{app}/logs": pages.logs_page,
    "GET /apps/{app}/logs/stream": pages.logs_stream,
}


class _Static(StaticFiles):
    async def get_response(self, path: str, scope: dict) -> Response:  # type: ignore[override,type-arg]
        response = await super().get_response(path, scope)
        # Kept, but checked again (ETag) each time: an upgrade's new files are used at once.
        response.headers["Cache-Control"] = "no-cache"
        return with_headers(response)


def create_dashboard(
    platform: Platform,
    secret: bytes,
    *,
    deployer: Deployer | None = None,
    release_outputs: ReleaseOutputs | None = None,
    api_url: str = "",
) -> Starlette:
    missing = set(DASHBOARD) ^ set(PAGES)
    if missing:
        raise LookupError(f"dashboard pages and their rules differ: {sorted(missing)}")
    dash = Dashboard(
        platform,
        CsrfTokens(secret),
        make_templates(),
        deployer=deployer,
        release_outputs=release_outputs,
        api_url=api_url,
    )
    routes: list[Route | Mount] = []
    for key, handler in PAGES.items():
        method, _, path = key.partition(" ")
        routes.append(Route(path, door(dash, key, handler), methods=[method]))
    routes.append(Mount("/static", app=_Static(directory=STATIC), name="static"))
    app = Starlette(routes=routes)
    app.state.dashboard = dash
    return app
