"""The heroku-postgresql service: its plans, their connection limits, the smallest plan's
row limit, and how many scheduled backups each keeps."""

from __future__ import annotations

from slipway.addons.provider import Plan, Service

SERVICE_NAME = "heroku-postgresql"

PLANS = (
    Plan(
        f"{SERVICE_NAME}:essential-0",
        "Essential 0",
        500,
        description="20 connections, 10,000 rows; 7 daily scheduled backups kept.",
        default=True,
        backup_retention=(7, 0),
    ),
    Plan(
        f"{SERVICE_NAME}:essential-1",
        "Essential 1",
        900,
        description="20 connections, rows not capped; 7 daily scheduled backups kept.",
        backup_retention=(7, 0),
    ),
    Plan(
        f"{SERVICE_NAME}:standard-0",
        "Standard 0",
        5000,
        description="120 connections, rows not capped; 7 daily and 4 weekly backups kept.",
        backup_retention=(7, 4),
    ),
)

# The role's CONNECTION LIMIT (Heroku's numbers), changed live by a plan change.
CONNECTION_LIMITS = {
    f"{SERVICE_NAME}:essential-0": 20,
    f"{SERVICE_NAME}:essential-1": 20,
    f"{SERVICE_NAME}:standard-0": 120,
}

# Heroku's row limit of its smallest plan: over it, a warning; still over it after the
# grace period (7 days), INSERT is revoked until the database is back under it.
ROW_LIMITS = {f"{SERVICE_NAME}:essential-0": 10_000}

SERVICE = Service(
    name=SERVICE_NAME,
    human_name="Heroku Postgres",
    aliases=("postgresql",),
    plans=PLANS,
    config_var_suffix="DATABASE",
)
