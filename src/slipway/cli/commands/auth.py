"""login, logout, auth:whoami, auth:token, accounts:create, heroku-env."""

from __future__ import annotations

import shlex
import sys
from urllib.parse import urlsplit

import click
import httpx

from slipway.cli import git, netrc, output
from slipway.cli.base import cli_context
from slipway.cli.client import ApiClient
from slipway.cli.errors import CliError, NotLoggedIn, Unreachable


@click.command("login")
@click.option("--api-key", default=None, help="The API key (default: read from standard input).")
@click.option("--api-url", default=None, help="The Slipway API (default: $SLIPWAY_API_URL).")
def login(api_key: str | None, api_url: str | None) -> None:
    """Store an API key in ~/.netrc for this API, as `heroku login` does."""
    ctx = cli_context()
    if api_url:
        ctx.api_url = api_url
    if api_key is None:
        if sys.stdin.isatty():
            api_key = click.prompt("API key", hide_input=True)
        else:
            api_key = sys.stdin.readline()
    api_key = (api_key or "").strip()
    if not api_key:
        raise CliError("No API key given; pass --api-key or pipe the key on standard input.")
    account = ApiClient(ctx.api_url, api_key, transport=ctx.transport).get("/account")
    path = netrc.write_entry(ctx.machine, account["email"], api_key)
    output.line(f"Logged in as {account['email']} (key saved in {path} for {ctx.machine})")


@click.command("logout")
def logout() -> None:
    """Forget the API key of this API."""
    ctx = cli_context()
    removed = netrc.remove_entry(ctx.machine)
    output.line("Logged out" if removed else f"You were not logged in to {ctx.machine}")


@click.command("auth:whoami")
def whoami() -> None:
    """Show the email of the account you are logged in as."""
    output.line(cli_context().client().get("/account")["email"])


@click.command("auth:token")
def token() -> None:
    """Print the API key in use (for scripts)."""
    key = cli_context().token()
    if not key:
        raise NotLoggedIn("You are not logged in; run `slipway login` first.")
    output.line(key)


@click.command("accounts:create")
@click.argument("email")
def accounts_create(email: str) -> None:
    """Create an account (admin only) and print its API key once."""
    account = cli_context().client().post("/accounts", {"email": email})
    output.line(f"Created {account['email']}. API key (shown once):")
    output.line(account["api_key"])


@click.command("heroku-env")
def heroku_env() -> None:
    """Print the environment that points the official heroku CLI at this Slipway.

    Use it as: eval "$(slipway heroku-env)". The heroku CLI finds the API key
    in ~/.netrc under the same host:port, so `slipway login` is enough.
    """
    ctx = cli_context()
    url = ctx.api_url.rstrip("/")
    try:
        info = httpx.get(url + "/tls/info", timeout=10).json()
    except (httpx.HTTPError, ValueError) as exc:
        raise Unreachable(
            f"Cannot reach the Slipway API at {url}; is `slipway server` running?"
        ) from exc
    git_host = str(info["git_host"])
    lines = {
        "HEROKU_HOST": url,
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
    for key, value in lines.items():
        output.line(f"export {key}={shlex.quote(value)}")
