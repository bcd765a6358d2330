"""ServerConfig: every setting of `slipway server`, each declared once with its flag.

The fields below are the server's own settings. Settings that belong to a
part (the dyno manager's timers, the deployer's limits, the platform's
limits, the add-on providers' servers) are declared on that part's options
dataclass and nested here; `slipway.options` derives the command line from
all of them (see `server/command.py`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from slipway.addons.provider import AddonSettings
from slipway.api.app import RATE_LIMIT_CAPACITY
from slipway.builder.runtimes import RuntimeSources
from slipway.certs.acme_client import LETS_ENCRYPT
from slipway.logs.history import DEFAULT_LIMIT
from slipway.options import nested, option, option_factory
from slipway.platform.acm.manager import AcmOptions
from slipway.platform.deploys import DeployOptions
from slipway.platform.settings import PlatformSettings
from slipway.platform.ticker import TickerOptions
from slipway.runtime.manager import RuntimeOptions

DEFAULT_ADMIN_EMAIL = "admin@slipway.localhost"


def default_data_dir() -> Path:
    """$SLIPWAY_HOME, else ~/.slipway; as root /var/lib/slipway, a system service's place.

    (Root's home is 0700: the embedded PostgreSQL, which runs as the `postgres` user,
    and dynos, which run as their app's uid, could not reach a data dir inside it.)
    """
    if os.environ.get("SLIPWAY_HOME"):
        return Path(os.environ["SLIPWAY_HOME"])
    if os.geteuid() == 0:
        return Path("/var/lib/slipway")
    return Path.home() / ".slipway"


_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def parse_domain(text: str) -> str:
    """`example.com`: a DNS name of two labels or more, no scheme, no port."""
    name = text.strip().lower().rstrip(".")
    labels = name.split(".")
    if len(labels) < 2 or len(name) > 240 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(
            f"{text!r} is not a domain name; give one like example.com (no scheme, no port)."
        )
    return name


def default_router_workers() -> int:
    # One router process per core (up to 4): proxying is CPU-bound.
    return max(1, min(os.cpu_count() or 1, 4))


@dataclass(frozen=True)
class ServerConfig:
    data_dir: Path = option_factory(
        default_data_dir,
        "--data-dir",
        "Where Slipway keeps its state (default: $SLIPWAY_HOME or ~/.slipway).",
        file_okay=False,
    )
    host: str = option("127.0.0.1", "--host", "Address the API binds to.")
    port: int = option(5000, "--port", "Port of the API.")
    store_url: str | None = option(
        None,
        "--store",
        "Database URL, e.g. postgresql://user@host/db (default: SQLite in the data dir).",
        envvar="SLIPWAY_STORE",
    )
    admin_email: str = option(DEFAULT_ADMIN_EMAIL, "--admin-email")
    base_domain: str = option("localhost", "--base-domain", "Apps are APP.DOMAIN.")
    router_port: int = option(8080, "--router-port", "The router's HTTP port.")
    router_tls_port: int = option(8443, "--router-tls-port", "Its HTTPS port.")
    router_host: str | None = option(
        None,
        "--router-host",
        "Where the router listens (default 127.0.0.1; with --domain, 0.0.0.0).",
    )
    # One front door on a real domain: the router owns the public ports, api.D, git.D and
    # dashboard.D are the platform's hosts, apps are APP.D (or APP.<apps domain>).
    domain: str | None = option(
        None,
        "--domain",
        "Serve on a real domain: api.DOMAIN, git.DOMAIN, dashboard.DOMAIN, APP.DOMAIN, with "
        "ACME certificates, the router on --http-port/--https-port.",
        parse=parse_domain,
        metavar="DOMAIN",
    )
    apps_domain: str | None = option(
        None,
        "--apps-domain",
        "With --domain: apps are APP.APPS_DOMAIN instead of APP.DOMAIN.",
        parse=parse_domain,
        metavar="DOMAIN",
    )
    http_port: int = option(80, "--http-port", "With --domain: the router's public HTTP port.")
    https_port: int = option(443, "--https-port", "With --domain: the router's public HTTPS port.")
    acme: bool = option(
        True, "--acme", off="--no-acme", help="With --domain: certificates from an ACME CA."
    )
    acme_directory: str = option(
        LETS_ENCRYPT, "--acme-directory", "The ACME directory URL (default: Let's Encrypt)."
    )
    acme_email: str | None = option(
        None, "--acme-email", "Contact address for the ACME account (expiry notices)."
    )
    acme_ca_cert: Path | None = option(
        None,
        "--acme-ca-cert",
        "CA bundle to trust for the ACME directory's own HTTPS (a test CA such as Pebble).",
        exists=True,
        dir_okay=False,
    )
    run_router: bool = option(True, "--router", off="--no-router")
    router_workers: int = option_factory(
        default_router_workers,
        "--router-workers",
        "Router processes sharing its ports (default: one per core, up to 4).",
        min=1,
        max=64,
    )
    # Extra `slipway router` options (timeouts), passed through as given.
    router_args: tuple[str, ...] = option(
        (),
        "--router-option",
        "Pass an option to `slipway router`, e.g. --router-option=--request-timeout=10.",
    )
    git_port: int = option(5443, "--git-port")
    rate_limit: int = option(
        RATE_LIMIT_CAPACITY,
        "--rate-limit",
        "API requests per account before throttling (refills at 75/min).",
        min=1,
    )
    tls_cert: Path | None = option(
        None,
        "--tls-cert",
        "Your own certificate (PEM) for the HTTPS listener, instead of the platform's CA.",
        exists=True,
        dir_okay=False,
    )
    tls_key: Path | None = option(None, "--tls-key", exists=True, dir_okay=False)
    log_history: int = option(
        DEFAULT_LIMIT, "--log-history", "Lines of log history kept per app.", min=1
    )
    rendezvous_port: int = option(
        5444,
        "--rendezvous-port",
        "TLS port where `heroku run` / `slipway run` attach to one-off dynos.",
    )
    log_level: str = option("info", "--log-level")
    access_log: bool = option(False, "--access-log", off="--no-access-log")
    deploy: DeployOptions = nested(DeployOptions)
    runtimes: RuntimeSources = nested(RuntimeSources)
    platform: PlatformSettings = nested(PlatformSettings)
    runtime: RuntimeOptions = nested(RuntimeOptions)
    addons: AddonSettings = nested(AddonSettings)
    ticker: TickerOptions = nested(TickerOptions)
    acm: AcmOptions = nested(AcmOptions)

    @property
    def public_host(self) -> str:
        # A wildcard bind is reached locally on the loopback address.
        return "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104

    @property
    def api_url(self) -> str:
        """The API's own listener (loopback in domain mode): the router's control link and
        the git hook reach it here."""
        return f"http://{self.public_host}:{self.port}"

    @property
    def public_api_url(self) -> str:
        """The API as clients reach it: https://api.DOMAIN in domain mode."""
        if self.domain:
            return f"https://api.{self.domain}{self._https_suffix}"
        return self.api_url

    @property
    def git_host(self) -> str:
        if self.domain:
            return f"git.{self.domain}{self._https_suffix}"
        return f"{self.public_host}:{self.git_port}"

    @property
    def _https_suffix(self) -> str:
        return "" if self.https_port == 443 else f":{self.https_port}"

    @property
    def apps_base_domain(self) -> str:
        """Apps are APP.<this>: --apps-domain, else --domain, else --base-domain."""
        return self.apps_domain or self.domain or self.base_domain

    @property
    def router_bind(self) -> str:
        if self.router_host:
            return self.router_host
        return "0.0.0.0" if self.domain else "127.0.0.1"  # noqa: S104

    @property
    def router_ports(self) -> tuple[int, int]:
        """(HTTP, HTTPS): the public ports with --domain, else --router-port and its TLS."""
        if self.domain:
            return self.http_port, self.https_port
        return self.router_port, self.router_tls_port
