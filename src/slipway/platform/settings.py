"""What the platform needs to know about where it is served from."""

from __future__ import annotations

from dataclasses import dataclass

from slipway.options import option


@dataclass(frozen=True)
class PlatformSettings:
    # Apps are reached at http://APP.<base_domain>:<router_port>/ through the router.
    base_domain: str = "localhost"
    router_port: int = 8080
    router_scheme: str = "http"
    # Where `git push` goes: https://<git_host>/APP.git (the deploy issue serves it).
    git_host: str = "127.0.0.1:5443"
    # The Platform API's own URL: add-on pages (`/addons/ID/open`) are reached there.
    api_url: str = "http://127.0.0.1:5000"
    # Platform hosts the router forwards to the control plane's listeners, as
    # (host, "HOST:PORT", https_only): the dashboard, and with a domain the API and git.
    services: tuple[tuple[str, str, bool], ...] = ()
    # With `slipway server --domain D`: the platform's own hosts are api.D, git.D and
    # dashboard.D, and ACME (when `acme`) issues a certificate for each host it serves.
    platform_domain: str | None = None
    acme: bool = False
    # Names the operator's own certificate (--tls-cert) covers: ACM leaves them alone.
    operator_cert_names: tuple[str, ...] = ()
    stack: str = "heroku-24"
    region: str = "us"
    default_dyno_size: str = "basic"
    # With a dyno manager attached, releases that boot dynos start `pending` and the
    # runtime promotes them once their web dynos are up (or fails them).
    runs_dynos: bool = False
    max_dynos_per_app: int = option(100, "--max-dynos-per-app", min=1)
    # Heroku's eco pool: dyno hours per account per month shared by all eco dynos.
    eco_quota_hours: float = option(
        1000.0, "--eco-hours", "Eco dyno hours per account per month.", min=0
    )

    # Sign-in. argon2id costs as argon2-cffi's defaults (RFC 9106's low-memory choice);
    # a test server lowers them, since hashing is most of what a sign-in costs.
    password_hash_time: int = option(
        3, "--password-hash-time", "argon2 iterations per password hash.", min=1, hidden=True
    )
    password_hash_memory: int = option(
        65536, "--password-hash-memory", "argon2 memory per hash, in KiB.", min=8, hidden=True
    )
    password_min_length: int = option(
        10, "--password-min-length", "The shortest password accepted.", min=1
    )
    # Wrong passwords allowed per account, and per address, within the window.
    login_failures_per_account: int = option(5, "--login-failures-per-account", min=1)
    login_failures_per_address: int = option(20, "--login-failures-per-address", min=1)
    login_failure_window: float = option(
        15 * 60.0, "--login-failure-window", "Seconds wrong passwords are counted for.", min=1
    )
    # Metrics (platform/metrics): off, router lines are only logged (bench/dashboard.py
    # compares the router's throughput both ways).
    metrics: bool = option(
        True, "--metrics", "Measure requests, memory and CPU per app.", off="--no-metrics"
    )
    metrics_sample_interval: float = option(
        10.0, "--metrics-sample-interval", "Seconds between dyno memory and CPU samples.", min=0.1
    )
    invitation_days: float = option(
        7.0, "--invitation-days", "Days an invitation link stays valid.", min=0.001
    )

    @property
    def platform_hosts(self) -> tuple[str, ...]:
        """The platform's own host names in domain mode (api.D, git.D, dashboard.D)."""
        d = self.platform_domain
        return (f"api.{d}", f"git.{d}", f"dashboard.{d}") if d else ()

    def web_url(self, app_name: str) -> str:
        default_port = {"http": 80, "https": 443}[self.router_scheme]
        port = "" if self.router_port == default_port else f":{self.router_port}"
        return f"{self.router_scheme}://{app_name}.{self.base_domain}{port}/"

    def git_url(self, app_name: str) -> str:
        return f"https://{self.git_host}/{app_name}.git"
