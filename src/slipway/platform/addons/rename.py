"""Renaming an add-on (`addons:rename`); its plan changes in place in `plans.py`."""

from __future__ import annotations

import re

from sqlalchemy import select

from slipway.platform import views
from slipway.platform.addons.records import addon_view, find_addon
from slipway.platform.apps import find_app_row
from slipway.platform.errors import InvalidParams
from slipway.platform.tx import Tx
from slipway.store.models import AddonRow

ADDON_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{2,99}$")


def rename_addon(
    tx: Tx, actor: views.Actor, app_ident: str, addon_ident: str, new_name: str
) -> views.Addon:
    app = find_app_row(tx, actor, app_ident, lock=True)
    row = find_addon(tx, actor, addon_ident, app)
    if row.app_id != app.id:
        raise InvalidParams(f"{row.name} belongs to another app; rename it from that app.")
    if not ADDON_NAME_RE.match(new_name):
        raise InvalidParams(
            f"Name {new_name!r} is invalid; an add-on's name starts with a letter and has "
            "only lowercase letters, digits and dashes."
        )
    if new_name != row.name:
        if tx.session.scalar(select(AddonRow.id).where(AddonRow.name == new_name)):
            raise InvalidParams(f"Name {new_name} is already taken; choose another.")
        tx.log(app.id, f"Rename {row.name} to {new_name} by user {actor.email}")
        row.name = new_name
        row.updated_at = tx.clock.now()
        tx.session.flush()
    return addon_view(tx, row)
