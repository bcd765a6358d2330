"""apps, apps:create, apps:info, apps:rename, apps:destroy, git:remote."""

from __future__ import annotations

import sys

import click

from slipway.cli import git, output
from slipway.cli.base import app_option, cli_context, json_option
from slipway.cli.client import seg
from slipway.cli.errors import CliError


@click.command("apps")
@json_option
def apps_list(as_json: bool) -> None:
    """List your apps."""
    client = cli_context().client()
    apps = client.get_all("/users/~/apps")
    if as_json:
        output.print_json(apps)
        return
    account = client.get("/account")
    output.header(f"{account['email']} Apps")
    output.line()
    if not apps:
        output.line("You have no apps.")
    for app in sorted(apps, key=lambda a: a["name"]):
        output.line(app["name"])


@click.command("apps:create")
@click.argument("name", required=False)
@click.option("--no-remote", "-n", is_flag=True, help="Do not add a `slipway` git remote.")
@click.option("--remote", "-r", default="slipway", show_default=True, help="Git remote name.")
@json_option
def apps_create(name: str | None, no_remote: bool, remote: str, as_json: bool) -> None:
    """Create an app (with a generated name if NAME is left out)."""
    client = cli_context().client()
    output.action(f"Creating {name or 'app'}")
    app = client.post("/apps", {"name": name} if name else {})
    output.done(f", {app['name']}" if not name else "")
    if not no_remote and git.in_repository():
        git.use_remote(app["git_url"], cli_context().api_url, remote)
        output.err_console.print(f"Git remote {remote} added", markup=False)
    if as_json:
        output.print_json(app)
    else:
        output.line(f"{app['web_url']} | {app['git_url']}")


def _filesize(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


@click.command("apps:info")
@app_option
@json_option
def apps_info(app: str | None, as_json: bool) -> None:
    """Show an app's details."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    client = ctx.client()
    info = client.get(f"/apps/{seg(name)}")
    if as_json:
        output.print_json({"app": info})
        return
    collaborators = client.get(f"/apps/{seg(name)}/collaborators")
    output.header(info["name"])
    output.key_values(
        [
            ("Collaborators", ", ".join(c["user"]["email"] for c in collaborators)),
            ("Git URL", info["git_url"]),
            ("Maintenance", "on" if info["maintenance"] else "off"),
            ("Owner", info["owner"]["email"]),
            ("Region", info["region"]["name"]),
            ("Slug Size", _filesize(info["slug_size"] or 0)),
            ("Stack", info["stack"]["name"]),
            ("Web URL", info["web_url"]),
        ]
    )


@click.command("apps:rename")
@click.argument("newname")
@app_option
def apps_rename(newname: str, app: str | None) -> None:
    """Rename an app; its `slipway` git remote follows."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    output.action(f"Renaming {name} to {newname}")
    info = ctx.client().patch(f"/apps/{seg(name)}", {"name": newname})
    output.done()
    output.line(f"{info['web_url']} | {info['git_url']}")
    current = git.remote_url() if git.in_repository() else None
    if current and current.rstrip("/").endswith(f"/{name}.git"):
        git.use_remote(info["git_url"], ctx.api_url)
        output.err_console.print("Git remote slipway updated", markup=False)


@click.command("apps:destroy")
@app_option
@click.option("--confirm", "-c", default=None, help="The app name, to skip the prompt.")
def apps_destroy(app: str | None, confirm: str | None) -> None:
    """Permanently destroy an app and everything it holds."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    if confirm is None:
        if not sys.stdin.isatty():
            raise CliError(f"Destroying {name} needs --confirm {name}.")
        output.err_console.print(
            f"WARNING: This will delete {name} including all add-ons.", markup=False
        )
        confirm = click.prompt(f"To proceed, type {name}")
    if confirm != name:
        raise CliError(f"Confirmation did not match {name}; nothing was destroyed.")
    client = ctx.client()
    output.action(f"Destroying {name} (including all add-ons)")
    client.delete(f"/apps/{seg(name)}")
    output.done()
    current = git.remote_url() if git.in_repository() else None
    if current and current.rstrip("/").endswith(f"/{name}.git"):
        git.remove_remote()


@click.command("git:credentials", hidden=True)
@click.argument("operation")
def git_credentials(operation: str) -> None:
    """git's credential helper protocol: answer `get` with the API key as the password."""
    if operation != "get":
        return
    fields = dict(line.split("=", 1) for line in sys.stdin.read().splitlines() if "=" in line)
    if fields.get("protocol") != "https":
        return
    key = cli_context().token()
    if key:
        output.line("username=slipway")
        output.line(f"password={key}")


@click.command("git:remote")
@app_option
@click.option("--remote", "-r", default="slipway", show_default=True, help="Git remote name.")
def git_remote(app: str | None, remote: str) -> None:
    """Point a git remote of this repository at the app."""
    ctx = cli_context()
    if app is None:
        raise CliError("Pass the app with --app APP.")
    if not git.in_repository():
        raise CliError("This is not a git repository; run the command inside one.")
    info = ctx.client().get(f"/apps/{seg(app)}")
    git.use_remote(info["git_url"], ctx.api_url, remote)
    output.line(f"set git remote {remote} to {info['git_url']}")
