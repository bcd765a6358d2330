"""builds, builds:info, builds:output, buildpacks, buildpacks:set/add/remove/clear."""

from __future__ import annotations

import sys
from typing import Any

import click
import httpx

from slipway.cli import output
from slipway.cli.base import app_option, cli_context, json_option
from slipway.cli.client import ApiClient, seg
from slipway.cli.errors import CliError


@click.command("builds")
@app_option
@click.option("--num", "-n", default=15, show_default=True, type=click.IntRange(1, 1000))
@json_option
def builds_list(app: str | None, num: int, as_json: bool) -> None:
    """List an app's builds, newest first."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    response = ctx.client().request(
        "GET",
        f"/apps/{seg(name)}/builds",
        headers={"Range": f"created_at ..; max={num}, order=desc"},
    )
    builds = response.json()
    if as_json:
        output.print_json(builds)
        return
    output.header(f"{output.HEXAGON} {name} Builds")
    output.line()
    rows = [
        [
            b["id"],
            b["status"],
            (b["source_blob"]["version"] or "")[:8],
            f"v{b['release']['version']}" if b.get("release") else "",
            b["user"]["email"],
            output.when(b["created_at"]),
        ]
        for b in builds
    ]
    output.table(["Id", "Status", "Version", "Release", "By", "Created at"], rows)


def _latest_or(client: ApiClient, name: str, build_id: str | None) -> dict[str, Any]:
    if build_id is not None:
        build: dict[str, Any] = client.get(f"/apps/{seg(name)}/builds/{seg(build_id)}")
        return build
    latest = client.request(
        "GET",
        f"/apps/{seg(name)}/builds",
        headers={"Range": "created_at ..; max=1, order=desc"},
    ).json()
    if not latest:
        raise CliError(f"{name} has no builds yet; push with git first.")
    first: dict[str, Any] = latest[0]
    return first


def runtimes_text(runtimes: dict[str, str] | None) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted((runtimes or {}).items()))


@click.command("builds:info")
@click.argument("build_id", required=False)
@app_option
@json_option
def builds_info(build_id: str | None, app: str | None, as_json: bool) -> None:
    """Show one build (the latest by default): its status, buildpacks, slug and runtimes."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    client = ctx.client()
    build = _latest_or(client, name, build_id)
    slug = None
    if build.get("slug"):
        slug = client.get(f"/apps/{seg(name)}/slugs/{seg(build['slug']['id'])}")
    if as_json:
        output.print_json({**build, "slug": slug})
        return
    output.header(f"Build {build['id']}")
    types = (slug or {}).get("process_types") or {}
    output.key_values(
        [
            ("Status", build["status"]),
            ("Version", build["source_blob"]["version"] or ""),
            ("Buildpacks", ", ".join(b["url"] for b in build.get("buildpacks") or [])),
            ("Release", f"v{build['release']['version']}" if build.get("release") else ""),
            ("Slug", f"{slug['id']} ({slug['size'] or 0} bytes)" if slug else ""),
            ("Runtimes", runtimes_text((slug or {}).get("runtimes"))),
            ("Process types", ", ".join(f"{k}: {v}" for k, v in types.items())),
            ("By", build["user"]["email"]),
            ("When", output.when(build["created_at"])),
        ]
    )


