"""The route table: which app a Host header names, and where its web dynos are.

The control plane sends whole tables (never diffs); `RouteTable.from_json` validates
one completely before the router swaps it in, so a request always sees one
consistent table. Lookups run on every request, so the table keeps host names as
lowercased bytes, exactly the form the parser hands over.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from slipway.router.errors import TableError


class AppState(StrEnum):
    """What the router does for an app that has no up web dyno."""

    UP = "up"
    STARTING = "starting"  # hold the request until a dyno is up (H20 after boot_timeout)
    IDLE = "idle"  # ask the control plane to wake the app, then hold likewise
    CRASHED = "crashed"  # H10
    NONE = "none"  # web scaled to 0 or no web process type: H14
    BLANK = "blank"  # no code pushed yet: H81
    QUOTA = "quota"  # eco hours used up: H82


@dataclass(frozen=True, slots=True)
class Backend:
    """One web dyno as the table names it: `web.1` and the address it listens on."""

    name: str
    host: str
    port: int

    @property
    def key(self) -> str:
        """The dyno's address, which identifies it to the pool and the balancer."""
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class AppRoute:
    id: str
    name: str
    domains: tuple[str, ...]
    maintenance: bool
    state: AppState
    dynos: tuple[Backend, ...]
    # A platform host (the dashboard; with a domain, the API and git) forwarded to a
    # control-plane listener: no app behind it, so no router line and no activity.
    service: bool = False
    # Plain HTTP to it is redirected to HTTPS (a platform host on a real domain).
    https_only: bool = False


@dataclass(frozen=True, slots=True)
class Certificate:
    """A certificate the control plane wrote: the names it serves and its files.
    A new fingerprint means new files (a renewal), loaded for the next handshakes."""

    names: tuple[str, ...]
    cert: str
    key: str
    fingerprint: str


ACME_CHALLENGE_PREFIX = b"/.well-known/acme-challenge/"


def normalize_host(host: bytes) -> bytes:
    """A Host header as the table keys it: lowercased, without port or trailing dot."""
    host = host.strip().lower()
    if host.startswith(b"["):  # an IPv6 literal: the port follows the bracket
        end = host.find(b"]")
        host = host[: end + 1] if end > 0 else host
    else:
        colon = host.find(b":")
        if colon >= 0:
            host = host[:colon]
    return host[:-1] if host.endswith(b".") else host


class RouteTable:
    """An immutable snapshot of the routes; build one with `from_json`."""

    __slots__ = (
        "_by_host",
        "_by_id",
        "_cert_by_name",
        "_cert_wildcards",
        "_resolved",
        "_wildcards",
        "acme",
        "apps",
        "base_domain",
        "certificates",
        "services",
        "version",
    )

    # Raw Host header -> (app, normalized host), for hosts that matched. Only matches
    # are kept, so unknown hosts cannot grow it; variants of known ones (case, port)
    # are bounded by clearing it when full.
    RESOLVED_MAX = 4096

    def __init__(
        self,
        version: int,
        base_domain: str,
        apps: tuple[AppRoute, ...],
        services: tuple[AppRoute, ...] = (),
        acme: AppRoute | None = None,
        certificates: tuple[Certificate, ...] = (),
    ) -> None:
        self.version = version
        self.base_domain = base_domain
        self.apps = apps
        self.services = services
        # Where plain-HTTP requests for /.well-known/acme-challenge/ go, whatever the host.
        self.acme = acme
        self.certificates = certificates
        self._cert_by_name: dict[str, Certificate] = {}
        self._cert_wildcards: dict[str, Certificate] = {}
        for cert in certificates:
            for cert_name in cert.names:
                if cert_name.startswith("*."):
                    self._cert_wildcards.setdefault(cert_name[2:], cert)
                else:
                    self._cert_by_name.setdefault(cert_name, cert)
        self._by_id = {app.id: app for app in apps}
        self._by_host: dict[bytes, AppRoute] = {}
        # `*.example.com` custom domains, keyed by the part after the star.
        self._wildcards: dict[bytes, AppRoute] = {}
        self._resolved: dict[bytes, tuple[AppRoute, str]] = {}
        suffix = base_domain.lower().encode()
        for app in apps:
            self._by_host[app.name.lower().encode() + b"." + suffix] = app
            for domain in app.domains:
                name = normalize_host(domain.encode())
                if name.startswith(b"*."):
                    self._wildcards[name[2:]] = app
                else:
                    self._by_host[name] = app
        for service in services:  # a platform host wins over an app's custom domain
            self._by_host[normalize_host(service.name.encode())] = service

    @classmethod
    def empty(cls) -> RouteTable:
        return cls(0, "localhost", ())

    @classmethod
    def from_json(cls, obj: object) -> RouteTable:
        """Validate a decoded table; raise TableError rather than apply half of one."""
        if not isinstance(obj, dict):
            raise TableError("a route table is a JSON object")
        version = obj.get("version")
        base_domain = obj.get("base_domain")
        apps = obj.get("apps")
        if not isinstance(version, int) or isinstance(version, bool):
            raise TableError("version must be an integer")
        if not isinstance(base_domain, str) or not base_domain:
            raise TableError("base_domain must be a non-empty string")
        if not isinstance(apps, list):
            raise TableError("apps must be a list")
        services = obj.get("services", [])
        if not isinstance(services, list):
            raise TableError("services must be a list")
        responder = obj.get("acme_responder")
        if responder is not None and not isinstance(responder, str):
            raise TableError("acme_responder must be HOST:PORT")
        certificates = obj.get("certificates", [])
        if not isinstance(certificates, list):
            raise TableError("certificates must be a list")
        return cls(
            version,
            base_domain,
            tuple(_parse_app(app) for app in apps),
            tuple(_parse_service(service) for service in services),
            _parse_service({"host": "acme-responder", "address": responder}) if responder else None,
            tuple(_parse_certificate(c) for c in certificates),
        )

    @property
    def acme_responder(self) -> str | None:
        """The ACME responder's HOST:PORT (the data plane sends challenges there)."""
        if self.acme is None:
            return None
        backend = self.acme.dynos[0]
        return backend.key

    @property
    def forwarded(self) -> tuple[AppRoute, ...]:
        """Every route with backends: the apps, the services and the ACME responder."""
        extra = (self.acme,) if self.acme is not None else ()
        return self.apps + self.services + extra

    def certificate_for(self, server_name: str) -> Certificate | None:
        """The certificate for an SNI name: exact, then a one-label wildcard."""
        name = server_name.lower().rstrip(".")
        cert = self._cert_by_name.get(name)
        if cert is None and self._cert_wildcards:
            dot = name.find(".")
            if dot > 0:
                cert = self._cert_wildcards.get(name[dot + 1 :])
        return cert

    def lookup(self, host_header: bytes | str) -> AppRoute | None:
        """The app a Host header names: `<name>.<base_domain>` or a custom domain."""
        raw = host_header.encode("latin-1") if isinstance(host_header, str) else host_header
        host = normalize_host(raw)
        route = self._by_host.get(host)
        if route is None and self._wildcards:
            dot = host.find(b".")
            if dot > 0:
                route = self._wildcards.get(host[dot + 1 :])
        return route

    def resolve(self, host_header: bytes) -> tuple[AppRoute, str] | None:
        """`lookup` for the request path: the app and the host to log, cached."""
        hit = self._resolved.get(host_header)
        if hit is not None:
            return hit
        route = self.lookup(host_header)
        if route is None:
            return None
        if len(self._resolved) >= self.RESOLVED_MAX:
            self._resolved.clear()
        hit = self._resolved[host_header] = (route, normalize_host(host_header).decode("latin-1"))
        return hit

    def app(self, app_id: str) -> AppRoute | None:
        return self._by_id.get(app_id)


