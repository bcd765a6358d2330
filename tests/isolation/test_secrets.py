"""Secrets stay secret: after a session that uses known secret values (a config var, a
password-like config var, an add-on's credentials, the API key, the router's token), no
log sink, build output, release output, error page, API error or process title holds any.

Each place that is read is one entry of `SINKS`; a new one (the dashboard's pages, when
they exist) is one more function returning the texts it shows.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import unique_name
from tests.deploy.conftest import BUILDPACKS, User, set_buildpacks
from tests.dynos.conftest import Dynos, wait_for
from tests.support import ServerProcess


@dataclass
class Receiver:
    """A syslog drain's far end: everything Logplex sends it, kept."""

    data: bytearray = field(default_factory=bytearray)
    sock: socket.socket = field(default_factory=socket.socket)

    def start(self) -> int:
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        threading.Thread(target=self._accept, daemon=True).start()
        port: int = self.sock.getsockname()[1]
        return port

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        with conn:
            while chunk := conn.recv(65536):
                self.data += chunk


@dataclass
class Session:
    """What the scripted session left behind, for the sinks to read."""

    server: ServerProcess
    app: str
    secrets: dict[str, str]
    push_output: str
    api_errors: list[str]
    error_pages: list[str]
    drain: Receiver
    # Every process's title while the app's dynos ran.
    titles: list[str]


@pytest.fixture(scope="module")
def session(
    escape_server: ServerProcess, escape_user: User, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Session]:
    server, user = escape_server, escape_user
    secrets = {
        "config var": f"cfg-{uuid.uuid4().hex}",
        "password": f"pw-{uuid.uuid4().hex}",
        "API key": server.api_key,
        "router token": (server.data_dir / "router-token").read_text().strip(),
    }
    repo = user.repo("dynos", tmp_path_factory.mktemp("secret-app") / "app")
    name = user.create_app(repo, unique_name("secret"))
    set_buildpacks(server, name, BUILDPACKS / "plain")
    drain = Receiver()
    port = drain.start()
    assert user.slipway("drains:add", f"syslog://127.0.0.1:{port}", cwd=repo).returncode == 0
    dynos = Dynos(server, name)
    dynos.config(SECRET_TOKEN=secrets["config var"], ADMIN_PASSWORD=secrets["password"])
    pushed = user.push(repo)
    assert pushed.returncode == 0, pushed.stderr
    created = user.slipway("addons:create", "redis", cwd=repo)
    assert created.returncode == 0, created.stderr
    with server.client() as api:
        redis_url = api.get(f"/apps/{name}/config-vars").json()["REDIS_URL"]
    secrets["add-on password"] = redis_url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    wait_for(lambda: dynos.releases()[-1]["status"] == "succeeded", what="the add-on release")
    router = f"http://127.0.0.1:{server.router_port}"
    host = {"Host": f"{name}.localhost"}
    assert httpx.get(f"{router}/cache?put=hello", headers=host, timeout=30).status_code == 200
    api_errors = []
    with server.client() as api:
        # Errors on requests that carry secret values: none may echo them. (Names the
        # user typed, an app's or a plan's, are echoed, as Heroku does: they are no secret.)
        for response in (
            api.patch(f"/apps/{name}/config-vars", json={"bad key!": secrets["password"]}),
            api.patch(f"/apps/{name}/config-vars", json={"REDIS_URL": secrets["config var"]}),
            api.patch(f"/apps/{name}/config-vars", json={"BIG": secrets["password"] * 2000}),
            httpx.get(
                f"{server.url}/account", headers={"Authorization": f"Bearer {secrets['password']}"}
            ),
        ):
            assert response.status_code >= 400, response.text
            api_errors.append(response.text)
        created_run = api.post(
            f"/apps/{name}/dynos", json={"command": "python3 -c 'print(1)'", "attach": False}
        )
        assert created_run.status_code == 201, created_run.text
        api.post(f"/apps/{name}/dynos", json={})  # a restart
    titles = all_process_titles()
    dynos.scale(web=0)
    wait_for(lambda: not dynos.urls(), what="no web dyno")
    pages = [
        httpx.get(f"{router}/", headers=host, timeout=30).text,
        httpx.get(f"{router}/", headers={"Host": "nobody.localhost"}, timeout=30).text,
    ]
    time.sleep(1.5)  # router lines and drains are sent in batches
    output = pushed.stdout + pushed.stderr
    yield Session(server, name, secrets, output, api_errors, pages, drain, titles)
    with server.client() as api:
        api.delete(f"/apps/{name}")


def _files(root: Path) -> list[str]:
    return [p.read_text(errors="replace") for p in root.rglob("*") if p.is_file()]


def log_history(s: Session) -> list[str]:
    return ["\n".join(Dynos(s.server, s.app).logs())]


def log_files(s: Session) -> list[str]:
    return _files(s.server.data_dir / "logs")


def server_and_router_logs(s: Session) -> list[str]:
    router_log = s.server.data_dir / "router.log"
    return [s.server.log(), router_log.read_text() if router_log.exists() else ""]


def drain(s: Session) -> list[str]:
    return [s.drain.data.decode(errors="replace")]


def build_output(s: Session) -> list[str]:
    with s.server.client() as api:
        builds = api.get(f"/apps/{s.app}/builds").json()
    streams = [httpx.get(b["output_stream_url"], timeout=30).text for b in builds]
    return [s.push_output, *streams, *_files(s.server.data_dir / "builds")]


def release_output(s: Session) -> list[str]:
    logs = Dynos(s.server, s.app).logs()
    lines = [line for line in logs if "[release." in line]
    assert lines, "the release phase ran and said something"
    return ["\n".join(lines)]


def error_pages(s: Session) -> list[str]:
    return s.error_pages


def api_errors(s: Session) -> list[str]:
    return s.api_errors


def process_titles(s: Session) -> list[str]:
    # The control: the dynos' sandboxes were there to be read (bwrap reads its options,
    # the dyno's environment among them, from a descriptor).
    assert any("bwrap --args " in t for t in s.titles), "no dyno was running"
    return s.titles + all_process_titles()


def all_process_titles() -> list[str]:
    titles = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            titles.append(cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue
    return titles


SINKS: dict[str, Callable[[Session], list[str]]] = {
    "log history": log_history,
    "log files": log_files,
    "server and router logs": server_and_router_logs,
    "drain": drain,
    "build output": build_output,
    "release output": release_output,
    "error pages": error_pages,
    "API errors": api_errors,
    "process titles": process_titles,
}


@pytest.mark.parametrize("sink", list(SINKS))
def test_no_secret_reaches(sink: str, session: Session) -> None:
    texts = SINKS[sink](session)
    assert any(t.strip() for t in texts), f"{sink}: nothing to read, so nothing was checked"
    leaks = [
        (what, text[max(0, text.find(value) - 80) : text.find(value) + 40])
        for what, value in session.secrets.items()
        for text in texts
        if value in text
    ]
    assert not leaks, f"{sink} holds secrets: {leaks}"
