"""The router's exception tree.

    RouterError
     ├── ConfigError        a RouterConfig that cannot work (bad listen address, cert without key)
     ├── TableError         a route table from the control plane that does not parse
     ├── ControlError       the control plane answered, but not with what the router needs
     └── BackendConnectError   no dyno could be connected to (carries H19 or H21)

Request-level failures are not exceptions: they end as an H-code router line and an
error page (`failures.py`), because one bad request must never unwind the event loop.
"""

from __future__ import annotations


class RouterError(Exception):
    """Base class for every error the router raises on purpose."""


class ConfigError(RouterError, ValueError):
    """The router was started with settings that cannot work."""


class TableError(RouterError):
    """A route table is malformed; the router keeps the table it had."""


class ControlError(RouterError):
    """The control plane refused a call or answered with an unexpected status."""


class BackendConnectError(RouterError):
    """Every connection attempt for a request failed.

    `code` is the router code to log: H19 when the last attempt timed out, H21 when
    it was refused (or failed at once for another network reason).
    """

    def __init__(self, code: str, dyno: str, connect_ms: int) -> None:
        super().__init__(f"{code} connecting to {dyno}")
        self.code = code
        self.dyno = dyno
        self.connect_ms = connect_ms
