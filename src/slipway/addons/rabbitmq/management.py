"""RabbitMQ's management HTTP API as the provider uses it, with one sentence per failure."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any

import httpx

from slipway.addons.errors import AddonError, ProviderUnavailable, redact, sentence


@dataclass(frozen=True)
class Broker:
    """A RabbitMQ as the provider reaches it: its management API and AMQP address."""

    label: str  # "the RabbitMQ server at 127.0.0.1:5672"
    api: str  # "http://127.0.0.1:15672"
    user: str
    password: str
    amqp_host: str
    amqp_port: int
    unreachable_hint: str
    credentials_hint: str


def parse_admin_url(url: str, amqp_port: int) -> Broker:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProviderUnavailable(
            "The RabbitMQ admin URL is not valid; pass --rabbitmq-admin-url as the management "
            "API, http://USER:PASSWORD@HOST:15672/."
        )
    port = parts.port or (443 if parts.scheme == "https" else 15672)
    return Broker(
        label=f"the RabbitMQ server at {parts.hostname}:{amqp_port}",
        api=f"{parts.scheme}://{parts.hostname}:{port}",
        user=urllib.parse.unquote(parts.username or "guest"),
        password=urllib.parse.unquote(parts.password or "guest"),
        amqp_host=parts.hostname,
        amqp_port=amqp_port,
        unreachable_hint=(
            "start it (with the rabbitmq_management plugin) or pass another --rabbitmq-admin-url"
        ),
        credentials_hint="check the user and password in --rabbitmq-admin-url",
    )


def quote(name: str) -> str:
    return urllib.parse.quote(name, safe="")


class Management:
    """Calls to one broker's management API; every failure is an AddonError sentence."""

    def __init__(self, broker: Broker, timeout: float = 10.0) -> None:
        self.broker = broker
        self.timeout = timeout

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        ok_missing: bool = False,
        auth: tuple[str, str] | None = None,
    ) -> Any:
        broker = self.broker
        try:
            response = httpx.request(
                method,
                broker.api + "/api" + path,
                json=body,
                auth=auth or (broker.user, broker.password),
                timeout=self.timeout,
            )
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(
                f"Could not reach {broker.label}'s management API at {broker.api}: "
                f"{sentence(str(exc)) or type(exc).__name__}; {broker.unreachable_hint}."
            ) from None
        if response.status_code == 404 and ok_missing:
            return None
        if response.status_code == 401 and auth is None:
            raise ProviderUnavailable(
                f"{broker.label[0].upper()}{broker.label[1:]} refused the admin credentials; "
                f"{broker.credentials_hint}."
            )
        if response.status_code >= 400:
            try:
                detail = str(response.json().get("reason", response.text))
            except ValueError:
                detail = response.text
            what = path.split("/")[1]
            raise AddonError(
                f"{broker.label[0].upper()}{broker.label[1:]} refused {method} {what}: "
                f"{sentence(redact(detail, broker.password))[:200]}."
            )
        if not response.content:
            return None
        return response.json()
