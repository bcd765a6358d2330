"""Which of an app's config vars belong to add-on attachments (DATABASE_URL, REDIS_URL ...)."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

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


def addon_endpoints(values: Iterable[str]) -> tuple[tuple[str, int], ...]:
    """The (host, port) pairs add-on config values name (pure): `postgres://u:p@h:5432/d`,
    `redis://h:6379`, or a comma-separated `h1:11211,h2:11211`. What has no port is left out."""
    found: set[tuple[str, int]] = set()
    for value in values:
        for item in value.split(","):
            item = item.strip()
            if not item:
                continue
            parts = urlsplit(item if "://" in item else f"//{item}")
            try:
                host, port = parts.hostname, parts.port
            except ValueError:
                continue
            if host and port:
                found.add((host, port))
    return tuple(sorted(found))
