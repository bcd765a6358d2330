"""`serve`: build every part in order, run the listeners, and take it all down again."""

from __future__ import annotations

import logging
from pathlib import Path

import click
from starlette.applications import Starlette
from starlette.routing import Mount

from slipway.api.app import create_api
from slipway.builder.buildpack_resolver import BuildpackResolver
from slipway.builder.fetch import HttpSourceFetcher
from slipway.builder.runner import BuildRunner
from slipway.builder.runtimes import RuntimeSupplier
from slipway.dashboard import create_dashboard
from slipway.git.http import GitHttp
from slipway.git.repos import RepoStore
from slipway.logs.drains import DrainDispatcher, ReachabilityProbe
from slipway.logs.history import LogHistory
from slipway.logs.plex import Logplex
from slipway.logs.service import LogService
from slipway.logs.sessions import SessionSigner
from slipway.platform.addons import refresh
from slipway.platform.capabilities import Signer
from slipway.platform.deploys import Deployer
from slipway.platform.metrics.sampler import Sampler
from slipway.platform.release_output import ReleaseOutputs
from slipway.platform.ticker import Ticker
from slipway.platform.tx import Platform
from slipway.runtime.network.host import DynoNetwork
from slipway.runtime.sandbox import Sandbox
from slipway.server.config import ServerConfig
from slipway.server.data_dir import bootstrap, load_secret, router_token, tls_files
from slipway.server.listeners import ByHost, listener, serve_together
from slipway.server.parts import (
    build_platform,
    check_public_ports,
    connect_logs,
    make_authoriser,
    start_addons,
    start_certificates,
    start_network,
    start_router,
    start_runtime,
    stop_addons,
)
from slipway.slugs.store import SlugStore
from slipway.store import StoreError

log = logging.getLogger("slipway.server")


def build_deployer(
    config: ServerConfig,
    platform: Platform,
    data_dir: Path,
    secret: bytes,
    repos: RepoStore,
    network: DynoNetwork | None,
) -> Deployer:
    platform.ports.repositories = repos
    platform.ports.sources = HttpSourceFetcher()
    return Deployer(
        platform,
        BuildRunner(
            Sandbox(network=network),
            BuildpackResolver(data_dir / "buildpacks"),
            RuntimeSupplier(data_dir / "runtimes", config.runtimes),
        ),
        SlugStore(data_dir / "slugs"),
        data_dir,
        secret,
        config.public_api_url,
        config.deploy,
    )


def start_logs(
    config: ServerConfig, platform: Platform, data_dir: Path, secret: bytes
) -> tuple[Logplex, DrainDispatcher]:
    dispatcher = DrainDispatcher()
    dispatcher.start()
    platform.ports.drain_probe = ReachabilityProbe()
    logplex = Logplex(LogHistory(data_dir / "logs", limit=config.log_history), dispatcher)
    logplex.start()
    connect_logs(platform, logplex, dispatcher)
    platform.ports.logs = LogService(logplex, SessionSigner(secret))
    return logplex, dispatcher


def serve(config: ServerConfig) -> None:
    logging.basicConfig(
        level=config.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    try:
        platform = build_platform(config)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    data_dir = config.data_dir.expanduser().resolve()
    check_public_ports(config)
    bootstrap(platform, config, data_dir)
    tls = tls_files(config, data_dir)
    secret = load_secret(data_dir)
    repos = RepoStore(data_dir / "repos")
    # Before builds, the dyno manager and the add-on servers: builds and dynos join it,
    # add-on servers listen on it.
    network = start_network(config, data_dir)
    deployer = build_deployer(config, platform, data_dir, secret, repos, network)
    logplex, dispatcher = start_logs(config, platform, data_dir, secret)
    release_outputs = ReleaseOutputs(data_dir / "release-output", secret, config.public_api_url)
    certificates = start_certificates(config, platform, data_dir)
    # Before the dyno manager: dynos it brings back find their add-on servers up, and
    # with the vars of add-ons whose servers moved since the last start (an upgrade).
    providers = start_addons(config, data_dir, tls, network)
    platform.ports.addons = providers
    refreshed = refresh.refresh_all(platform)
    if refreshed:
        log.info("%d apps got a release with their add-ons' new config vars", refreshed)
    runtime = start_runtime(
        config, platform, data_dir, tls, logplex, release_outputs, network, certificates
    )
    ticker = Ticker(platform, config.ticker)
    ticker.start()
    token = router_token(data_dir)
    api = create_api(
        platform,
        deployer=deployer,
        release_outputs=release_outputs,
        signer=Signer(secret),
        router_token=token,
        public_url=config.public_api_url,
        # On a real domain, clients trust the ACME CA's certificates: no CA of ours to hand out.
        ca_cert=None if config.domain and config.acme else tls.ca_cert,
        rate_limit=config.rate_limit,
    )
    git = GitHttp(
        repos,
        make_authoriser(platform),
        lambda grant: deployer.push_tokens.issue(
            grant.account_id, grant.app_id, grant.authorization_id
        ),
        deployer.push_tokens.revoke,
        f"{config.api_url}/internal/pushes",
    )
    dashboard = create_dashboard(
        platform,
        secret,
        deployer=deployer,
        release_outputs=release_outputs,
        api_url=config.api_url,
    )
    front = ByHost(api, dashboard, platform.settings.base_domain)
    tls_app = ByHost(
        Starlette(routes=[*git.routes(), Mount("/", app=api)]),
        dashboard,
        platform.settings.base_domain,
    )
    sampler = Sampler(platform)
    sampler.start()
    router = start_router(config, data_dir, tls, token)
    # With --domain the router terminates TLS for git.D: git's listener is plain, on loopback.
    git_tls = None if config.domain else tls
    servers = [
        listener(config, front, config.port),
        listener(config, tls_app, config.git_port, git_tls),
    ]
    click.echo(f"git push over HTTPS on https://{config.git_host}/APP.git")
    if config.domain:
        click.echo(f"The Platform API for clients: {config.public_api_url}")
        click.echo(f"The dashboard: https://dashboard.{config.domain}/")
    elif config.run_router:
        port = "" if config.router_port == 80 else f":{config.router_port}"
        click.echo(f"The dashboard: http://dashboard.{config.base_domain}{port}/")
    if tls.ca_cert:
        click.echo(f"The platform's CA certificate: {tls.ca_cert}")
    try:
        serve_together(servers, api.state.stopping)
    finally:
        if router is not None:
            router.stop()
        ticker.stop()
        sampler.stop()
        certificates.stop()
        runtime.close()
        stop_addons(providers)
        if network is not None:
            network.close()
        logplex.close()
        dispatcher.close()
        platform.store.dispose()
        click.echo("Slipway stopped.")
