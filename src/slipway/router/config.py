"""RouterConfig: every number the router works by, in one frozen object.

The defaults are Heroku's (behavior.md §2); tests shrink the timeouts. The config is
built once at startup (by `cli.py` or by `slipway server`) and never read from the
environment afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from slipway.options import option
from slipway.router.errors import ConfigError

Address = tuple[str, int]


def parse_address(text: str) -> Address:
    """`HOST:PORT` (or `[v6]:PORT`) to a (host, port) pair."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ConfigError(f"expected HOST:PORT, got {text!r}")
    number = int(port)
    if not 0 <= number <= 65535:
        raise ConfigError(f"port out of range in {text!r}")
    return host.strip("[]"), number


@dataclass(frozen=True)
class RouterConfig:
    """Fields with an `option(...)` are `slipway router` flags too (router/cli.py)."""

    listen: Address = option(
        ("127.0.0.1", 8080),
        "--listen",
        "HTTP listener, HOST:PORT.",
        parse=parse_address,
        metavar="HOST:PORT",
        default_text="127.0.0.1:8080",
    )
    # The HTTPS listener only opens when both tls_cert and tls_key are given.
    tls_listen: Address = option(
        ("127.0.0.1", 8443),
        "--tls-listen",
        "HTTPS listener, HOST:PORT (opened when --tls-cert and --tls-key are given).",
        parse=parse_address,
        metavar="HOST:PORT",
        default_text="127.0.0.1:8443",
    )
    tls_cert: Path | None = option(
        None, "--tls-cert", "PEM certificate chain.", exists=True, dir_okay=False
    )
    tls_key: Path | None = option(
        None, "--tls-key", "PEM private key.", exists=True, dir_okay=False
    )
    # With the platform's CA: each routed host gets a certificate of its own (SNI),
    # since OpenSSL and browsers refuse a *.localhost wildcard.
    tls_ca_cert: Path | None = option(
        None, "--tls-ca-cert", "CA to mint per-host certificates.", exists=True, dir_okay=False
    )
    tls_ca_key: Path | None = option(
        None, "--tls-ca-key", "That CA's private key.", exists=True, dir_okay=False
    )
    # Where route tables come from: the control plane, or a fixed file (bench, tests).
    control_url: str | None = option(
        None, "--control-url", "The control plane's base URL (token in $SLIPWAY_ROUTER_TOKEN)."
    )
    token: str | None = field(default=None, repr=False)
    static_table: Path | None = option(
        None,
        "--static-table",
        "Serve a fixed route table from a JSON file instead (SIGHUP rereads it).",
        exists=True,
        dir_okay=False,
    )

    # Who carries the traffic: HAProxy (C) for apps whose web dynos are up, with this
    # process as its controller and fallback; or this process alone. `auto` is HAProxy
    # when a usable one (2.6 or newer) is installed. The default stays this process:
    # on the 2-core machine bench/router.py measured the HAProxy path below it (the
    # issue-13 notes in the README), so HAProxy is chosen explicitly until it is faster
    # (`slipway server --router-option=--data-plane=haproxy`).
    data_plane: str = option(
        "python",
        "--data-plane",
        "haproxy, python (the default), or auto (HAProxy when installed).",
        choices=("auto", "haproxy", "python"),
    )
    # The data plane's private files (configuration, maps, sockets); a fresh
    # temporary directory when not given.
    data_plane_dir: Path | None = option(
        None, "--data-plane-dir", "Directory for HAProxy's configuration and sockets."
    )

    # Timeouts, in seconds (behavior.md §2.2).
    connect_timeout: float = option(5.0, "--connect-timeout", "Seconds to connect to a dyno (H19).")
    # H12: first response byte after the request is sent.
    request_timeout: float = option(
        30.0, "--request-timeout", "Seconds to the first response byte (H12)."
    )
    # H15 / H28, rolling.
    idle_timeout: float = option(55.0, "--idle-timeout", "Rolling idle seconds (H15/H28).")
    # H20: how long a request waits for a booting dyno.
    boot_timeout: float = option(
        75.0, "--boot-timeout", "Seconds a request waits for a booting dyno (H20)."
    )
    quarantine: float = 5.0  # a dyno that failed to connect is skipped this long
    shutdown_timeout: float = option(
        30.0, "--shutdown-timeout", "Seconds in-flight requests get after SIGTERM."
    )
    # Processes sharing the listening ports (SO_REUSEPORT): one per core spreads the
    # CPU-bound proxying; each has its own pool, balancer and control-plane link.
    workers: int = option(
        1,
        "--workers",
        "Router processes sharing the ports (one per core is a good start).",
        min=1,
        max=64,
    )
    # How often the sweeper looks for expired timers; None derives it from the timeouts.
    tick: float | None = None

    # Distribution (behavior.md §2.1).
    max_connect_attempts: int = 10
    max_in_flight_per_dyno: int = 50
    backlog_per_dyno: int = 50
    # Requests held for one sleeping or booting app; beyond this they get H11.
    max_held_per_app: int = 1000

    # Size limits (behavior.md §2.3). The head cap bounds memory per connection: it is
    # below Heroku's theoretical 1000 x 8 KB, which no real client sends.
    max_request_line: int = 8192
    max_header_line: int = 8192
    max_headers: int = 1000
    max_head_bytes: int = 256 * 1024
    max_response_head_bytes: int = 1024 * 1024

    # Buffers. The response buffer is Heroku's 1 MB: a dyno can finish writing that
    # much whatever the client's speed. The request buffer bounds what is held for a
    # dyno that is not connected yet, or that reads slowly.
    response_buffer: int = 1024 * 1024
    request_buffer: int = 64 * 1024

    max_connections: int = 10_000
    pool_idle_per_dyno: int = 50

    # The control plane link (control.py).
    report_interval: float = 0.2
    report_buffer: int = 50_000  # lines; a second of a busy data plane's
    wake_interval: float = 1.0
    reconnect_min: float = 0.2
    reconnect_max: float = 2.0
    # Blank keepalive lines arrive often; silence longer than this means a dead link.
    control_read_timeout: float = 60.0

    def __post_init__(self) -> None:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("--tls-cert and --tls-key go together")
        if self.control_url is None and self.static_table is None:
            raise ConfigError("the router needs --control-url or --static-table")
        if self.control_url is not None and not self.token:
            raise ConfigError("talking to the control plane needs SLIPWAY_ROUTER_TOKEN")
        for name in ("connect_timeout", "request_timeout", "idle_timeout", "boot_timeout"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive")

    @property
    def tls_enabled(self) -> bool:
        return self.tls_cert is not None and self.tls_key is not None

    @property
    def sweep_interval(self) -> float:
        """How often timers are checked: a tenth of the shortest timeout, at most 0.25 s.

        One sweep over all connections is cheaper than a timer per request, and a
        timeout that fires up to one tick late is as precise as the logs (ms) need.
        """
        if self.tick is not None:
            return self.tick
        shortest = min(
            self.connect_timeout, self.request_timeout, self.idle_timeout, self.boot_timeout
        )
        return max(0.01, min(0.25, shortest / 10))
