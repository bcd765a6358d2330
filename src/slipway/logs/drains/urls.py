"""Drain URLs, as on Heroku: what a drain URL may be, checked without touching the network.

`syslog://host:port` (plain TCP), `syslog+tls://host:port`,
`https://[user:pass@]host[:port]/path` and `http://...`.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from dataclasses import dataclass, field

SCHEMES = ("syslog", "syslog+tls", "https", "http")
_SUPPORTED = "syslog://host:port, syslog+tls://host:port, https://host/path or http://host/path"


class DrainUrlError(ValueError):
    """A drain URL that cannot be used; the message is one sentence for the user."""


@dataclass(frozen=True)
class DrainTarget:
    """A parsed, validated drain URL."""

    url: str = field(repr=False)  # may hold a password
    scheme: str  # one of SCHEMES
    host: str  # without IPv6 brackets
    port: int
    path: str = "/"  # path and query, HTTP(S) only
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def is_syslog(self) -> bool:
        return self.scheme.startswith("syslog")

    @property
    def tls(self) -> bool:
        return self.scheme in ("syslog+tls", "https")

    @property
    def endpoint(self) -> str:
        """The HTTP(S) URL to POST to, without the user info."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.path}"


_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return True
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_host.lower().rstrip(".").split(".")
    return len(ascii_host) <= 253 and all(_HOST_LABEL.match(label) for label in labels)


def parse_drain_url(url: str) -> DrainTarget:
    """Validate a drain URL (pure: no network). Raises DrainUrlError with one sentence."""
    if not url:
        raise DrainUrlError(f"A drain URL is required, such as {_SUPPORTED}.")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise DrainUrlError("The drain URL must not contain spaces or control characters.")
    if "://" not in url:
        raise DrainUrlError(f"{url} is not a valid drain URL; use {_SUPPORTED}.")
    scheme = url.split("://", 1)[0].lower()
    if scheme not in SCHEMES:
        raise DrainUrlError(
            f"The drain scheme {scheme or '(none)'}:// is not supported; use {_SUPPORTED}."
        )
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
        raw_port = parts.port
    except ValueError as exc:
        if "port" in str(exc).lower():
            raise DrainUrlError(f"The port in {url} must be a number from 1 to 65535.") from exc
        raise DrainUrlError(f"{url} is not a valid drain URL; use {_SUPPORTED}.") from exc
    if not host:
        raise DrainUrlError(f"The drain URL {url} has no host.")
    if not _valid_host(host):
        raise DrainUrlError(f"{host} in the drain URL is not a valid host name or address.")
    if raw_port is not None and not 1 <= raw_port <= 65535:
        raise DrainUrlError(f"The port in {url} must be a number from 1 to 65535.")
    if parts.netloc.endswith(":") and raw_port is None:
        raise DrainUrlError(f"The port in {url} must be a number from 1 to 65535.")
    if scheme.startswith("syslog"):
        if raw_port is None:
            raise DrainUrlError(
                f"A syslog drain needs a port, such as {scheme}://{parts.netloc}:6514."
            )
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise DrainUrlError(
                f"A syslog drain URL is just {scheme}://host:port, without a path or query."
            )
        if parts.username is not None:
            raise DrainUrlError(
                f"A syslog drain URL is just {scheme}://host:port, without a user name."
            )
        return DrainTarget(url=url, scheme=scheme, host=host, port=raw_port)
    port = raw_port if raw_port is not None else (443 if scheme == "https" else 80)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    username = urllib.parse.unquote(parts.username) if parts.username is not None else None
    password = urllib.parse.unquote(parts.password) if parts.password is not None else None
    return DrainTarget(url, scheme, host, port, path, username, password)
