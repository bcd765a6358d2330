"""The heroku-postgresql service: its plans and the one thing they change, the connection limit."""

from __future__ import annotations

from slipway.addons.errors import UnknownPlan
from slipway.addons.provider import Plan, Service

SERVICE_NAME = "heroku-postgresql"

PLANS = (
    Plan(
        f"{SERVICE_NAME}:essential-0",
        "Essential 0",
        description="20 connections; storage is not capped.",
        default=True,
    ),
    Plan(
        f"{SERVICE_NAME}:essential-1",
        "Essential 1",
        description="20 connections; storage is not capped.",
    ),
    Plan(
        f"{SERVICE_NAME}:standard-0",
        "Standard 0",
        description="120 connections; storage is not capped.",
    ),
)

# The only thing plans change: the role's CONNECTION LIMIT (Heroku's numbers).
CONNECTION_LIMITS = {
    f"{SERVICE_NAME}:essential-0": 20,
    f"{SERVICE_NAME}:essential-1": 20,
    f"{SERVICE_NAME}:standard-0": 120,
}

SERVICE = Service(
    name=SERVICE_NAME,
    human_name="Heroku Postgres",
    aliases=("postgresql",),
    plans=PLANS,
    config_var_suffix="DATABASE",
)


def plan_named(name: str) -> Plan:
    """The plan with the full name `name` ("heroku-postgresql:essential-0")."""
    for plan in PLANS:
        if plan.name == name:
            return plan
    raise UnknownPlan(
        f"The {SERVICE_NAME} service has no plan {name}; available plans: "
        + ", ".join(p.short_name for p in PLANS)
        + "."
    )
