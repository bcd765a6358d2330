"""A thin httpx client for the Platform API that turns failures into CliErrors."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from slipway import __version__
from slipway.cli.errors import CliError, NotLoggedIn, Unreachable

ACCEPT = "application/vnd.heroku+json; version=3"


def api_machine(api_url: str) -> str:
    """`http://127.0.0.1:5000` -> `127.0.0.1:5000`: the netrc machine name Heroku's CLI uses."""
    parts = urlsplit(api_url)
    return parts.netloc


def seg(value: str) -> str:
    """A path segment, escaped."""
    return quote(value, safe="")


class ApiClient:
    def __init__(
        self,
        api_url: str,
        token: str | None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.token = token
        headers = {"Accept": ACCEPT, "User-Agent": f"slipway-cli/{__version__}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        # `transport` is the tests' seam: the API application in process instead of a socket.
        self._http = httpx.Client(
            base_url=self.api_url, headers=headers, timeout=timeout, transport=transport
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        if not self.token:
            raise NotLoggedIn("You are not logged in; run `slipway login` first.")
        try:
            response = self._http.request(method, path, json=json, headers=headers, params=params)
        except httpx.HTTPError as exc:
            raise Unreachable(
                f"Cannot reach the Slipway API at {self.api_url} ({exc}); is `slipway server` "
                "running?"
            ) from exc
        if response.status_code >= 400:
            raise self._error(response)
        warning = response.headers.get("X-Heroku-Warning")
        if warning:
            from slipway.cli.output import err_console

            err_console.print(f" \u203a   Warning: {warning}", markup=False)
        return response

    def _error(self, response: httpx.Response) -> CliError:
        try:
            body = response.json()
            message, error_id = str(body["message"]), str(body.get("id"))
        except (ValueError, KeyError, TypeError):
            message = f"The API answered {response.status_code} {response.reason_phrase}."
            error_id = None
        if response.status_code == 401:
            return NotLoggedIn(
                f"{message} Your API key was not accepted; run `slipway login`.",
                error_id="unauthorized",
            )
        return CliError(message, error_id=error_id)

    def sign_in(self, email: str, password: str, body: dict[str, Any]) -> Any:
        """POST /oauth/authorizations with Basic email:password, as `heroku login -i`."""
        try:
            response = self._http.post("/oauth/authorizations", json=body, auth=(email, password))
        except httpx.HTTPError as exc:
            raise Unreachable(
                f"Cannot reach the Slipway API at {self.api_url} ({exc}); is `slipway server` "
                "running?"
            ) from exc
        if response.status_code >= 400:
            try:
                message = str(response.json()["message"])
            except (ValueError, KeyError, TypeError):
                message = f"The API answered {response.status_code} {response.reason_phrase}."
            raise CliError(message, error_id=str(response.status_code))
        return response.json()

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw).json()

    def get_all(self, path: str, range_header: str | None = None) -> list[Any]:
        """Follow Next-Range until every page is read."""
        items: list[Any] = []
        headers = {"Range": range_header} if range_header else None
        while True:
            response = self.request("GET", path, headers=headers)
            items.extend(response.json())
            next_range = response.headers.get("Next-Range")
            if response.status_code != 206 or not next_range:
                return items
            headers = {"Range": next_range}

    def post(self, path: str, json: Any = None) -> Any:
        return self.request("POST", path, json=json if json is not None else {}).json()

    def patch(self, path: str, json: Any) -> Any:
        return self.request("PATCH", path, json=json).json()

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path).json()
