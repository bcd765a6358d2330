"""Which add-on services exist: the built-ins plus every `slipway.addons` entry point.

A third party ships a provider as a distribution with

    [project.entry-points."slipway.addons"]
    acme-cache = "acme_cache:AcmeCacheProvider"

where the name is the service name and the value a callable
`(data_dir: Path, settings: AddonSettings) -> Provider`. Slipway's own
providers are found even without reinstalling (they are built in here too).
A third-party provider that fails to load, or claims a name or alias already
taken, is skipped with a warning: the platform still starts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from slipway.addons.errors import AddonError, UnknownService
from slipway.addons.mail import MailProvider
from slipway.addons.memcached import MemcachedProvider
from slipway.addons.mysql import MysqlProvider
from slipway.addons.postgres import PostgresProvider
from slipway.addons.provider import AddonSettings, Plan, Provider, ProviderFactory, Service
from slipway.addons.rabbitmq import RabbitProvider
from slipway.addons.redis import RedisProvider
from slipway.addons.scheduler import SchedulerProvider

log = logging.getLogger("slipway.addons")

ENTRY_POINT_GROUP = "slipway.addons"

BUILTIN_PROVIDERS: dict[str, ProviderFactory] = {
    PostgresProvider.service.name: PostgresProvider,
    RedisProvider.service.name: RedisProvider,
    MysqlProvider.service.name: MysqlProvider,
    RabbitProvider.service.name: RabbitProvider,
    MemcachedProvider.service.name: MemcachedProvider,
    MailProvider.service.name: MailProvider,
    SchedulerProvider.service.name: SchedulerProvider,
}


def load_providers(data_dir: Path, settings: AddonSettings | None = None) -> dict[str, Provider]:
    """Every provider, by service name, built-ins first. Constructing one does no I/O."""
    settings = settings or AddonSettings()
    factories: dict[str, tuple[ProviderFactory, str]] = {
        name: (factory, "built in") for name, factory in BUILTIN_PROVIDERS.items()
    }
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        origin = f"entry point {ep.name} = {ep.value}"
        try:
            factory = ep.load()
        except Exception as exc:  # a broken plugin must not stop the platform
            log.warning("skipping add-on provider %s: it failed to load: %s", origin, exc)
            continue
        known = factories.get(ep.name)
        if known is not None:
            if known[0] is not factory:
                log.warning(
                    "skipping add-on provider %s: %s is already provided (%s)",
                    origin,
                    ep.name,
                    known[1],
                )
            continue
        factories[ep.name] = (factory, origin)

    providers: dict[str, Provider] = {}
    claimed: dict[str, str] = {}  # service name or alias -> service name
    for name, (factory, origin) in factories.items():
        builtin = name in BUILTIN_PROVIDERS and BUILTIN_PROVIDERS[name] is factory
        try:
            provider = factory(data_dir, settings)
            _check(provider, name)
        except Exception as exc:
            if builtin:
                raise
            log.warning("skipping add-on provider %s: %s", origin, exc)
            continue
        names = [provider.service.name, *provider.service.aliases]
        clash = [n for n in names if n in claimed]
        if clash:
            log.warning(
                "skipping add-on provider %s: %s already names %s",
                origin,
                clash[0],
                claimed[clash[0]],
            )
            continue
        for n in names:
            claimed[n] = name
        providers[name] = provider
    return providers


def _check(provider: object, name: str) -> None:
    if not isinstance(provider, Provider):
        raise TypeError("it does not implement the Provider protocol")
    service = provider.service
    if not isinstance(service, Service) or service.name != name:
        raise TypeError(f"its service is not named {name}")
    if not service.plans:
        raise TypeError("its service has no plans")


@dataclass(frozen=True)
class Resolved:
    provider: Provider
    plan: Plan

    @property
    def service(self) -> Service:
        return self.provider.service


def parse_plan_spec(spec: str) -> tuple[str, str | None]:
    """ "heroku-postgresql:essential-0" -> ("heroku-postgresql", "essential-0"); no plan -> None."""
    text = spec.strip().lower()
    service, sep, plan = text.partition(":")
    if not service or (sep and not plan):
        raise AddonError(
            f"The add-on plan {spec!r} is not valid; use SERVICE or SERVICE:PLAN, "
            "e.g. heroku-postgresql:essential-0."
        )
    return service, (plan if sep else None)


def _catalogue(providers: Mapping[str, Provider]) -> str:
    parts = []
    for provider in providers.values():
        service = provider.service
        aliases = f" ({', '.join(service.aliases)})" if service.aliases else ""
        parts.append(service.name + aliases)
    return ", ".join(parts) or "none"


def find_provider(providers: Mapping[str, Provider], name: str) -> Provider:
    """The provider of a service name or alias ("heroku-postgresql", "postgresql")."""
    wanted = name.strip().lower()
    for provider in providers.values():
        service = provider.service
        if wanted == service.name or wanted in service.aliases:
            return provider
    raise UnknownService(
        f"There is no add-on service called {name!r}; available services: {_catalogue(providers)}."
    )


def resolve_service(providers: Mapping[str, Provider], spec: str) -> Resolved:
    """SERVICE or SERVICE:PLAN (SERVICE may be an alias) -> the provider and the plan.

    With no plan, the service's default plan.
    """
    service_name, plan_name = parse_plan_spec(spec)
    provider = find_provider(providers, service_name)
    service = provider.service
    if plan_name is None:
        return Resolved(provider, service.default_plan)
    return Resolved(provider, service.plan_named(plan_name))
