"""git smart HTTP: authenticate, authorise the app, then hand over to `git http-backend`.

Basic auth with a token as the password (any user name), as Heroku. Every
request (the refs advertisement and the pack itself) is authorised again, so a
revoked token stops at the next one. The app is checked before git sees a
byte, so a push to someone else's app (or by a viewer) stores nothing. A
receive-pack gets a short-lived push token in its environment; the pre-receive
hook uses it to ask the platform for the build.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from slipway.git.repos import RepoStore

log = logging.getLogger("slipway.git")

_SERVICES = {"git-upload-pack", "git-receive-pack"}


class GitAuthError(Exception):
    """Raised by the authoriser: status and one sentence for the git client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class PushGrant:
    account_id: str
    account_email: str
    app_id: str
    # The token the person came with, so the build can check it is still good.
    authorization_id: str | None = None


# (token, app name, push?) -> grant, or GitAuthError. Runs in a worker thread. A push
# (receive-pack) and a fetch (upload-pack) need different permissions.
Authoriser = Callable[[str, str, bool], PushGrant]
# grant -> push token for the hook; and its revocation when the push ends.
TokenIssuer = Callable[[PushGrant], str]
TokenRevoker = Callable[[str], None]


def _basic_password(header: str | None) -> str | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2] or None


def _unauthorised(message: str) -> Response:
    return PlainTextResponse(
        message + "\n", status_code=401, headers={"WWW-Authenticate": 'Basic realm="Slipway"'}
    )


class GitHttp:
    def __init__(
        self,
        repos: RepoStore,
        authorise: Authoriser,
        issue_token: TokenIssuer,
        revoke_token: TokenRevoker,
        deploy_url: str,
    ) -> None:
        self.repos = repos
        self.authorise = authorise
        self.issue_token = issue_token
        self.revoke_token = revoke_token
        self.deploy_url = deploy_url
        # One receive-pack per app at a time, ref update included: a second push
        # waits, then its hook sees the ref the first one left.
        self._push_locks: dict[str, asyncio.Lock] = {}

    def routes(self) -> list[Route]:
        return [Route("/{app}.git/{rest:path}", self.handle, methods=["GET", "POST"])]

    async def handle(self, request: Request) -> Response:
        app_name = request.path_params["app"]
        rest = request.path_params["rest"]
        service = request.query_params.get("service", "")
        if rest == "info/refs":
            if service not in _SERVICES:
                return PlainTextResponse("Only smart HTTP is served; update git.\n", 403)
        elif rest not in _SERVICES or request.method != "POST":
            return PlainTextResponse("Not found.\n", 404)
        key = _basic_password(request.headers.get("authorization"))
        if key is None:
            return _unauthorised("Log in with your API key as the password.")
        try:
            pushing = service == "git-receive-pack" or rest == "git-receive-pack"
            grant = await asyncio.to_thread(self.authorise, key, app_name, pushing)
        except GitAuthError as exc:
            if exc.status == 401:
                return _unauthorised(exc.message)
            return PlainTextResponse(exc.message + "\n", exc.status)
        repo = await asyncio.to_thread(self.repos.ensure, grant.app_id)
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "GIT_PROJECT_ROOT": str(repo.parent),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": f"/{repo.name}/{rest}",
            "REQUEST_METHOD": request.method,
            "QUERY_STRING": request.url.query,
            "CONTENT_TYPE": request.headers.get("content-type", ""),
            "REMOTE_USER": grant.account_email,
            "REMOTE_ADDR": request.client.host if request.client else "",
            "GIT_HTTP_MAX_REQUEST_BUFFER": "100M",
        }
        if "content-length" in request.headers:
            env["CONTENT_LENGTH"] = request.headers["content-length"]
        if "content-encoding" in request.headers:
            env["HTTP_CONTENT_ENCODING"] = request.headers["content-encoding"]
        if "git-protocol" in request.headers:
            env["GIT_PROTOCOL"] = request.headers["git-protocol"]
        if rest != "git-receive-pack":
            return await self._backend(request, env, None)
        lock = self._push_locks.setdefault(grant.app_id, asyncio.Lock())
        await lock.acquire()
        token = self.issue_token(grant)
        env["SLIPWAY_PUSH_TOKEN"] = token
        env["SLIPWAY_DEPLOY_URL"] = self.deploy_url
        try:
            return await self._backend(request, env, token, lock.release)
        except BaseException:
            lock.release()
            raise

    async def _backend(
        self,
        request: Request,
        env: dict[str, str],
        token: str | None,
        on_done: Callable[[], None] | None = None,
    ) -> Response:
        proc = await asyncio.create_subprocess_exec(
            "git",
            "http-backend",
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdin is not None
        assert proc.stdout is not None

        async def drain_stderr() -> None:
            assert proc.stderr
            data = await proc.stderr.read()
            if data.strip():
                log.info("git http-backend: %s", data.decode(errors="replace").strip())

        stderr_task = asyncio.create_task(drain_stderr())
        # The whole request body goes in before the response starts: the response's
        # disconnect listener also reads from the connection and would otherwise
        # swallow the end of the body. git's stateless RPC reads all input first anyway.
        try:
            if request.method == "POST":
                async for chunk in request.stream():
                    if chunk:
                        proc.stdin.write(chunk)
                        await proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            with contextlib.suppress(Exception):
                proc.stdin.close()
        status = 200
        headers: dict[str, str] = {}
        while True:
            line = await proc.stdout.readline()
            if not line or line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            else:
                headers[name.strip()] = value.strip()

        async def body() -> AsyncIterator[bytes]:
            assert proc.stdout
            try:
                while True:
                    chunk = await proc.stdout.read(65536)
                    if not chunk:
                        break
                    yield chunk
            finally:
                await stderr_task
                await proc.wait()
                if token is not None:
                    self.revoke_token(token)
                if on_done is not None:
                    on_done()

        return StreamingResponse(body(), status_code=status, headers=headers)
