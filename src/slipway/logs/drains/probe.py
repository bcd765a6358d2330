"""Whether a drain's host accepts connections: asked once, before a drain is added.

A drain that can never deliver is refused up front, as Heroku does, rather than
failing silently later. This is blocking network I/O; callers run it off the loop.
"""

from __future__ import annotations

import socket

from slipway.logs.drains.urls import DrainTarget, DrainUrlError, parse_drain_url

PROBE_TIMEOUT = 3.0


def check_reachable(target: DrainTarget, timeout: float = PROBE_TIMEOUT) -> None:
    """Resolve the host and open (then close) a TCP connection to it; blocking.

    Raises DrainUrlError("<host>:<port> cannot be reached: <reason>; check the host and
    port.") when the name does not resolve or no address accepts a connection."""
    where = f"{target.host}:{target.port}"

    def refuse(reason: str) -> DrainUrlError:
        return DrainUrlError(f"{where} cannot be reached: {reason}; check the host and port.")

    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise refuse("the host name does not resolve") from exc
    reason = "no address to connect to"
    for family, kind, proto, _name, address in infos:
        sock = socket.socket(family, kind, proto)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except TimeoutError:
            reason = f"the connection timed out after {timeout:g} s"
        except OSError as exc:
            reason = (exc.strerror or str(exc) or type(exc).__name__).lower()
        else:
            return
        finally:
            sock.close()
    raise refuse(reason)


class ReachabilityProbe:
    """The platform's drain probe (`platform.ports.DrainProbe`), over `check_reachable`."""

    def __init__(self, timeout: float = PROBE_TIMEOUT) -> None:
        self.timeout = timeout

    def unreachable(self, url: str) -> str | None:
        """None when the drain URL's host and port accept a TCP connection, else the one
        sentence saying why not."""
        try:
            check_reachable(parse_drain_url(url), self.timeout)
        except DrainUrlError as exc:
            return str(exc)
        return None
