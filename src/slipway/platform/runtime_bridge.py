"""The dyno manager's view of the platform: store reads and writes it may ask for.

`server.py` hands a `RuntimeBridge` to the `DynoManager` as its hooks, so the
runtime gets specs and settles releases without knowing about the store.
"""

from __future__ import annotations

from collections.abc import Callable

from slipway.platform import dynos
from slipway.platform.release_output import ReleaseOutputs
from slipway.platform.tx import Platform
from slipway.runtime.specs import AppSpec
from slipway.slugs.store import SlugStore

Publish = Callable[[str, str, str, str], None]


class RuntimeBridge:
    def __init__(
        self,
        platform: Platform,
        slugs: SlugStore,
        publish: Publish,
        release_outputs: ReleaseOutputs | None = None,
    ) -> None:
        self.platform = platform
        self.slugs = slugs
        self._publish = publish
        self.release_outputs = release_outputs

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
        if source == "heroku":
            self.platform.metrics.observe_runtime_line(app_id, process, message)

    def app_stub(self, app_id: str) -> tuple[str, bool, tuple[str, ...]] | None:
        with self.platform.tx() as tx:
            return dynos.app_stub(tx, app_id)

    def eco_seconds(self, app_id: str, seconds: float) -> None:
        with self.platform.tx() as tx:
            dynos.record_eco_usage(tx, app_id, seconds)
        self.platform.metrics.observe_eco(app_id, seconds)

    def release_phase_started(self, app_id: str, version: int) -> None:
        if self.release_outputs is not None:
            self.release_outputs.phase_started(app_id, version)

    def release_phase_line(self, app_id: str, version: int, line: str) -> None:
        if self.release_outputs is not None:
            self.release_outputs.phase_line(app_id, version, line)

    def release_phase_ended(self, app_id: str, version: int, status: int) -> None:
        if self.release_outputs is not None:
            self.release_outputs.phase_ended(app_id, version, status)
