"""releases, releases:info, releases:rollback."""

from __future__ import annotations

from typing import Any

import click

from slipway.cli import output
from slipway.cli.base import app_option, cli_context, json_option
from slipway.cli.client import ApiClient, seg
from slipway.cli.errors import CliError


def _recent(client: ApiClient, app: str, n: int) -> list[dict[str, Any]]:
    response = client.request(
        "GET", f"/apps/{seg(app)}/releases", headers={"Range": f"version ..; max={n}, order=desc"}
    )
    releases: list[dict[str, Any]] = response.json()
    return releases


def _version_arg(release: str) -> str:
    text = release[1:] if release[:1] in "vV" else release
    if not text:
        raise CliError(f"{release} is not a release; use a version such as v3.")
    return text


@click.command("releases")
@app_option
@click.option("--num", "-n", default=15, show_default=True, type=click.IntRange(1, 1000))
@json_option
def releases_list(app: str | None, num: int, as_json: bool) -> None:
    """List an app's releases, newest first."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    releases = _recent(ctx.client(), name, num)
    if as_json:
        output.print_json(releases)
        return
    current = next((r["version"] for r in releases if r.get("current")), None)
    suffix = f" - Current: v{current}" if current else ""
    output.header(f"{output.HEXAGON} {name} Releases{suffix}")
    output.line()
    rows = [
        [f"v{r['version']}", _description(r), r["user"]["email"], output.when(r["created_at"])]
        for r in sorted(releases, key=lambda r: -int(r["version"]))
    ]
    output.table(["Version", "Change", "By", "Released at"], rows)


def _description(release: dict[str, Any]) -> str:
    status, text = release.get("status"), str(release["description"])
    if status in ("pending", "failed"):
        return f"{text} (release command {status})"
    if status == "expired":
        return f"{text} (expired)"
    return text


@click.command("releases:info")
@click.argument("release", required=False)
@app_option
@json_option
def releases_info(release: str | None, app: str | None, as_json: bool) -> None:
    """Show one release (the current one by default) and its config vars."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    client = ctx.client()
    if release is None:
        recent = _recent(client, name, 10)
        if not recent:
            raise CliError(f"{name} has no releases.")
        info = recent[0]
    else:
        info = client.get(f"/apps/{seg(name)}/releases/{seg(_version_arg(release))}")
    config = client.get(f"/apps/{seg(name)}/releases/{info['version']}/config-vars")
    slug = None
    if info.get("slug"):
        slug = client.get(f"/apps/{seg(name)}/slugs/{seg(info['slug']['id'])}")
    if as_json:
        output.print_json({**info, "config_vars": config, "slug": slug})
        return
    output.header(f"Release v{info['version']}")
    types = (slug or {}).get("process_types") or {}
    runtimes = (slug or {}).get("runtimes") or {}
    output.key_values(
        [
            ("Add-ons", ", ".join(info.get("addon_plan_names") or [])),
            ("Change", _description(info)),
            ("By", info["user"]["email"]),
            ("When", output.when(info["created_at"])),
            ("Process types", ", ".join(f"{k}: {v}" for k, v in types.items())),
            ("Runtimes", ", ".join(f"{k} {v}" for k, v in sorted(runtimes.items()))),
        ]
    )
    output.line()
    output.header(f"v{info['version']} Config vars")
    output.line()
    if config:
        output.key_values(sorted(config.items()))


@click.command("releases:rollback")
@click.argument("release", required=False)
@app_option
def releases_rollback(release: str | None, app: str | None) -> None:
    """Roll back to a release (the previous one by default): code and config vars only."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    client = ctx.client()
    if release is None:
        eligible = [r for r in _recent(client, name, 10) if r.get("eligible_for_rollback")]
        if len(eligible) < 2:
            raise CliError(f"{name} has no earlier release to roll back to.")
        target = eligible[1]
    else:
        target = client.get(f"/apps/{seg(name)}/releases/{seg(_version_arg(release))}")
    output.action(f"Rolling back {output.HEXAGON} {name} to v{target['version']}")
    new = client.post(f"/apps/{seg(name)}/releases", {"release": target["id"]})
    output.done(f", v{new['version']}")
    output.err_console.print(
        "Rollback affects code and config vars; it doesn't add or remove addons.", markup=False
    )
    output.err_console.print(
        f"To undo, run: slipway releases:rollback v{int(new['version']) - 1}", markup=False
    )
