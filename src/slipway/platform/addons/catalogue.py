"""The add-on catalogue: the services the providers offer, their plans, and SERVICE[:PLAN].

Services and plans have no rows: they come from the providers on the `addons`
port, and their ids are stable hashes of their names.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from slipway.addons.provider import Plan, Provider, Service
from slipway.platform import views
from slipway.platform.errors import InvalidParams, NotFound
from slipway.platform.tx import Platform


def catalogue_id(kind: str, name: str) -> str:
    """The stable id of a service ("service") or plan ("plan") called `name`."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"slipway:{kind}:{name}"))


def _service_view(service: Service) -> views.AddonService:
    return views.AddonService(
        id=catalogue_id("service", service.name),
        name=service.name,
        human_name=service.human_name,
    )


def _plan_view(service: Service, plan: Plan) -> views.AddonPlan:
    return views.AddonPlan(
        id=catalogue_id("plan", plan.name),
        name=plan.name,
        human_name=plan.human_name,
        description=plan.description,
        default=plan.default,
        price_cents=plan.price_cents,
        service=_service_view(service),
    )


def _find_service(platform: Platform, ident: str) -> Service:
    """By name, id or alias."""
    for provider in platform.ports.addons.values():
        service = provider.service
        if ident in (service.name, catalogue_id("service", service.name), *service.aliases):
            return service
    raise NotFound(f"Couldn't find that add-on service ({ident}).", resource="addon_service")


def list_services(platform: Platform) -> list[views.AddonService]:
    return [_service_view(p.service) for p in platform.ports.addons.values()]


def get_service(platform: Platform, ident: str) -> views.AddonService:
    return _service_view(_find_service(platform, ident))


def list_plans(platform: Platform, service_ident: str) -> list[views.AddonPlan]:
    service = _find_service(platform, service_ident)
    return [_plan_view(service, p) for p in service.plans]


def get_plan(platform: Platform, service_ident: str, ident: str) -> views.AddonPlan:
    """By full name ("heroku-redis:mini"), short name ("mini") or id."""
    service = _find_service(platform, service_ident)
    for p in service.plans:
        if ident in (p.name, p.short_name, catalogue_id("plan", p.name)):
            return _plan_view(service, p)
    raise NotFound(f"Couldn't find that plan ({ident}).", resource="plan")


def resolve_plan(providers: Mapping[str, Provider], text: str) -> tuple[Provider, Plan]:
    """`heroku-postgresql`, `postgresql`, `heroku-redis:premium-0` -> (provider, plan)."""
    service_name, _, plan_name = text.strip().partition(":")
    key = service_name.lower()
    provider = next(
        (p for p in providers.values() if key == p.service.name or key in p.service.aliases),
        None,
    )
    if provider is None:
        names = ", ".join(sorted(providers))
        raise InvalidParams(
            f"Couldn't find either the add-on service or plan {text!r}; "
            f"available services: {names}."
        )
    service = provider.service
    plan = service.plan(plan_name) if plan_name else service.default_plan
    if plan is None:
        raise InvalidParams(service.no_plan(plan_name))
    return provider, plan
