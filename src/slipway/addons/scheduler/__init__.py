"""scheduler: Heroku Scheduler's add-on, whose jobs the platform runs as one-off dynos.

The add-on holds no server and no config vars: its jobs (schedule, command,
dyno size) are platform records, run by the platform's scheduler
(`slipway.platform.scheduler`) on the app's current release as `scheduler.N`
dynos. The provider only names the service and its plan, and hands out an id.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from slipway.addons._names import random_name
from slipway.addons.errors import InvalidOptions
from slipway.addons.provider import AddonSettings, Plan, PlanChange, Provisioned, Service

SERVICE_NAME = "scheduler"
MAX_JOBS = {f"{SERVICE_NAME}:standard": 50}

PLANS = (
    Plan(
        f"{SERVICE_NAME}:standard",
        "Standard",
        description="Up to 50 jobs; each run is a one-off dyno, billed as dyno time.",
        default=True,
    ),
)

SERVICE = Service(
    name=SERVICE_NAME,
    human_name="Heroku Scheduler",
    aliases=("heroku-scheduler",),
    plans=PLANS,
    config_var_suffix="SCHEDULER",
)


class SchedulerProvider:
    service = SERVICE

    def __init__(self, data_dir: Path, settings: AddonSettings | None = None) -> None:
        self.data_dir = data_dir

    def provision(self, resource_name: str, plan: Plan, options: Mapping[str, str]) -> Provisioned:
        if options:
            raise InvalidOptions("The scheduler service takes no options; remove them.")
        return Provisioned(resource_id=random_name("s"), config={})

    def deprovision(self, resource_id: str) -> None:
        """Nothing to remove here: the platform deletes the add-on's jobs with it."""

    def config(self, resource_id: str) -> dict[str, str]:
        return {}

    def info(self, resource_id: str) -> list[tuple[str, str]]:
        return [("Plan", PLANS[0].human_name), ("Jobs", "see `slipway scheduler`")]

    def rotate_credentials(self, resource_id: str) -> dict[str, str]:
        return {}

    def change_plan(self, resource_id: str, plan: Plan) -> PlanChange:
        return PlanChange(f"The scheduler is on {plan.human_name}; no restart was needed.")

    def start(self) -> None:
        """The platform's scheduler runs the jobs; nothing runs here."""

    def stop(self) -> None:
        """Nothing runs here."""
