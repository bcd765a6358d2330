"""The composition root's building blocks: each function makes one part and wires it in.

`compose.serve` calls them in order. Parts meet here and nowhere else: the
platform learns of the dyno manager, Logplex and the add-on providers through
`platform.ports`, the dyno manager of the platform through its hooks, git of
the platform through an authoriser.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import ssl
from collections.abc import Callable
from pathlib import Path

import click

from slipway.addons.errors import AddonError
from slipway.addons.provider import AddonSettings, Provider
from slipway.addons.registry import load_providers
from slipway.git.http import GitAuthError, PushGrant
from slipway.logs.drains import DrainDispatcher, DrainSpec
from slipway.logs.plex import Logplex
from slipway.platform import apps, authorizations, drains, route_rules
from slipway.platform.errors import Forbidden, NotFound, Unauthorized
from slipway.platform.events import AppDestroyed, AppLog, DrainsChanged, Event, RuntimeChanged
from slipway.platform.permissions import scope_refusal
from slipway.platform.release_output import ReleaseOutputs
from slipway.platform.runtime_bridge import RuntimeBridge
from slipway.platform.tx import Platform
from slipway.runtime.local import LocalDriver, host_runtime_paths
from slipway.runtime.manager import DynoManager
from slipway.runtime.network.host import DynoNetwork, NetworkError, unavailable_reason
from slipway.runtime.rendezvous import Rendezvous
from slipway.server.config import ServerConfig
from slipway.server.data_dir import prepare_data_dir
from slipway.server.router_supervisor import RouterLaunch, RouterSupervisor, router_argv
from slipway.slugs.store import SlugStore
from slipway.store import Store
from slipway.store.engine import sqlite_url
from slipway.tls import TlsFiles, ensure_host_certificate

log = logging.getLogger("slipway.server")


def build_platform(config: ServerConfig) -> Platform:
    data_dir = prepare_data_dir(config.data_dir)
    store = Store(config.store_url or sqlite_url(data_dir / "slipway.db"))
    store.migrate()
    settings = dataclasses.replace(
        config.platform,
        base_domain=config.base_domain,
        router_port=config.router_port,
        git_host=config.git_host,
        api_url=config.api_url,
        runs_dynos=True,
    )
    return Platform(store, settings)


def make_authoriser(platform: Platform) -> Callable[[str, str, bool], PushGrant]:
    """git's door: the token and the person's permissions, through `platform.access`."""

    def authorise(key: str, app_name: str, pushing: bool) -> PushGrant:
        need = route_rules.GIT_PUSH if pushing else route_rules.GIT_FETCH
        try:
            with platform.tx() as tx:
                actor = authorizations.authenticate(tx, key).needing(need)
                refusal = scope_refusal(actor.scopes, need)
                if refusal is not None:
                    raise Forbidden(refusal)
                app = apps.find_app_row(tx, actor, app_name)
                app_id = app.id
        except Unauthorized as exc:
            raise GitAuthError(401, f"{exc.message} Use a token as the password.") from exc
        except NotFound as exc:
            raise GitAuthError(404, f"Couldn't find that app ({app_name}).") from exc
        except Forbidden as exc:
            raise GitAuthError(403, exc.message) from exc
        return PushGrant(actor.id, actor.email, app_id, actor.authorization_id)

    return authorise


def connect_logs(platform: Platform, logplex: Logplex, dispatcher: DrainDispatcher) -> None:
    """Platform events become log lines; drains follow the store, now and on every change."""

    def load_drains(app_id: str) -> None:
        with platform.tx() as tx:
            rows = drains.drains_of(tx, app_id)
        dispatcher.set_drains(app_id, [DrainSpec(i, token, url) for i, token, url in rows])

    def on_event(event: Event) -> None:
        if isinstance(event, AppLog):
            # The platform's lines (`app[api]`) belong to a committed change about to be
            # acknowledged: on disk before the reply. Router lines may wait for the flush.
            logplex.publish(
                event.app_id,
                event.source,
                event.process,
                event.message,
                durable=event.process == "api",
            )
        elif isinstance(event, DrainsChanged):
            load_drains(event.app_id)
        elif isinstance(event, AppDestroyed):
            dispatcher.set_drains(event.app_id, [])
            logplex.forget(event.app_id)

    platform.bus.subscribe(on_event)
    with platform.tx() as tx:
        app_ids = drains.all_app_ids_with_drains(tx)
    for app_id in app_ids:
        load_drains(app_id)


def connect_runtime(platform: Platform, manager: DynoManager) -> None:
    """Releases, scales and app changes make the dyno manager re-plan the app; the dyno and
    router-feed use cases reach it through the platform's ports."""
    platform.ports.dyno_runtime = manager
    platform.ports.router_feed = manager

    def on_event(event: Event) -> None:
        if isinstance(event, RuntimeChanged):
            manager.converge(event.app_id)
        elif isinstance(event, AppDestroyed):
            manager.forget(event.app_id)

    platform.bus.subscribe(on_event)


