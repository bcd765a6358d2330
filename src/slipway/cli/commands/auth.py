"""login, logout, auth:whoami, auth:token, servers, heroku-env, heroku."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import sys
from urllib.parse import urlsplit

import click
import httpx

from slipway.cli import git, netrc, output, servers
from slipway.cli.base import cli_context
from slipway.cli.client import ApiClient
from slipway.cli.context import CliContext
from slipway.cli.errors import CliError, NotLoggedIn, Unreachable

REDACTED = "*" * 10
# What `heroku login -i` asks for: thirty days.
LOGIN_SECONDS = 30 * 24 * 3600


def matches(local: str, listed: str) -> bool:
    """Whether a token from a list (redacted as Heroku's, `HRKU-AbCd**********wxyz`) is
    the one we hold; the official CLI's logout compares them the same way."""
    star = listed.find(REDACTED)
    if star == -1:
        return local == listed
    prefix, suffix = listed[:star], listed[star + len(REDACTED) :]
    return local.startswith(prefix) and (not suffix or local.endswith(suffix))


def _read_secret(prompt: str) -> str:
    if sys.stdin.isatty():
        return str(click.prompt(prompt, hide_input=True))
    return sys.stdin.readline()


@click.command("login")
@click.option("--api-key", default=None, help="An API key or token (default: read from stdin).")
@click.option("--email", "-e", default=None, help="Sign in with this email and a password.")
@click.option(
    "--expires-in", type=int, default=None, help="Seconds the new token lasts (with --email)."
)
@click.option("--api-url", default=None, help="The Slipway API (default: $SLIPWAY_API_URL).")
@click.option(
    "--default/--no-default",
    "make_default",
    default=True,
    help="Make this server the one later commands use (default: yes).",
)
def login(
    api_key: str | None,
    email: str | None,
    expires_in: int | None,
    api_url: str | None,
    make_default: bool,
) -> None:
    """Sign in with your email and password, or store a key, in ~/.netrc for this API.

    With --email the password is asked for (or read from standard input) and a
    new token is made, as `heroku login -i` does; otherwise the key is read. The
    server is remembered (~/.config/slipway/servers.json): later commands use it
    without --api-url, and `--no-default` keeps the current default."""
    ctx = cli_context()
    if api_url:
        ctx.api_url = api_url.rstrip("/")
    client = ApiClient(ctx.api_url, None, transport=ctx.transport)
    if email is None and api_key is None and sys.stdin.isatty():
        email = click.prompt(
            "Email (leave empty to paste an API key)", default="", show_default=False
        )
        email = email or None
    if email is not None:
        password = _read_secret("Password").rstrip("\n")
        if not password:
            raise CliError("No password given; type it, or pipe it on standard input.")
        made = client.sign_in(
            email,
            password,
            {
                "description": f"Slipway CLI login from {socket.gethostname()}",
                "expires_in": expires_in or LOGIN_SECONDS,
                "scope": ["global"],
            },
        )
        api_key = str(made["access_token"]["token"])
    if api_key is None:
        api_key = _read_secret("API key")
    api_key = (api_key or "").strip()
    if not api_key:
        raise CliError("No API key given; pass --api-key, --email, or pipe the key on stdin.")
    account = ApiClient(ctx.api_url, api_key, transport=ctx.transport).get("/account")
    path = netrc.write_entry(ctx.machine, account["email"], api_key)
    servers.remember(ctx.api_url, make_default=make_default)
    output.line(f"Logged in as {account['email']} (token saved in {path} for {ctx.machine})")
    if make_default:
        output.line(f"Commands now go to {ctx.api_url} (pass --api-url for another server).")


@click.command("logout")
def logout() -> None:
    """Revoke this login's token (never the account's API key) and forget it."""
    ctx = cli_context()
    token = netrc.read_password(ctx.machine)
    revoked = False
    if token:
        client = ApiClient(ctx.api_url, token, transport=ctx.transport)
        try:
            for auth in client.get("/oauth/authorizations"):
                listed = (auth.get("access_token") or {}).get("token") or ""
                if auth.get("kind") != "api-key" and listed and matches(token, listed):
                    client.delete(f"/oauth/authorizations/{auth['id']}")
                    revoked = True
        except (CliError, Unreachable):
            pass  # an expired or revoked token, or no server: forgetting it is enough
    removed = netrc.remove_entry(ctx.machine)
    servers.forget(ctx.api_url)
    if removed:
        output.line("Logged out" + (" (the token was revoked)" if revoked else ""))
    else:
        output.line(f"You were not logged in to {ctx.machine}")


@click.command("auth:whoami")
def whoami() -> None:
    """Show the email of the account you are logged in as."""
    output.line(cli_context().client().get("/account")["email"])


@click.command("auth:token")
def token() -> None:
    """Print the token in use (for scripts)."""
    key = cli_context().token()
    if not key:
        raise NotLoggedIn("You are not logged in; run `slipway login` first.")
    output.line(key)


@click.command("servers")
def servers_list() -> None:
    """The servers you logged in to; the default one is marked with *."""
    default = servers.default_server()
    known = servers.known_servers()
    if not known:
        output.line("No servers yet; run `slipway login --api-url URL`.")
    for url in known:
        output.line(f"{'*' if url == default else ' '} {url}")


def _local(url: str) -> bool:
    """The official CLI accepts HEROKU_HOST values containing these (and Heroku's own)."""
    return "localhost" in url or "127.0.0.1" in url


def heroku_environment(ctx: CliContext) -> dict[str, str]:
    """The environment that points the official heroku CLI at this Slipway, and nowhere else.

    The CLI refuses an API host that is not Heroku's and names neither `localhost` nor
    `127.0.0.1`: it warns and sends everything, token included, to api.heroku.com. It
    checks the whole text of HEROKU_HOST but uses only its scheme, host and port, so
    `https://api.example.com/localhost` passes and reaches api.example.com. It attaches
    the token only to Heroku's and local hosts, so for another host the token goes in
    HEROKU_HEADERS. Telemetry, the update check and particleboard are turned off or
    pointed here."""
    url = ctx.api_url.rstrip("/")
    try:
        info = httpx.get(url + "/tls/info", timeout=10).json()
    except (httpx.HTTPError, ValueError) as exc:
        raise Unreachable(
            f"Cannot reach the Slipway API at {url}; is `slipway server` running?"
        ) from exc
    git_host = str(info["git_host"])
    lines = {
        "HEROKU_HOST": url if _local(url) else f"{url}/localhost",
        # pg:* and redis:* call Heroku's data API on this host, with HEROKU_HOST's scheme
        # and port: Slipway's API serves it. Unset, they send the token to Heroku.
        "HEROKU_DATA_HOST": urlsplit(url).hostname or "127.0.0.1",
        "HEROKU_PARTICLEBOARD_URL": url,
        "HEROKU_BUILDPACK_REGISTRY_URL": url,
        "HEROKU_LOGIN_HOST": url,
        "DISABLE_TELEMETRY": "true",
        "HEROKU_SKIP_ANALYTICS": "1",
        "HEROKU_SKIP_NEW_VERSION_CHECK": "true",
        "HEROKU_DISABLE_AUTOUPDATE": "true",
        "HEROKU_GIT_HOST": git_host,
    }
    ca = git.fetch_ca(url) if info.get("has_ca_cert") else None
    if ca is not None:
        # Node (the heroku CLI) and git must both trust the platform's CA. git gets it
        # for the platform's URL only, through git's environment-config variables.
        lines["NODE_EXTRA_CA_CERTS"] = str(ca)
        lines["GIT_CONFIG_COUNT"] = "1"
        lines["GIT_CONFIG_KEY_0"] = f"http.https://{git_host}/.sslCAInfo"
        lines["GIT_CONFIG_VALUE_0"] = str(ca)
    if not _local(url):
        key = ctx.token()
        if not key:
            raise NotLoggedIn(
                f"You are not logged in to {url}; run `slipway login --api-url {url}`."
            )
        lines["HEROKU_HEADERS"] = json.dumps({"Authorization": f"Bearer {key}"})
    return lines


@click.command("heroku-env")
@click.option(
    "--api-url", default=None, help="The Slipway API (default: the one you logged in to)."
)
def heroku_env(api_url: str | None) -> None:
    """Print the environment that points the official heroku CLI at this Slipway.

    Use it as: eval "$(slipway heroku-env)". The heroku CLI finds the API key
    in ~/.netrc under the same host:port, so `slipway login` is enough; for a server
    on a real domain the key is also in HEROKU_HEADERS (the CLI sends its own only to
    local hosts), so prefer `slipway heroku ARGS`, which keeps it out of your shell.
    """
    ctx = cli_context()
    if api_url:
        ctx.api_url = api_url.rstrip("/")
    for key, value in heroku_environment(ctx).items():
        output.line(f"export {key}={shlex.quote(value)}")


@click.command(
    "heroku",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def heroku(args: tuple[str, ...]) -> None:
    """Run the official heroku CLI against this Slipway: `slipway heroku apps`.

    Its environment comes from `slipway heroku-env`; the CLI is found on PATH (or
    $SLIPWAY_HEROKU_BIN)."""
    ctx = cli_context()
    binary = os.environ.get("SLIPWAY_HEROKU_BIN") or shutil.which("heroku")
    if not binary:
        raise CliError(
            "The official heroku CLI is not installed; install it with "
            "`npm install -g heroku@11.10.0` (or set SLIPWAY_HEROKU_BIN)."
        )
    env = {**os.environ, **heroku_environment(ctx)}
    os.execvpe(binary, [binary, *args], env)  # noqa: S606
