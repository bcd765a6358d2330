"""ServerConfig: every setting of `slipway server`, each declared once with its flag.

The fields below are the server's own settings. Settings that belong to a
part (the dyno manager's timers, the deployer's limits, the platform's
limits, the add-on providers' servers) are declared on that part's options
dataclass and nested here; `slipway.options` derives the command line from
all of them (see `server/command.py`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from slipway.addons.provider import AddonSettings
from slipway.api.app import RATE_LIMIT_CAPACITY
from slipway.builder.runtimes import RuntimeSources
from slipway.logs.history import DEFAULT_LIMIT
from slipway.options import nested, option, option_factory
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
    router_host: str = option(
        "127.0.0.1", "--router-host", "Where the router listens (0.0.0.0 to serve other machines)."
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

    @property
    def public_host(self) -> str:
        # A wildcard bind is reached locally on the loopback address.
        return "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104

    @property
    def api_url(self) -> str:
        return f"http://{self.public_host}:{self.port}"

    @property
    def git_host(self) -> str:
        return f"{self.public_host}:{self.git_port}"
