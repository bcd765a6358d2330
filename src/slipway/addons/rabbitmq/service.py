"""The cloudamqp service: its plans and the vhost limits they set."""

from __future__ import annotations

from dataclasses import dataclass

from slipway.addons.provider import Plan, Service

SERVICE_NAME = "cloudamqp"


@dataclass(frozen=True)
class PlanLimits:
    connections: int  # the vhost's max-connections
    queues: int  # its max-queues


PLAN_LIMITS = {
    f"{SERVICE_NAME}:lemur": PlanLimits(20, 100),
    f"{SERVICE_NAME}:tiger": PlanLimits(100, 1000),
    f"{SERVICE_NAME}:bunny": PlanLimits(500, 5000),
}

PLANS = (
    Plan(
        f"{SERVICE_NAME}:lemur",
        "Little Lemur",
        description="20 connections, 100 queues.",
        default=True,
    ),
    Plan(
        f"{SERVICE_NAME}:tiger", "Tough Tiger", 1900, description="100 connections, 1,000 queues."
    ),
    Plan(f"{SERVICE_NAME}:bunny", "Big Bunny", 9900, description="500 connections, 5,000 queues."),
)

SERVICE = Service(
    name=SERVICE_NAME,
    human_name="CloudAMQP (RabbitMQ)",
    aliases=("rabbitmq", "amqp"),
    plans=PLANS,
    config_var_suffix="CLOUDAMQP",
)
