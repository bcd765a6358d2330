"""Which of an app's config vars belong to add-on attachments (DATABASE_URL, REDIS_URL ...)."""

from __future__ import annotations

from sqlalchemy import select

from slipway.platform.tx import Tx
from slipway.store.models import AddonAttachmentRow, AddonRow


def addon_config_keys(tx: Tx, app_id: str) -> list[str]:
    rows = tx.session.execute(
        select(AddonAttachmentRow.name, AddonRow.config_keys)
        .join(AddonRow, AddonRow.id == AddonAttachmentRow.addon_id)
        .where(AddonAttachmentRow.app_id == app_id)
    ).all()
    return sorted(f"{row.name}_{key}" for row in rows for key in row.config_keys)
