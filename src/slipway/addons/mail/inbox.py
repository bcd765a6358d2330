"""Each slipway-mail add-on's inbox: every message it accepted, the newest 1,000 kept.

    <root>/<resource_id>/inbox/<id>.eml    the message as signed and relayed
    <root>/<resource_id>/inbox/<id>.json   envelope, subject, size, relay status

Ids are `<UTC time>-<random>`, so they sort by arrival. A message is written
(fsync'd, renamed into place) before the SMTP server answers 250, so an
accepted message survives a crash of the platform.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from collections import deque
from collections.abc import Mapping
from datetime import datetime, timedelta
from email.parser import BytesHeaderParser
from email.policy import default
from pathlib import Path
from typing import Any

from slipway.addons._files import private_dir, read_json, write_json
from slipway.addons._names import check_resource_id
from slipway.addons.errors import ResourceNotFound
from slipway.addons.mail.service import INBOX_SIZE, SERVICE_NAME
from slipway.addons.provider import Message


def _meta_message(meta: Mapping[str, Any], raw: bytes = b"") -> Message:
    return Message(
        id=str(meta["id"]),
        received_at=datetime.fromisoformat(str(meta["received_at"])),
        mail_from=str(meta["mail_from"]),
        recipients=tuple(meta["recipients"]),
        subject=str(meta["subject"]),
        size=int(meta["size"]),
        status=str(meta["status"]),
        raw=raw,
    )


class Inboxes:
    """The inboxes of every slipway-mail add-on (the provider's `inbox` capability)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._recent: dict[str, deque[datetime]] = {}

    def _dir(self, resource_id: str) -> Path:
        check_resource_id(resource_id, SERVICE_NAME)
        return self.root / resource_id / "inbox"

    def _ids(self, resource_id: str) -> list[str]:
        directory = self._dir(resource_id)
        if not directory.exists():
            return []
        return sorted(p.stem for p in directory.glob("*.json"))

    def keep(
        self, resource_id: str, mail_from: str, recipients: list[str], raw: bytes, now: datetime
    ) -> str:
        """Write a message (before the 250), drop the oldest past 1,000; its id."""
        directory = private_dir(self._dir(resource_id))
        message_id = f"{now.strftime('%Y%m%dT%H%M%S%f')}-{secrets.token_hex(3)}"
        headers = BytesHeaderParser(policy=default).parsebytes(raw)
        path = directory / f"{message_id}.eml"
        partial = directory / f".{message_id}.eml.partial"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(raw)
            out.flush()
            os.fsync(out.fileno())
        partial.replace(path)
        write_json(
            directory / f"{message_id}.json",
            {
                "id": message_id,
                "received_at": now.isoformat(),
                "mail_from": mail_from,
                "recipients": recipients,
                "subject": str(headers.get("Subject", "")),
                "size": len(raw),
                "status": "queued",
            },
        )
        with self._lock:
            self._sent(resource_id).append(now)
        ids = self._ids(resource_id)
        for old in ids[: max(0, len(ids) - INBOX_SIZE)]:
            (directory / f"{old}.eml").unlink(missing_ok=True)
            (directory / f"{old}.json").unlink(missing_ok=True)
        return message_id

    def _sent(self, resource_id: str) -> deque[datetime]:
        """When the add-on's recent messages arrived (from the inbox at first use)."""
        recent = self._recent.get(resource_id)
        if recent is None:
            recent = deque()
            for message_id in self._ids(resource_id)[-INBOX_SIZE:]:
                with contextlib.suppress(OSError, ValueError, KeyError):
                    meta = read_json(self._dir(resource_id) / f"{message_id}.json")
                    recent.append(datetime.fromisoformat(meta["received_at"]))
            self._recent[resource_id] = recent
        return recent

    def sent_within(self, resource_id: str, now: datetime, window: timedelta) -> int:
        with self._lock:
            recent = self._sent(resource_id)
            while recent and recent[0] <= now - window:
                recent.popleft()
            return len(recent)

    def set_status(self, resource_id: str, message_id: str, status: str) -> None:
        path = self._dir(resource_id) / f"{message_id}.json"
        with contextlib.suppress(OSError, ValueError):
            meta = read_json(path)
            meta["status"] = status
            write_json(path, meta)

    def queued(self, resource_id: str) -> list[str]:
        """Messages accepted but not yet relayed (a relay interrupted by a restart)."""
        found = []
        for message_id in self._ids(resource_id):
            with contextlib.suppress(OSError, ValueError):
                if read_json(self._dir(resource_id) / f"{message_id}.json")["status"] == "queued":
                    found.append(message_id)
        return found

    def raw(self, resource_id: str, message_id: str) -> bytes:
        return (self._dir(resource_id) / f"{message_id}.eml").read_bytes()

    def forget(self, resource_id: str) -> None:
        with self._lock:
            self._recent.pop(resource_id, None)

    # -- the Inbox protocol

    def list_messages(self, resource_id: str, limit: int = 100) -> list[Message]:
        found: list[Message] = []
        for message_id in reversed(self._ids(resource_id)):
            if len(found) >= limit:
                break
            with contextlib.suppress(OSError, ValueError, KeyError):
                found.append(
                    _meta_message(read_json(self._dir(resource_id) / f"{message_id}.json"))
                )
        return found

    def message(self, resource_id: str, message_id: str) -> Message:
        directory = self._dir(resource_id)
        meta_path = directory / f"{message_id}.json"
        if "/" in message_id or not meta_path.exists():
            raise ResourceNotFound(
                f"There is no message {message_id} in this inbox; mail:inbox lists the messages."
            )
        return _meta_message(read_json(meta_path), self.raw(resource_id, message_id))
