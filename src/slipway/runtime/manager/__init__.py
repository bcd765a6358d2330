"""The dyno manager: keeps every app's dynos converged on its release and formation.

One loop thread gathers facts (exits, ports bound, timers, memory), hands them
to the pure `planner.plan`, and carries the steps out. State transitions are
logged to the app's Logplex stream with Heroku's `heroku[web.1]:` wording.

The package, one job per module:

* `loop.py`: `DynoManager`, the loop thread and the thread-safe methods the
  platform calls (converge, dynos, restart, stop, run, route table, wake...).
* `reconcile.py`: load an app's spec, plan, carry out the steps, settle releases.
* `lifecycle.py`: a dyno's start, boot, stop, exit and crash.
* `output.py`: a dyno's output cut into lines and capped per dyno (L12).
* `health.py`: the timers: port bound, R10, R12, R14/R15, idling and wake,
  eco hours, daily cycling, crash back-off.
* `one_off.py`: one-off dynos and attaching to them through the rendezvous.
* `routes.py`: the route table the router serves from.
* `records.py`, `state.py`, `options.py`, `waiters.py`: what the parts share.

The driver that runs the processes (`runtime.driver.Driver`, `local.LocalDriver`
in a server), the clock and the random source are the constructor's, so tests
can script time and processes.
"""

from slipway.runtime.manager.loop import DynoManager
from slipway.runtime.manager.options import RuntimeHooks, RuntimeOptions
from slipway.runtime.manager.records import DynoInfo, DynoSample, OneOffRequest, ReleaseOutcome

__all__ = [
    "DynoInfo",
    "DynoManager",
    "DynoSample",
    "OneOffRequest",
    "ReleaseOutcome",
    "RuntimeHooks",
    "RuntimeOptions",
]
