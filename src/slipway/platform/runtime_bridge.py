"""The dyno manager's view of the platform: store reads and writes it may ask for.

`server.py` hands a `RuntimeBridge` to the `DynoManager` as its hooks, so the
runtime gets specs and settles releases without knowing about the store.
"""

from __future__ import annotations

from collections.abc import Callable

from slipway.platform import dynos
from slipway.platform.tx import Platform
from slipway.runtime.specs import AppSpec
from slipway.slugs.store import SlugStore

Publish = Callable[[str, str, str, str], None]


class RuntimeBridge:
    def __init__(self, platform: Platform, slugs: SlugStore, publish: Publish) -> None:
        self.platform = platform
        self.slugs = slugs
        self._publish = publish

    def load_app(self, app_id: str) -> AppSpec | None:
        with self.platform.tx() as tx:
            return dynos.app_spec(tx, app_id, self.slugs.path_for)

    def app_ids(self) -> list[str]:
        with self.platform.tx() as tx:
            return dynos.all_app_ids(tx)

    def settle(self, app_id: str, version: int, ok: bool, reason: str) -> dict[int, str]:
        with self.platform.tx() as tx:
            return dynos.settle_release(tx, app_id, version, ok, reason)

    def publish(self, app_id: str, source: str, process: str, message: str) -> None:
        self._publish(app_id, source, process, message)

    def app_stub(self, app_id: str) -> tuple[str, bool, tuple[str, ...]] | None:
        with self.platform.tx() as tx:
            return dynos.app_stub(tx, app_id)

    def eco_seconds(self, app_id: str, seconds: float) -> None:
        with self.platform.tx() as tx:
            dynos.record_eco_usage(tx, app_id, seconds)