def start_network(config: ServerConfig, data_dir: Path) -> DynoNetwork | None:
    """The dyno network (a bridge, nftables rules, a namespace per dyno), or None with a
    loud warning where it cannot be had: then dynos share the host's network."""
    wanted = config.runtime.dyno_network.strip().lower()
    if wanted == "off":
        log.warning("!!! --dyno-network off: dynos share the host's network (NO isolation). !!!")
        return None
    reason = unavailable_reason(os.geteuid() == 0)
    if reason is None:
        try:
            return DynoNetwork.open(
                data_dir / "runtime" / "network", None if wanted == "auto" else wanted
            )
        except (NetworkError, ValueError, OSError) as exc:
            reason = str(exc)
    log.warning(
        "!!! Dynos share the host's network (NO network isolation): %s. Run Slipway as "
        "root with iproute2 and nftables installed to give each dyno its own. !!!",
        reason,
    )
    return None


def start_runtime(
    config: ServerConfig,
    platform: Platform,
    data_dir: Path,
    tls: TlsFiles,
    logplex: Logplex,
    release_outputs: ReleaseOutputs,
    network: DynoNetwork | None = None,
) -> DynoManager:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(tls.cert), str(tls.key))
    manager = DynoManager(
        LocalDriver(
            data_dir / "runtime",
            hidden=host_runtime_paths() if config.runtime.hide_host_runtimes else (),
            network=network,
            disk_mb=config.runtime.dyno_disk_mb or None,
        ),
        RuntimeBridge(platform, SlugStore(data_dir / "slugs"), logplex.publish, release_outputs),
        config.runtime,
        rendezvous=Rendezvous(context, config.public_host),
        rendezvous_bind=(config.host, config.rendezvous_port),
    )
    connect_runtime(platform, manager)
    manager.start()
    assert manager.rendezvous is not None
    click.echo(
        f"One-off dynos attach on rendezvous://{config.public_host}:{manager.rendezvous.port}"
    )
    return manager


def start_router(
    config: ServerConfig, data_dir: Path, tls: TlsFiles, token: str
) -> RouterSupervisor | None:
    if not config.run_router:
        return None
    supervisor = RouterSupervisor(
        RouterLaunch(
            argv=router_argv(
                listen=f"{config.router_host}:{config.router_port}",
                tls_listen=f"{config.router_host}:{config.router_tls_port}",
                cert=tls.cert,
                key=tls.key,
                control_url=config.api_url,
                ca=(tls.ca_cert, tls.cert.parent / "ca.key") if tls.ca_cert else None,
                workers=config.router_workers,
                data_plane_dir=data_dir / "router-haproxy",
            )
            + list(config.router_args),
            token=token,
            pid_file=data_dir / "router.pid",
            log_file=data_dir / "router.log",
        )
    )
    supervisor.start()
    shown = "localhost" if config.router_host in ("127.0.0.1", "0.0.0.0") else config.router_host  # noqa: S104
    click.echo(
        f"Apps answer at http://APP.{config.base_domain}:{config.router_port}/ and "
        f"https://APP.{config.base_domain}:{config.router_tls_port}/ (router on {shown})"
    )
    return supervisor


def addon_settings(
    config: ServerConfig, tls: TlsFiles, network: DynoNetwork | None = None
) -> AddonSettings:
    """The providers' settings: with a dyno network, their servers also listen on its
    bridge address, which their URLs name (the one platform address a dyno reaches, on its
    app's add-on ports); and a certificate for the add-on servers, from the platform's CA
    for the hosts in add-on URLs, or the operator's own."""
    settings = config.addons
    if network is not None and settings.listen_host is None:
        settings = dataclasses.replace(settings, listen_host=network.plan.host_address)
    if tls.ca_cert is None:
        return dataclasses.replace(settings, tls_cert=tls.cert, tls_key=tls.key)
    hosts = ["127.0.0.1", "localhost", "::1", config.public_host]
    hosts += [h for h in (settings.postgres_host, settings.listen_host) if h]
    addon_tls = ensure_host_certificate(tls.ca_cert.parent, "addons", hosts)
    return dataclasses.replace(settings, tls_cert=addon_tls.cert, tls_key=addon_tls.key)


def start_addons(
    config: ServerConfig, data_dir: Path, tls: TlsFiles, network: DynoNetwork | None = None
) -> dict[str, Provider]:
    """Add-on providers (built-in and entry points), with the servers they run brought back."""
    settings = addon_settings(config, tls, network)
    providers = load_providers(data_dir, settings)
    for name, provider in providers.items():
        try:
            provider.start()
        except AddonError as exc:
            # One broken provider must not keep the platform down; its add-ons say why.
            log.error("add-on provider %s did not start: %s", name, exc.message)
    return providers


def stop_addons(providers: dict[str, Provider]) -> None:
    for name, provider in providers.items():
        try:
            provider.stop()
        except AddonError as exc:
            log.error("add-on provider %s did not stop cleanly: %s", name, exc.message)
