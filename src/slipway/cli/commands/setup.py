"""apps:setup: an app made from a directory's (or a tarball URL's) app.json.

The source is packed (`git archive HEAD` in a git repository, else the directory) and
uploaded with `POST /sources`, or the URL is used as it is; app.json is read here first, so
broken JSON stops before anything is made and required config vars without a value are
asked for. Then `POST /app-setups`, the build's output as it runs, and `GET /app-setups/ID`
until the setup succeeds or fails at a named step.
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import time
from pathlib import Path
from typing import Any

import click
import httpx

from slipway.cli import git, output
from slipway.cli.base import cli_context, json_option
from slipway.cli.client import ApiClient, seg
from slipway.cli.context import GIT_REMOTE
from slipway.cli.errors import CliError

POLL_SECONDS = 1.0
SKIP = {".git", "node_modules", "__pycache__", ".venv"}


def _pack(directory: Path) -> bytes:
    if (directory / ".git").exists():
        done = subprocess.run(
            ["git", "archive", "--format=tar.gz", "HEAD"],
            cwd=directory,
            capture_output=True,
            check=False,
        )
        if done.returncode == 0:
            return done.stdout
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(directory.rglob("*")):
            rel = path.relative_to(directory)
            if SKIP & set(rel.parts) or not (path.is_file() or path.is_symlink()):
                continue
            tar.add(path, arcname=rel.as_posix(), recursive=False)
    return buffer.getvalue()


def _manifest_of_tarball(data: bytes) -> bytes | None:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
        for member in tar.getmembers():
            parts = Path(member.name.lstrip("./")).parts
            if parts and parts[-1] == "app.json" and len(parts) <= 2 and member.isfile():
                handle = tar.extractfile(member)
                return handle.read() if handle else None
    return None


def _required(manifest: bytes | None, given: dict[str, str]) -> dict[str, str]:
    """Values for app.json's required config vars that have none, asked for one by one."""
    if manifest is None:
        return {}
    try:
        data = json.loads(manifest)
    except ValueError as exc:
        raise CliError(f"app.json is not valid JSON ({exc}); fix it and try again.") from exc
    env = data.get("env") if isinstance(data, dict) else None
    answers: dict[str, str] = {}
    for name, spec in (env or {}).items() if isinstance(env, dict) else []:
        if not isinstance(spec, dict) or name in given:
            continue
        needed = spec.get("required", True) and "value" not in spec and "generator" not in spec
        if needed:
            prompt = name + (f" ({spec['description']})" if spec.get("description") else "")
            answers[name] = click.prompt(prompt, err=True)
    return answers


def _upload(client: ApiClient, data: bytes) -> str:
    blob = client.post("/sources")["source_blob"]
    response = httpx.put(blob["put_url"], content=data, timeout=300)
    if response.status_code != 200:
        raise CliError(f"Could not upload the source ({response.status_code}).")
    url: str = blob["get_url"]
    return url


def _stream(url: str) -> None:
    with httpx.stream("GET", url, timeout=httpx.Timeout(10.0, read=None)) as response:
        for chunk in response.iter_text():
            click.echo(chunk, nl=False, err=True)


@click.command("apps:setup")
@click.argument("source", default=".", required=False)
@click.option("--app", "-a", "name", help="The new app's name (generated if left out).")
@click.option("--env", "-e", "env", multiple=True, help="KEY=VALUE for app.json's env.")
@json_option
def apps_setup(source: str, name: str | None, env: tuple[str, ...], as_json: bool) -> None:
    """Create an app from SOURCE's app.json (a directory, by default this one, or a tarball
    URL): config vars, add-ons, buildpacks, the first build, formation and postdeploy."""
    client = cli_context().client()
    given = {}
    for item in env:
        key, sep, value = item.partition("=")
        if not sep:
            raise CliError(f"--env {item!r} is not KEY=VALUE.")
        given[key] = value
    if source.startswith(("https://", "http://")):
        response = httpx.get(source, follow_redirects=True, timeout=120)
        if response.status_code != 200:
            raise CliError(f"Could not download {source} ({response.status_code}).")
        url, data = source, response.content
    else:
        directory = Path(source)
        if not directory.is_dir():
            raise CliError(f"{source} is not a directory or a tarball URL.")
        data = _pack(directory)
        url = ""
    given |= _required(_manifest_of_tarball(data), given)
    if not url:
        url = _upload(client, data)
    body: dict[str, Any] = {"source_blob": {"url": url}, "overrides": {"env": given}}
    if name:
        body["app"] = {"name": name}
    output.action("Creating app from app.json")
    setup = client.post("/app-setups", body)
    output.done(f", {setup['app']['name']}")
    streamed = False
    while setup["status"] == "pending":
        if setup.get("build") and not streamed and not as_json:
            _stream(setup["build"]["output_stream_url"])
            streamed = True
        time.sleep(POLL_SECONDS)
        setup = client.get(f"/app-setups/{seg(setup['id'])}")
    if as_json:
        output.print_json(setup)
    elif setup.get("postdeploy"):
        output.line(f"Postdeploy output (exit status {setup['postdeploy']['exit_code']}):")
        output.line(setup["postdeploy"]["output"])
    if setup["status"] != "succeeded":
        raise CliError(setup.get("failure_message") or "The app setup failed.")
    here = not source.startswith(("https://", "http://")) and Path(source).resolve() == Path.cwd()
    if here and git.in_repository():
        # As apps:create: the next `git push slipway main` deploys to the new app.
        made = client.get(f"/apps/{seg(setup['app']['name'])}")
        git.use_remote(made["git_url"], cli_context().api_url)
        output.err_console.print(f"Git remote {GIT_REMOTE} added", markup=False)
    if not as_json:
        output.line(f"{setup['app']['name']} is set up.")
