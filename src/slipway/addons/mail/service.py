"""The slipway-mail service: its plans and the sending limits they set."""

from __future__ import annotations

from dataclasses import dataclass

from slipway.addons.provider import Plan, Service

SERVICE_NAME = "slipway-mail"
INBOX_SIZE = 1000  # messages kept per add-on, newest first


@dataclass(frozen=True)
class PlanLimits:
    per_hour: int  # messages accepted in any 60 minutes
    max_bytes: int  # the largest message accepted


PLAN_LIMITS = {
    f"{SERVICE_NAME}:starter": PlanLimits(100, 1024 * 1024),
    f"{SERVICE_NAME}:basic": PlanLimits(1000, 10 * 1024 * 1024),
    f"{SERVICE_NAME}:pro": PlanLimits(10000, 25 * 1024 * 1024),
}

PLANS = (
    Plan(
        f"{SERVICE_NAME}:starter",
        "Starter",
        description="100 messages an hour, up to 1 MB each.",
        default=True,
    ),
    Plan(f"{SERVICE_NAME}:basic", "Basic", 1500, description="1,000 messages an hour, 10 MB each."),
    Plan(f"{SERVICE_NAME}:pro", "Pro", 3500, description="10,000 messages an hour, 25 MB each."),
)

SERVICE = Service(
    name=SERVICE_NAME,
    human_name="Slipway Mail (SMTP)",
    aliases=("mail", "smtp", "mailgun"),
    plans=PLANS,
    config_var_suffix="SMTP",
    # SMTP_URL, SMTP_SERVER... and MAILGUN_SMTP_SERVER, _PORT, _LOGIN, _PASSWORD, the
    # names apps written for Mailgun already read.
    attachments=("SMTP", "MAILGUN_SMTP"),
)
