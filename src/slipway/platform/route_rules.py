"""Every door's rule, in one table: what each API route and each other door needs.

A route is named `METHOD /path/{template}` exactly as the API declares it. The
API's one authorisation dependency (`api/deps.authorise_request`) looks the
matched route up here; a route with no line here is refused (and
`tests/api/test_route_permissions.py` fails), so adding a route means adding
its line. `docs/route-permissions.md` is generated from this table
(`python -m slipway.platform.route_rules > docs/route-permissions.md`).

Doors:
- `token(NEED)`: an authenticated request; its token's scope and the person's
  permissions on the app it touches must meet NEED (`platform/permissions.py`).
- `PUBLIC`: no credentials (the CA certificate, the schema, the login pages).
- `CAPABILITY`: the URL carries its own signed token, which the handler checks,
  and re-checks for as long as it streams (log streams, output, uploads).
- `INTERNAL`: the platform's own processes (the router, the git hook).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from slipway.platform.permissions import (
    ACCOUNT,
    ACCOUNT_WRITE,
    ADMIN,
    ADMIN_WRITE,
    APP_SETTINGS,
    CONFIG_READ,
    CONFIG_WRITE,
    DEPLOY,
    DEPLOY_OR_OPERATE,
    LEAVE,
    MANAGE,
    OPERATE,
    OWNER,
    RUN,
    SIGNED_IN,
    SIGNED_IN_WRITE,
    VIEW,
    Need,
    need,
)


class Door(enum.StrEnum):
    TOKEN = "token"
    PUBLIC = "public"
    CAPABILITY = "capability"
    INTERNAL = "internal"


@dataclass(frozen=True)
class Rule:
    door: Door
    need: Need = SIGNED_IN
    # Basic email:password is accepted too (POST /oauth/authorizations: `heroku login -i`).
    password: bool = False
    # A page a browser opens (addons:open): without credentials it is asked for them
    # (a 401 with WWW-Authenticate), so the browser shows its login prompt.
    prompt: bool = False

    def describe(self) -> str:
        if self.door is not Door.TOKEN:
            return self.door.value
        return self.need.describe() + (" (or email and password)" if self.password else "")


def token(n: Need, *, password: bool = False, prompt: bool = False) -> Rule:
    return Rule(Door.TOKEN, n, password, prompt)


PUBLIC = Rule(Door.PUBLIC)
CAPABILITY = Rule(Door.CAPABILITY)
INTERNAL = Rule(Door.INTERNAL)

# The doors that are not API routes.
GIT_FETCH = need(*DEPLOY.any_of, protected=True)
GIT_PUSH = DEPLOY
LOG_STREAM = VIEW
BUILD_OUTPUT = VIEW
RUN_ATTACH = RUN
# Issue 12's data API (pg:/redis:) and issue 16's dashboard add their lines below.

RULES: dict[str, Rule] = {
    # -- public, capabilities and the platform's own -------------------------------------
    "GET /schema": PUBLIC,
    "GET /tls/ca.crt": PUBLIC,
    "GET /tls/info": PUBLIC,
    "GET /buildpacks/{namespace}/{name}": PUBLIC,
    "POST /auth": PUBLIC,
    "GET /auth/cli/browser/{token}": PUBLIC,
    "POST /auth/cli/browser/{token}": PUBLIC,
    "GET /auth/cli/fetch/{token}": CAPABILITY,
    "GET /invitations/{token}": CAPABILITY,
    "POST /invitations/{token}": CAPABILITY,
    "POST /invitations/{token}/actions/accept": CAPABILITY,
    "GET /log-stream/{token}": CAPABILITY,
    "GET /build-output/{build_id}": CAPABILITY,
    "PUT /source-blobs/{source_id}": CAPABILITY,
    "GET /source-blobs/{source_id}": CAPABILITY,
    "POST /internal/pushes": INTERNAL,
    "GET /internal/router/routes": INTERNAL,
    "POST /internal/router/report": INTERNAL,
    "POST /internal/router/wake": INTERNAL,
    # -- the account, its tokens, and admins ---------------------------------------------
    "GET /account": token(SIGNED_IN),
    "PATCH /account": token(ACCOUNT_WRITE),
    "GET /account/rate-limits": token(SIGNED_IN),
    "GET /users/{ident}": token(SIGNED_IN),
    "GET /accounts/{account}/actions/get-quota": token(SIGNED_IN),
    "POST /accounts/{account}/actions/get-quota": token(SIGNED_IN),
    "POST /oauth/authorizations": token(ACCOUNT_WRITE, password=True),
    "GET /oauth/authorizations": token(ACCOUNT),
    "GET /oauth/authorizations/{ident}": token(ACCOUNT),
    "PATCH /oauth/authorizations/{ident}": token(ACCOUNT_WRITE),
    "DELETE /oauth/authorizations/{ident}": token(ACCOUNT_WRITE),
    "POST /oauth/authorizations/{ident}/actions/regenerate-tokens": token(ACCOUNT_WRITE),
    "DELETE /oauth/sessions/{ident}": token(SIGNED_IN),
    "GET /accounts": token(ADMIN),
    "POST /accounts": token(ADMIN_WRITE),
    "PATCH /accounts/{ident}": token(ADMIN_WRITE),
    "POST /invitations": token(SIGNED_IN_WRITE),
    "GET /audit-events": token(ADMIN),
    # -- apps ----------------------------------------------------------------------------
    "GET /apps": token(SIGNED_IN),
    "GET /users/{user}/apps": token(SIGNED_IN),
    "POST /apps": token(SIGNED_IN_WRITE),
    "GET /apps/{app}": token(VIEW),
    "PATCH /apps/{app}": token(APP_SETTINGS),
    "DELETE /apps/{app}": token(OWNER),
    "GET /apps/{app}/audit-events": token(VIEW),
    # -- access: collaborators, transfers ------------------------------------------------
    "GET /apps/{app}/collaborators": token(VIEW),
    "POST /apps/{app}/collaborators": token(OWNER),
    "GET /apps/{app}/collaborators/{user}": token(VIEW),
    "DELETE /apps/{app}/collaborators/{user}": token(LEAVE),
    "POST /account/app-transfers": token(SIGNED_IN_WRITE),
    "GET /account/app-transfers": token(SIGNED_IN),
    "GET /account/app-transfers/{ident}": token(SIGNED_IN),
    "PATCH /account/app-transfers/{ident}": token(SIGNED_IN_WRITE),
    "DELETE /account/app-transfers/{ident}": token(SIGNED_IN_WRITE),
    # -- teams ---------------------------------------------------------------------------
    "GET /teams": token(SIGNED_IN),
    "POST /teams": token(SIGNED_IN_WRITE),
    "GET /teams/permissions": token(SIGNED_IN),
    "GET /teams/{team}": token(SIGNED_IN),
    "GET /teams/{team}/features": token(SIGNED_IN),
    "GET /teams/{team}/members": token(SIGNED_IN),
    "PUT /teams/{team}/members": token(SIGNED_IN_WRITE),
    "PATCH /teams/{team}/members": token(SIGNED_IN_WRITE),
    "DELETE /teams/{team}/members/{user}": token(SIGNED_IN_WRITE),
    "GET /teams/{team}/invitations": token(SIGNED_IN),
    "PUT /teams/{team}/invitations": token(SIGNED_IN_WRITE),
    "DELETE /teams/{team}/invitations/{ident}": token(SIGNED_IN_WRITE),
    "GET /teams/{team}/apps": token(SIGNED_IN),
    "POST /teams/apps": token(SIGNED_IN_WRITE),
    "GET /teams/apps/{app}": token(VIEW),
    "PATCH /teams/apps/{app}": token(OWNER),
    "POST /teams/apps/{app}/collaborators": token(OWNER),
    "PATCH /teams/apps/{app}/collaborators/{user}": token(OWNER),
    # -- config, releases, slugs ---------------------------------------------------------
    "GET /apps/{app}/config-vars": token(CONFIG_READ),
    "PATCH /apps/{app}/config-vars": token(CONFIG_WRITE),
    "GET /apps/{app}/releases": token(VIEW),
    "GET /apps/{app}/releases/{release}": token(VIEW),
    "GET /apps/{app}/releases/{release}/config-vars": token(CONFIG_READ),
    "POST /apps/{app}/releases": token(DEPLOY_OR_OPERATE),
    "POST /apps/{app}/slugs": token(DEPLOY),
    "GET /apps/{app}/slugs/{slug}": token(VIEW),
    # -- builds --------------------------------------------------------------------------
    "GET /apps/{app}/builds": token(VIEW),
    "GET /apps/{app}/builds/{build_id}": token(VIEW),
    "POST /apps/{app}/builds": token(DEPLOY),
    "GET /apps/{app}/buildpack-installations": token(VIEW),
    "PUT /apps/{app}/buildpack-installations": token(DEPLOY),
    "POST /sources": token(SIGNED_IN_WRITE),
    # -- formation and dynos -------------------------------------------------------------
    "GET /apps/{app}/formation": token(VIEW),
    "PATCH /apps/{app}/formation": token(OPERATE),
    "GET /apps/{app}/formation/{ptype}": token(VIEW),
    "PATCH /apps/{app}/formation/{ptype}": token(OPERATE),
    "GET /apps/{app}/dynos": token(VIEW),
    "GET /apps/{app}/dynos/{dyno}": token(VIEW),
    "POST /apps/{app}/dynos": token(RUN),
    "DELETE /apps/{app}/dynos": token(OPERATE),
    "DELETE /apps/{app}/dynos/{dyno}": token(OPERATE),
    "DELETE /apps/{app}/formations/{ptype}": token(OPERATE),
    "POST /apps/{app}/dynos/{dyno}/actions/stop": token(OPERATE),
    "POST /apps/{app}/formations/{ptype}/actions/stop": token(OPERATE),
    # -- domains -------------------------------------------------------------------------
    "GET /apps/{app}/domains": token(VIEW),
    "GET /apps/{app}/domains/{ident}": token(VIEW),
    "POST /apps/{app}/domains": token(MANAGE),
    "PATCH /apps/{app}/domains/{ident}": token(MANAGE),
    "DELETE /apps/{app}/domains/{ident}": token(MANAGE),
    "GET /apps/{app}/sni-endpoints": token(VIEW),
    "GET /apps/{app}/sni-endpoints/{ident}": token(VIEW),
    "POST /apps/{app}/sni-endpoints": token(MANAGE),
    "DELETE /apps/{app}/sni-endpoints/{ident}": token(MANAGE),
    # Automatic Certificate Management: certs:auto:enable, :disable, :refresh.
    "POST /apps/{app}/acm": token(MANAGE),
    "DELETE /apps/{app}/acm": token(MANAGE),
    "PATCH /apps/{app}/acm": token(MANAGE),
    # -- logs ----------------------------------------------------------------------------
    "POST /apps/{app}/log-sessions": token(VIEW),
    # -- metrics (platform/metrics) ------------------------------------------------------
    "GET /apps/{app}/metrics": token(VIEW),
    # Prometheus text for the whole platform: an admin's token (Bearer or Basic).
    "GET /metrics": token(ADMIN),
    "GET /apps/{app}/log-drains": token(VIEW),
    "POST /apps/{app}/log-drains": token(OPERATE),
    "GET /apps/{app}/log-drains/{ident:path}": token(VIEW),
    "DELETE /apps/{app}/log-drains/{ident:path}": token(OPERATE),
    # -- add-ons -------------------------------------------------------------------------
    "GET /addon-services": token(SIGNED_IN),
    "GET /addon-services/{ident}": token(SIGNED_IN),
    "GET /addon-services/{ident}/plans": token(SIGNED_IN),
    "GET /addon-services/{ident}/plans/{plan}": token(SIGNED_IN),
    "GET /addons": token(SIGNED_IN),
    "GET /apps/{app}/addons": token(VIEW),
    "GET /addons/{ident}": token(VIEW),
    "GET /apps/{app}/addons/{ident}": token(VIEW),
    "POST /apps/{app}/addons": token(DEPLOY_OR_OPERATE),
    "DELETE /apps/{app}/addons/{ident}": token(DEPLOY_OR_OPERATE),
    "POST /actions/addons/resolve": token(VIEW),
    "GET /addon-attachments": token(SIGNED_IN),
    "GET /apps/{app}/addon-attachments": token(VIEW),
    "POST /addon-attachments": token(DEPLOY_OR_OPERATE),
    "DELETE /addon-attachments/{ident}": token(DEPLOY_OR_OPERATE),
    "GET /addons/{ident}/addon-attachments": token(VIEW),
    "GET /addons/{ident}/info": token(CONFIG_READ),
    "POST /addons/{ident}/actions/rotate-credentials": token(CONFIG_WRITE),
    "GET /addons/{ident}/backups": token(CONFIG_READ),
    "POST /addons/{ident}/backups": token(DEPLOY_OR_OPERATE),
    "POST /addons/{ident}/backups/{name}/actions/restore": token(CONFIG_WRITE),
    "GET /addons/{ident}/backups/{name}/download": token(CONFIG_READ),
    "PATCH /apps/{app}/addons/{ident}": token(DEPLOY_OR_OPERATE),
    "GET /addon-attachments/{ident}": token(VIEW),
    "GET /apps/{app}/addon-attachments/{ident}": token(VIEW),
    "POST /actions/addon-attachments/resolve": token(VIEW),
    "GET /addons/{ident}/config/{namespace}": token(CONFIG_READ),
    # addons:open's page and pg:backups:download's link: signed for one add-on or backup.
    "GET /addon-pages/{addon_id}": CAPABILITY,
    "GET /backup-downloads/{addon_id}/{name}": CAPABILITY,
    # Heroku's data API (pg:*, redis:*): what holds credentials or data needs config access.
    "GET /client/v11/databases/{ident}": token(VIEW),
    "GET /client/v11/databases/{ident}/wait_status": token(VIEW),
    "POST /client/v11/databases/{ident}/backups": token(DEPLOY_OR_OPERATE),
    "POST /client/v11/databases/{ident}/restores": token(CONFIG_WRITE),
    "PUT /client/v11/databases/{ident}/reset": token(CONFIG_WRITE),
    "GET /client/v11/apps/{app}/transfers": token(CONFIG_READ),
    "GET /client/v11/apps/{app}/transfers/{ident}": token(CONFIG_READ),
    "POST /client/v11/apps/{app}/transfers/{ident}/actions/public-url": token(CONFIG_READ),
    "GET /postgres/v0/databases/{ident}/credentials": token(CONFIG_READ),
    "GET /postgres/v0/databases/{ident}/credentials/{name}": token(CONFIG_READ),
    "POST /postgres/v0/databases/{ident}/credentials_rotation": token(CONFIG_WRITE),
    "POST /postgres/v0/databases/{ident}/credentials/{name}/credentials_rotation": token(
        CONFIG_WRITE
    ),
    "GET /redis/v0/databases/{ident}": token(CONFIG_READ),
    "GET /redis/v0/databases/{ident}/config": token(CONFIG_READ),
    "PATCH /redis/v0/databases/{ident}/config": token(CONFIG_WRITE),
    "GET /redis/v0/databases/{ident}/wait": token(VIEW),
    "POST /redis/v0/databases/{ident}/credentials_rotation": token(CONFIG_WRITE),
    # -- labs, stacks, regions ---------------------------------------------------------
    "GET /account/features": token(ACCOUNT),
    "GET /account/features/{name}": token(ACCOUNT),
    "PATCH /account/features/{name}": token(ACCOUNT_WRITE),
    "GET /apps/{app}/features": token(VIEW),
    "GET /apps/{app}/features/{name}": token(VIEW),
    "PATCH /apps/{app}/features/{name}": token(APP_SETTINGS),
    "GET /stacks": token(SIGNED_IN),
    "GET /stacks/{ident}": token(SIGNED_IN),
    "GET /regions": token(SIGNED_IN),
    "GET /regions/{ident}": token(SIGNED_IN),
    # app.json: the setup makes the app (as POST /apps does), then acts on it as its owner.
    "POST /app-setups": token(SIGNED_IN_WRITE),
    "GET /app-setups/{setup_id}": token(SIGNED_IN),
    # The release phase's output_stream_url: signed for the release.
    "GET /release-output/{release_id}": CAPABILITY,
    "GET /addons/{ident}/open": token(CONFIG_READ, prompt=True),
    "GET /addons/{ident}/messages": token(CONFIG_READ),
    "GET /addons/{ident}/messages/{message_id}": token(CONFIG_READ),
    "GET /client/v11/databases/{ident}/transfer-schedules": token(CONFIG_READ),
    "POST /client/v11/databases/{ident}/transfer-schedules": token(DEPLOY_OR_OPERATE),
    "DELETE /client/v11/databases/{ident}/transfer-schedules/{schedule_id}": token(
        DEPLOY_OR_OPERATE
    ),
    # Scheduler jobs run commands with the app's config vars, as `heroku run` does.
    "GET /apps/{app}/scheduler/jobs": token(VIEW),
    "POST /apps/{app}/scheduler/jobs": token(RUN),
    "DELETE /apps/{app}/scheduler/jobs/{ident}": token(RUN),
    "POST /apps/{app}/scheduler/jobs/{ident}/actions/run": token(RUN),
}


def rule_for(method: str, path: str) -> Rule | None:
    """The rule of `METHOD /path` (HEAD is a GET), or None when it has none."""
    return RULES.get(f"{'GET' if method == 'HEAD' else method} {path}")


def listing() -> str:
    """The table as Markdown: docs/route-permissions.md."""
    lines = [
        "# Who may use each route",
        "",
        "Generated from `src/slipway/platform/route_rules.py` by",
        "`python -m slipway.platform.route_rules`; `tests/api/test_route_permissions.py`",
        "fails when a route has no rule or this file is out of date.",
        "",
        "Needs: the permissions that suffice (any one of them); `owner`: the owner of a",
        "personal app, `manage` on a team app; `write`: not for read-only tokens;",
        "`protected`: reads secrets, not for read or write tokens (read-protected,",
        "write-protected and global ones only); `account`: a global token only.",
        "",
        "| route | door |",
        "| --- | --- |",
    ]
    lines += [f"| `{key}` | {rule.describe()} |" for key, rule in sorted(RULES.items(), key=_key)]
    others = [
        ("git fetch (`git-upload-pack`)", GIT_FETCH),
        ("git push (`git-receive-pack`)", GIT_PUSH),
        ("log stream (checked again while it is open)", LOG_STREAM),
        ("build output stream (checked again while it is open)", BUILD_OUTPUT),
        ("`heroku run` rendezvous", RUN_ATTACH),
    ]
    lines += ["", "## The dashboard", "", "| page or form | door |", "| --- | --- |"]
    lines += [
        f"| `{key}` | {rule.describe()} |" for key, rule in sorted(DASHBOARD.items(), key=_key)
    ]
    lines += ["", "| other door | needs |", "| --- | --- |"]
    lines += [f"| {name} | {n.describe()} |" for name, n in others]
    return "\n".join(lines) + "\n"


# The dashboard's pages and forms (`slipway.dashboard`), on `dashboard.<base domain>`:
# the session cookie is the token; an app the person may not see is a 404 page there.
DASHBOARD: dict[str, Rule] = {
    "GET /signin": PUBLIC,
    "POST /signin": PUBLIC,
    "POST /signout": token(SIGNED_IN),
    "GET /": token(SIGNED_IN),
    "POST /apps": token(SIGNED_IN_WRITE),
    "POST /transfers/{transfer}": token(SIGNED_IN_WRITE),
    "GET /apps/{app}": token(VIEW),
    "GET /apps/{app}/resources": token(VIEW),
    "POST /apps/{app}/formation": token(OPERATE),
    "POST /apps/{app}/restart": token(OPERATE),
    "POST /apps/{app}/addons": token(DEPLOY_OR_OPERATE),
    "POST /apps/{app}/addons/remove": token(DEPLOY_OR_OPERATE),
    "GET /apps/{app}/deploy": token(VIEW),
    "GET /apps/{app}/builds/{build}/output": token(BUILD_OUTPUT),
    "GET /apps/{app}/metrics": token(VIEW),
    "GET /apps/{app}/metrics.json": token(VIEW),
    "GET /apps/{app}/activity": token(VIEW),
    "POST /apps/{app}/rollback": token(DEPLOY_OR_OPERATE),
    "GET /apps/{app}/releases/{version}/output": token(BUILD_OUTPUT),
    "GET /apps/{app}/access": token(VIEW),
    "POST /apps/{app}/collaborators": token(OWNER),
    "POST /apps/{app}/collaborators/remove": token(LEAVE),
    "GET /apps/{app}/settings": token(VIEW),
    "GET /apps/{app}/config.json": token(CONFIG_READ),
    "POST /apps/{app}/config": token(CONFIG_WRITE),
    "POST /apps/{app}/maintenance": token(APP_SETTINGS),
    "POST /apps/{app}/rename": token(MANAGE),
    "POST /apps/{app}/domains": token(MANAGE),
    "POST /apps/{app}/domains/remove": token(MANAGE),
    "POST /apps/{app}/transfer": token(OWNER),
    "POST /apps/{app}/delete": token(OWNER),
    "GET /apps/{app}/logs": token(VIEW),
    "GET /apps/{app}/logs/stream": token(LOG_STREAM),
}


def _key(item: tuple[str, Rule]) -> tuple[str, str]:
    method, _, path = item[0].partition(" ")
    return path, method


if __name__ == "__main__":
    print(listing(), end="")
