"""The router process: uvloop, signals, the open-files limit, and prefork workers.

`run_router(config)` runs one router (`server.Router`) until SIGTERM or SIGINT,
then stops it gracefully and returns 0 (SIGHUP rereads a static table). With
`workers > 1` it is a parent that forks that many routers on shared ports
(SO_REUSEPORT) and starts again any that die.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import signal
from typing import Any

import uvloop

from slipway.router.config import RouterConfig
from slipway.router.dataplane import find_haproxy
from slipway.router.errors import RouterError, TableError
from slipway.router.server import Router

log = logging.getLogger("slipway.router")


def _raise_open_files_limit() -> None:
    # Every proxied request can hold two sockets; the default soft limit (1024) is low.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # One failing callback must never take the router down: log it and go on.
    exc = context.get("exception")
    log.error("router: %s", context.get("message", "unhandled error"), exc_info=exc)


async def _serve(config: RouterConfig, haproxy: str | None = None) -> int:
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_exception_handler)
    router = Router(config, haproxy)
    # HAProxy listens before start returns: a SIGHUP then (a new static table) must not
    # kill the router, which would take HAProxy with it. It is applied once started.
    early_hup = asyncio.Event()
    if config.static_table is not None:
        loop.add_signal_handler(signal.SIGHUP, early_hup.set)
    try:
        await router.start()
    except (OSError, RouterError) as exc:
        log.error("router cannot start: %s", exc)
        return 1
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if config.static_table is not None:

        def reload() -> None:
            try:
                router.reload_static_table()
            except TableError as exc:
                log.error("%s; keeping the current table", exc)

        loop.add_signal_handler(signal.SIGHUP, reload)
        if early_hup.is_set():
            reload()
    await stop.wait()
    log.info("stopping: no new connections, letting in-flight requests finish")
    await router.shutdown()
    log.info("stopped")
    return 0


def run_router(config: RouterConfig) -> int:
    """Run a router until SIGTERM/SIGINT; the process exit status is the result."""
    _raise_open_files_limit()
    if config.static_table is not None:
        # Until the loop takes SIGHUP over (`_serve`), a reread request must not kill
        # the router: the table it names is read at start anyway.
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    haproxy = choose_data_plane(config)
    if haproxy is not None:
        # HAProxy's threads carry the traffic; one Python process is its controller.
        return uvloop.run(_serve(config, haproxy))
    if config.workers <= 1:
        return uvloop.run(_serve(config))
    return _run_workers(config)


def choose_data_plane(config: RouterConfig) -> str | None:
    """The HAProxy binary to use, or None to serve through this process alone."""
    if config.data_plane == "python":
        return None
    binary, why = find_haproxy()
    if binary is None:
        if config.data_plane == "haproxy":
            raise SystemExit(f"{why}: install the haproxy package, or use --data-plane python.")
        log.warning("%s, so the router serves every request itself (slower).", why)
    return binary


def _run_workers(config: RouterConfig) -> int:
    """A parent that forks `workers` routers on shared ports, passes signals on, and
    starts a worker again if one dies. Workers die with the parent (PDEATHSIG)."""
    import ctypes
    import os
    import time

    libc = ctypes.CDLL(None, use_errno=True)
    children: dict[int, int] = {}
    stopping = False
    passed_on = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}

    def spawn(slot: int) -> None:
        # Held while forking: a stop that comes now reaches the new worker once it is in
        # `children` (it used to miss it, which then served on until a SIGKILL).
        signal.pthread_sigmask(signal.SIG_BLOCK, passed_on)
        try:
            pid = os.fork()
            if pid == 0:
                libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: never outlive the parent
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                signal.signal(signal.SIGHUP, signal.SIG_IGN)  # until its loop takes it over
                signal.pthread_sigmask(signal.SIG_UNBLOCK, passed_on)
                code = 1
                try:
                    code = uvloop.run(_serve(config))
                finally:
                    os._exit(code)  # never back into the parent's code
            children[pid] = slot
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, passed_on)

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        if signum in (signal.SIGTERM, signal.SIGINT):
            stopping = True
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    for sig in passed_on:
        signal.signal(sig, forward)
    for slot in range(config.workers):
        if stopping:
            break  # stopped before every worker was made: make no more
        spawn(slot)
    status = 0
    while children:
        try:
            pid, code = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        slot = children.pop(pid, -1)
        exit_code = os.waitstatus_to_exitcode(code)
        if stopping or slot < 0:
            status = status or max(exit_code, 0)
            continue
        log.error("router worker %d exited (%d); starting it again", pid, exit_code)
        time.sleep(0.5)
        spawn(slot)
    return status