@click.command("builds:output")
@click.argument("build_id", required=False)
@app_option
def builds_output(build_id: str | None, app: str | None) -> None:
    """Print a build's output (the latest build by default), following it while it runs."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    client = ctx.client()
    build = _latest_or(client, name, build_id)
    # No read timeout: a running build may be quiet for minutes.
    timeout = httpx.Timeout(10.0, read=None)
    with httpx.stream("GET", build["output_stream_url"], timeout=timeout) as response:
        if response.status_code != 200:
            raise CliError(f"The build output is not available ({response.status_code}).")
        for chunk in response.iter_text():
            sys.stdout.write(chunk)
            sys.stdout.flush()


def _installed(client: ApiClient, name: str) -> list[str]:
    items: list[dict[str, Any]] = client.get(f"/apps/{seg(name)}/buildpack-installations")
    return [str(i["buildpack"]["url"]) for i in sorted(items, key=lambda i: i["ordinal"])]


def _put(client: ApiClient, name: str, urls: list[str]) -> list[str]:
    items = client.request(
        "PUT",
        f"/apps/{seg(name)}/buildpack-installations",
        json={"updates": [{"buildpack": u} for u in urls]},
    ).json()
    return [str(i["buildpack"]["url"]) for i in items]


def _show(name: str, urls: list[str]) -> None:
    if not urls:
        output.line(f"{output.HEXAGON} {name} has no Buildpacks.")
        return
    output.header(f"{output.HEXAGON} {name} Buildpack URL{'s' if len(urls) > 1 else ''}")
    output.line()
    if len(urls) == 1:
        output.line(urls[0])
    else:
        for i, url in enumerate(urls, start=1):
            output.line(f"{i}. {url}")


def _next_release_note(name: str, urls: list[str], verb: str) -> None:
    if urls:
        which = "this buildpack" if len(urls) == 1 else "these buildpacks"
        output.line(f"Buildpack {verb}. Next release on {name} will use:")
        for i, url in enumerate(urls, start=1):
            output.line(f"  {i}. {url}" if len(urls) > 1 else f"  {url}")
        output.line(f"Run git push slipway main to create a new release using {which}.")


@click.command("buildpacks")
@app_option
@json_option
def buildpacks_list(app: str | None, as_json: bool) -> None:
    """Show an app's buildpacks (none: detected at build time)."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    urls = _installed(ctx.client(), name)
    if as_json:
        output.print_json(urls)
    else:
        _show(name, urls)


index_option = click.option(
    "--index", "-i", type=click.IntRange(min=1), default=None, help="Position, from 1."
)


@click.command("buildpacks:set")
@click.argument("buildpack")
@index_option
@app_option
def buildpacks_set(buildpack: str, index: int | None, app: str | None) -> None:
    """Set the buildpack (at --index, replacing what is there)."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    client = ctx.client()
    urls = _installed(client, name)
    if index is None or not urls:
        if len(urls) > 1 and index is None:
            raise CliError("The app has several buildpacks; say which with --index.")
        urls = [buildpack]
    elif index > len(urls):
        raise CliError(f"Index {index} is past the last buildpack ({len(urls)}).")
    else:
        urls[index - 1] = buildpack
    _next_release_note(name, _put(client, name, urls), "set")


@click.command("buildpacks:add")
@click.argument("buildpack")
@index_option
@app_option
def buildpacks_add(buildpack: str, index: int | None, app: str | None) -> None:
    """Add a buildpack (last, or at --index)."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    client = ctx.client()
    urls = _installed(client, name)
    if buildpack in urls:
        raise CliError(f"The buildpack {buildpack} is already set on {name}.")
    position = len(urls) if index is None else min(index - 1, len(urls))
    urls.insert(position, buildpack)
    _next_release_note(name, _put(client, name, urls), "added")


@click.command("buildpacks:remove")
@click.argument("buildpack", required=False)
@index_option
@app_option
def buildpacks_remove(buildpack: str | None, index: int | None, app: str | None) -> None:
    """Remove a buildpack, by URL or by --index."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    client = ctx.client()
    urls = _installed(client, name)
    if (buildpack is None) == (index is None):
        raise CliError("Name the buildpack to remove, or give its --index, not both.")
    if buildpack is not None:
        if buildpack not in urls:
            raise CliError(f"{buildpack} is not one of {name}'s buildpacks.")
        urls.remove(buildpack)
    else:
        assert index is not None
        if index > len(urls):
            raise CliError(f"Index {index} is past the last buildpack ({len(urls)}).")
        del urls[index - 1]
    remaining = _put(client, name, urls)
    output.line("Buildpack removed.")
    if not remaining:
        output.line(f"The next release on {name} will detect its buildpack.")


@click.command("buildpacks:clear")
@app_option
def buildpacks_clear(app: str | None) -> None:
    """Remove every buildpack; the next build detects one."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    _put(ctx.client(), name, [])
    output.line(f"Buildpacks cleared. The next release on {name} will detect its buildpack.")