def _field(obj: dict[str, Any], name: str, kind: type, where: str) -> Any:
    value = obj.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TableError(f"{where}: {name} must be {kind.__name__}")
    return value


def _parse_app(obj: object) -> AppRoute:
    if not isinstance(obj, dict):
        raise TableError("each app is a JSON object")
    app_id = _field(obj, "id", str, "app")
    where = f"app {app_id}"
    name = _field(obj, "name", str, where)
    domains = obj.get("domains", [])
    if not isinstance(domains, list) or not all(isinstance(d, str) for d in domains):
        raise TableError(f"{where}: domains must be a list of strings")
    maintenance = obj.get("maintenance", False)
    if not isinstance(maintenance, bool):
        raise TableError(f"{where}: maintenance must be a boolean")
    try:
        state = AppState(obj.get("state", "up"))
    except ValueError:
        raise TableError(f"{where}: unknown state {obj.get('state')!r}") from None
    dynos = obj.get("dynos", [])
    if not isinstance(dynos, list):
        raise TableError(f"{where}: dynos must be a list")
    return AppRoute(
        id=app_id,
        name=name,
        domains=tuple(domains),
        maintenance=maintenance,
        state=state,
        dynos=tuple(_parse_dyno(d, where) for d in dynos),
    )


def _parse_service(obj: object) -> AppRoute:
    """`{"host", "address": "HOST:PORT", "https_only"}`: a platform host and its listener."""
    if not isinstance(obj, dict):
        raise TableError("each service is a JSON object")
    host = _field(obj, "host", str, "service")
    where = f"service {host}"
    address = _field(obj, "address", str, where)
    name, sep, port = address.rpartition(":")
    if not sep or not name or not port.isdigit() or not 0 < int(port) < 65536:
        raise TableError(f"{where}: address must be HOST:PORT")
    https_only = obj.get("https_only", False)
    if not isinstance(https_only, bool):
        raise TableError(f"{where}: https_only must be a boolean")
    return AppRoute(
        id=f"service:{host}",
        name=host,
        domains=(host,),
        maintenance=False,
        state=AppState.UP,
        dynos=(Backend("service", name.strip("[]"), int(port)),),
        service=True,
        https_only=https_only,
    )


def _parse_dyno(obj: object, where: str) -> Backend:
    if not isinstance(obj, dict):
        raise TableError(f"{where}: each dyno is a JSON object")
    port = _field(obj, "port", int, where)
    if not 0 < port < 65536:
        raise TableError(f"{where}: dyno port out of range")
    return Backend(_field(obj, "name", str, where), _field(obj, "host", str, where), port)


def _parse_certificate(obj: object) -> Certificate:
    if not isinstance(obj, dict):
        raise TableError("each certificate is a JSON object")
    names = obj.get("names")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise TableError("certificate: names must be a non-empty list of strings")
    where = f"certificate {names[0]}"
    return Certificate(
        tuple(n.lower() for n in names),
        _field(obj, "cert", str, where),
        _field(obj, "key", str, where),
        _field(obj, "fingerprint", str, where),
    )
