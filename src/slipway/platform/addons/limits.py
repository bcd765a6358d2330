"""Limits that only a periodic check can enforce (a row limit), checked by the ticker.

Every provisioned add-on whose provider has `SupportsLimits` is checked; what
the provider says changed (a warning, writes revoked, writes restored) goes to
the log stream of every app the add-on is attached to.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select

from slipway.addons.errors import AddonError
from slipway.addons.provider import SupportsLimits
from slipway.platform.addons.backup_schedules import attached_apps
from slipway.platform.tx import Platform
from slipway.store.models import AddonRow

log = logging.getLogger("slipway.addons")


def enforce_all(platform: Platform, now: dt.datetime) -> list[str]:
    """The messages logged this round."""
    with platform.tx() as tx:
        rows = [
            (r.id, r.service, r.resource_id)
            for r in tx.session.scalars(select(AddonRow).where(AddonRow.state == "provisioned"))
        ]
    said: list[str] = []
    for addon_id, service, resource_id in rows:
        provider = platform.ports.addons.get(service)
        if resource_id is None or provider is None or not isinstance(provider, SupportsLimits):
            continue
        try:
            message = provider.enforce_limits(resource_id, now)
        except AddonError as exc:
            log.warning("could not check the limits of %s: %s", resource_id, exc.message)
            continue
        if not message:
            continue
        said.append(message)
        with platform.tx() as tx:
            for app_id in attached_apps(tx, addon_id):
                tx.log(app_id, message, process=service.removeprefix("heroku-"))
    return said
