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
from slipway.certs.acme_client import AcmeIssuer
from slipway.certs.responder import ChallengeResponder
from slipway.git.http import GitAuthError, PushGrant
from slipway.logs.drains import DrainDispatcher, DrainSpec
from slipway.logs.plex import Logplex
from slipway.platform import apps, authorizations, drains, route_rules
from slipway.platform.acm.manager import CertificateManager
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
        base_domain=config.apps_base_domain,
        router_port=config.router_ports[1] if config.domain else config.router_port,
        router_scheme="https" if config.domain else "http",
        git_host=config.git_host,
        api_url=config.public_api_url,
        runs_dynos=True,
        services=platform_services(config),
        platform_domain=config.domain,
        acme=bool(config.domain and config.acme),
        operator_cert_names=operator_cert_names(config),
    )
    return Platform(store, settings)


def operator_cert_names(config: ServerConfig) -> tuple[str, ...]:
    """The names the operator's --tls-cert covers (ACM issues none for them)."""
    if config.tls_cert is None:
        return ()
    from slipway.platform.acm.pem import read_certificate

    return read_certificate(config.tls_cert.read_text()).names


def platform_services(config: ServerConfig) -> tuple[tuple[str, str, bool], ...]:
    """The platform's own hosts behind the router: the dashboard on the API's listener;
    with --domain also api.D (the API) and git.D (git's listener, plain HTTP on loopback
    then), all three redirected to HTTPS when asked over plain HTTP."""
    # A wildcard bind is reached on loopback: the router runs on this machine.
    host = "127.0.0.1" if config.host in ("0.0.0.0", "::", "") else config.host  # noqa: S104

    def address(port: int) -> str:
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    if config.domain:
        d = config.domain
        return (
            (f"api.{d}", address(config.port), True),
            (f"git.{d}", address(config.git_port), True),
            (f"dashboard.{d}", address(config.port), True),
        )
    return ((f"dashboard.{config.base_domain}", address(config.port), False),)


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
    platform.ports.dyno_samples = manager

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


def start_certificates(
    config: ServerConfig, platform: Platform, data_dir: Path
) -> CertificateManager:
    """The certificates the router serves (users' and ACM's), and with --domain the ACME
    client and its HTTP-01 responder on loopback."""
    issuer = None
    if platform.settings.acme:
        responder = ChallengeResponder()
        responder.start()
        issuer = AcmeIssuer(
            config.acme_directory,
            config.acme_email,
            data_dir / "tls" / "acme-account.key",
            responder,
            ca_bundle=config.acme_ca_cert,
        )
        click.echo(f"Certificates from {config.acme_directory} (HTTP-01 through the router)")
    manager = CertificateManager(platform, issuer, data_dir / "tls" / "served", config.acm)
    platform.ports.certificates = manager
    manager.start()
    return manager


def serve_certificates(
    context: ssl.SSLContext, certificates: CertificateManager, default_name: str
) -> None:
    """SNI on a listener of the control plane's own (the rendezvous): the certificate the
    store holds for the name asked, or for `default_name` when the client names none (the
    official CLI's `heroku run` sends no SNI), else the listener's own."""
    loaded: dict[str, ssl.SSLContext] = {}

    def pick(sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        name = name or default_name
        for entry in certificates.router_entries():
            if name.lower() in entry["names"]:
                chosen = loaded.get(entry["fingerprint"])
                if chosen is None:
                    chosen = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                    chosen.load_cert_chain(entry["cert"], entry["key"])
                    loaded[entry["fingerprint"]] = chosen
                sock.context = chosen
                return

    context.sni_callback = pick


def start_runtime(
    config: ServerConfig,
    platform: Platform,
    data_dir: Path,
    tls: TlsFiles,
    logplex: Logplex,
    release_outputs: ReleaseOutputs,
    network: DynoNetwork | None = None,
    certificates: CertificateManager | None = None,
) -> DynoManager:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(tls.cert), str(tls.key))
    public_host = f"api.{config.domain}" if config.domain else config.public_host
    if certificates is not None:
        serve_certificates(context, certificates, public_host)
    manager = DynoManager(
        LocalDriver(
            data_dir / "runtime",
            hidden=host_runtime_paths() if config.runtime.hide_host_runtimes else (),
            network=network,
            disk_mb=config.runtime.dyno_disk_mb or None,
        ),
        RuntimeBridge(platform, SlugStore(data_dir / "slugs"), logplex.publish, release_outputs),
        config.runtime,
        rendezvous=Rendezvous(context, public_host),
        # With --domain it is public too (its own port), with the api host's certificate.
        rendezvous_bind=(
            config.router_bind if config.domain else config.host,
            config.rendezvous_port,
        ),
    )
    connect_runtime(platform, manager)
    manager.start()
    assert manager.rendezvous is not None
    click.echo(
        f"One-off dynos attach on rendezvous://{manager.rendezvous.public_host}:"
        f"{manager.rendezvous.port}"
    )
    return manager


def check_public_ports(config: ServerConfig) -> None:
    """With --domain, say in one sentence if the router could not bind its public ports
    for lack of privilege, before anything starts."""
    if not config.domain or not config.run_router:
        return
    import errno
    import socket

    for port in config.router_ports:
        with socket.socket() as probe:
            try:
                probe.bind((config.router_bind, port))
            except PermissionError:
                raise click.ClickException(
                    f"Port {port} needs root (or CAP_NET_BIND_SERVICE); run Slipway as root or "
                    "choose --http-port/--https-port above 1023."
                ) from None
            except OSError as exc:
                if exc.errno == errno.EADDRNOTAVAIL:
                    raise click.ClickException(
                        f"This machine has no address {config.router_bind}; give --router-host "
                        "one of its own (or 0.0.0.0)."
                    ) from None
                # In use: often our own router from before a restart, which is adopted.


def start_router(
    config: ServerConfig, data_dir: Path, tls: TlsFiles, token: str
) -> RouterSupervisor | None:
    if not config.run_router:
        return None
    supervisor = RouterSupervisor(
        RouterLaunch(
            argv=router_argv(
                listen=f"{config.router_bind}:{config.router_ports[0]}",
                tls_listen=f"{config.router_bind}:{config.router_ports[1]}",
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
    bind = config.router_bind
    shown = "localhost" if bind in ("127.0.0.1", "0.0.0.0") else bind  # noqa: S104
    http, https = config.router_ports
    click.echo(
        f"Apps answer at http://APP.{config.apps_base_domain}:{http}/ and "
        f"https://APP.{config.apps_base_domain}:{https}/ (router on {shown})"
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
