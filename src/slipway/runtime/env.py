"""A dyno's environment and launch command (pure).

Heroku's order: config vars, then the dyno's own variables (PORT, DYNO, ...),
then `.profile.d/*.sh` and `.profile` are sourced by bash, then the process
type's command runs under bash.
"""

from __future__ import annotations

from collections.abc import Mapping

from slipway.runtime.specs import AppSpec, ReleaseSpec

DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"

# Sourced before the command, as Heroku's dyno boot does. The command runs through a
# second `bash -c` started with exec: for a simple command bash execs the program
# itself, so the app is the dyno's main process and receives SIGTERM directly.
LAUNCH_SCRIPT = (
    'cd "$HOME"; '
    'for f in "$HOME"/.profile.d/*.sh; do [ -r "$f" ] && . "$f"; done; '
    '[ -r "$HOME/.profile" ] && . "$HOME/.profile"; '
    'exec bash -c "$1"'
)


def launch_argv(command: str) -> list[str]:
    """bash sources the profile scripts from $HOME (the app directory), then runs the command."""
    return ["/bin/bash", "-c", LAUNCH_SCRIPT, "dyno", command]


def dyno_env(
    app: AppSpec,
    release: ReleaseSpec,
    dyno_name: str,
    dyno_id: str,
    *,
    port: int | None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    # C.UTF-8 exists on every Debian system; en_US.UTF-8 (Heroku's) often is not generated.
    env: dict[str, str] = {"PATH": DEFAULT_PATH, "LANG": "C.UTF-8"}
    env.update(release.config)
    env.update({"DYNO": dyno_name, "HOME": "/app"})
    if app.dyno_metadata:
        env.update(dyno_metadata(app, release, dyno_id))
    if release.commit:
        env["SOURCE_VERSION"] = release.commit
    if port is not None:
        env["PORT"] = str(port)
    if extra:
        env.update(extra)
    return env


def dyno_metadata(app: AppSpec, release: ReleaseSpec, dyno_id: str) -> dict[str, str]:
    """Heroku's runtime-dyno-metadata variables (the labs feature, on unless switched off)."""
    meta = {
        "HEROKU_APP_ID": app.app_id,
        "HEROKU_APP_NAME": app.app_name,
        "HEROKU_DYNO_ID": dyno_id,
        "HEROKU_RELEASE_VERSION": f"v{release.version}",
        "HEROKU_RELEASE_CREATED_AT": release.created_at,
        "HEROKU_SLUG_DESCRIPTION": release.description,
    }
    if app.web_host:
        meta["HEROKU_APP_DEFAULT_DOMAIN_NAME"] = app.web_host
    if release.commit:
        meta["HEROKU_SLUG_COMMIT"] = release.commit
    return meta
