"""The jawsdb-maria service: its plans and the limit they set on the add-on's user."""

from __future__ import annotations

from slipway.addons.provider import Plan, Service

SERVICE_NAME = "jawsdb-maria"

# What plans change: the user's MAX_USER_CONNECTIONS (JawsDB's numbers), applied live.
CONNECTION_LIMITS = {
    f"{SERVICE_NAME}:kitefin": 10,
    f"{SERVICE_NAME}:leopard": 15,
    f"{SERVICE_NAME}:chestnut": 50,
}

PLANS = (
    Plan(
        f"{SERVICE_NAME}:kitefin",
        "Kitefin Shared",
        description="10 connections.",
        default=True,
    ),
    Plan(f"{SERVICE_NAME}:leopard", "Leopard Shared", 1000, description="15 connections."),
    Plan(f"{SERVICE_NAME}:chestnut", "Chestnut Shared", 3500, description="50 connections."),
)

SERVICE = Service(
    name=SERVICE_NAME,
    human_name="JawsDB Maria (MariaDB)",
    aliases=("mysql", "mariadb"),
    plans=PLANS,
    config_var_suffix="JAWSDB_MARIA",
)
