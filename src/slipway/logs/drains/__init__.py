"""Logplex drains: an app's log stream, also delivered to syslog and HTTP(S) endpoints.

One module per job, as logplex keeps one module per drain type:

- `urls.py`: what a drain URL may be (`parse_drain_url`, pure);
- `probe.py`: whether its host accepts connections (`check_reachable`), asked once
  when a drain is added;
- `framing.py`: RFC 5424 frames, octet counted, for syslog and HTTP(S) drains;
- `buffer.py`: one drain's bounded buffer and Logplex's L10 notice when it overflows;
- `dispatcher.py`: every app's drains, `deliver` from any thread, senders on its loop;
- `syslog.py` and `https.py`: the two senders.

Publishing never waits on a drain. `DrainDispatcher.deliver` appends the line to a
bounded buffer per drain (O(1), under a lock held for a few instructions) and wakes that
drain's sender only when the sender is idle; the senders run on the dispatcher's own
event loop in a daemon thread. When a buffer is full the oldest line is dropped; the
next delivery then starts with Logplex's L10 notice saying how many were lost.

Syslog drains: RFC 5424 messages with RFC 6587 octet counting over one persistent
TCP (or TLS) connection, reconnected with back-off. HTTP(S) drains: batches POSTed
as `application/logplex-1`, retried on 5xx/429/network errors, dropped on other 4xx.
"""

from __future__ import annotations

from slipway.logs.drains.buffer import DrainSpec, DrainStats, overflow_notice
from slipway.logs.drains.dispatcher import DrainDispatcher
from slipway.logs.drains.framing import http_frame, syslog_frame
from slipway.logs.drains.probe import ReachabilityProbe, check_reachable
from slipway.logs.drains.urls import SCHEMES, DrainTarget, DrainUrlError, parse_drain_url

__all__ = [
    "SCHEMES",
    "DrainDispatcher",
    "DrainSpec",
    "DrainStats",
    "DrainTarget",
    "DrainUrlError",
    "ReachabilityProbe",
    "check_reachable",
    "http_frame",
    "overflow_notice",
    "parse_drain_url",
    "syslog_frame",
]
