"""The ASGI application of the Platform API."""

from __future__ import annotations

import threading
from pathlib import Path

from fastapi import Depends, FastAPI

from slipway import __version__
from slipway.api import errors
from slipway.api.deps import authorise_request
from slipway.api.middleware import DEFAULT_MAX_BODY, ApiMiddleware
from slipway.api.ratelimit import RateLimiter
from slipway.api.routes import (
    access,
    account,
    addons,
    app_setups,
    apps,
    builds,
    catalogue,
    data,
    domains,
    dynos,
    features,
    formation,
    internal,
    login_host,
    logs,
    metrics,
    oauth,
    releases,
    scheduler,
    teams,
    transfer_schedules,
)
from slipway.platform.app_setups import AppSetups
from slipway.platform.capabilities import Signer
from slipway.platform.deploys import Deployer
from slipway.platform.release_output import ReleaseOutputs
from slipway.platform.tx import Platform

# Heroku's bucket: 4500 requests, refilled at about 75 a minute.
RATE_LIMIT_CAPACITY = 4500
RATE_LIMIT_REFILL_PER_SECOND = 75 / 60


RAW_PREFIXES = (
    "/internal/",
    "/source-blobs/",
    "/build-output/",
    "/release-output/",
    "/backup-downloads/",
    "/addon-pages/",
    "/tls/",
    "/log-stream/",
    "/auth",
    "/invitations/",
    # Prometheus scrapes without Heroku's Accept header.
    "/metrics",
)

# Every group of routes, in the order they are matched (teams' fixed paths before
# /teams/{team}).
ROUTE_MODULES = (
    account,
    oauth,
    login_host,
    access,
    teams,
    apps,
    releases,
    formation,
    builds,
    logs,
    metrics,
    dynos,
    domains,
    addons,
    scheduler,
    transfer_schedules,
    features,
    catalogue,
    data,
    app_setups,
    internal,
)


def create_api(
    platform: Platform,
    *,
    deployer: Deployer | None = None,
    release_outputs: ReleaseOutputs | None = None,
    signer: Signer | None = None,
    router_token: str | None = None,
    public_url: str = "",
    ca_cert: Path | None = None,
    rate_limit: int = RATE_LIMIT_CAPACITY,
    max_body: int = DEFAULT_MAX_BODY,
) -> FastAPI:
    api = FastAPI(
        title="Slipway Platform API",
        version=__version__,
        description="The Heroku Platform API v3, served by Slipway.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/schema",
        # Every route, without exception, goes through the one authorisation: its rule
        # in platform/route_rules.py (a route without a rule is refused).
        dependencies=[Depends(authorise_request)],
    )
    api.state.platform = platform
    api.state.deployer = deployer
    api.state.release_outputs = release_outputs
    api.state.signer = signer
    api.state.app_setups = AppSetups(platform, deployer) if deployer is not None else None
    api.state.router_token = router_token
    api.state.stopping = threading.Event()
    api.state.public_url = public_url.rstrip("/")
    api.state.ca_cert = ca_cert
    api.state.rate_limiter = RateLimiter(
        rate_limit, RATE_LIMIT_REFILL_PER_SECOND, platform.clock.monotonic
    )
    errors.install(api)
    for module in ROUTE_MODULES:
        api.include_router(module.router)
    api.add_middleware(ApiMiddleware, max_body=max_body, raw_prefixes=RAW_PREFIXES)
    return api
