"""The HTTP router: Host header -> app -> one of its web dynos, Heroku's way.

A standalone process (asyncio on uvloop, httptools, no web framework on the request
path). Modules, each with one job:

    config.py      RouterConfig: every timeout, limit and buffer size
    table.py       the route table the control plane sends, and Host lookup
    control.py     the control plane link: tables in; router lines, activity, wake out
    reports.py     ReportQueue: router lines and activity waiting to go out, bounded
    process.py     the process: uvloop, signals, prefork workers
    server.py      Router: listeners, the timeout sweeper, graceful stop
    client.py      ClientConnection: one client socket, parsing, limits, pipelining
    flow.py        the client side's flow control: why reading is paused
    exchange.py    Exchange: one request/response from head to router line, streamed
    phases.py      the phases an exchange moves through
    routing.py     where a request goes: app, dyno, backlog or hold, the connect
    failures.py    how an exchange ends early: H-codes, their pages, the timers
    forwarding.py  the heads the dyno and the client see (X-Forwarded-*, Via, hop-by-hop)
    backend.py     BackendConnection: one dyno socket, response parsing
    pool.py        kept-alive dyno connections; connect with timeout, retry, quarantine
    balancer.py    least-outstanding-requests dyno choice, per-dyno limit, backlog
    state.py       RouterState: what all connections share; applying a new table
    logline.py     Heroku's router log line and the H-code table
    pages.py       the router's own error pages
    errors.py      the exception tree
    cli.py         `slipway router`
"""

from slipway.router.config import RouterConfig
from slipway.router.errors import RouterError
from slipway.router.process import run_router
from slipway.router.server import Router
from slipway.router.table import AppRoute, AppState, Backend, RouteTable

__all__ = [
    "AppRoute",
    "AppState",
    "Backend",
    "RouteTable",
    "Router",
    "RouterConfig",
    "RouterError",
    "run_router",
]
