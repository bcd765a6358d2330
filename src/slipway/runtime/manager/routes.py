"""The route table the router serves from: each app's up web dynos, or why there are none.

Pure functions of the manager's records. The state names are the router's:
`up`, `starting`, `crashed`, `idle`, `quota`, `none` and `blank`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slipway.runtime.manager.records import RunningApp
from slipway.runtime.planner import DynoState


def route_table(apps: Mapping[str, RunningApp]) -> list[dict[str, Any]]:
    table = []
    for app_id, app in apps.items():
        if app.spec is None:
            if app.stub is not None:
                name, maintenance, domains = app.stub
                table.append(
                    {
                        "id": app_id,
                        "name": name,
                        "maintenance": maintenance,
                        "domains": list(domains),
                        "state": "blank",
                        "dynos": [],
                    }
                )
            continue
        state, dynos = route(app)
        table.append(
            {
                "id": app_id,
                "name": app.spec.app_name,
                "maintenance": app.spec.maintenance,
                "domains": list(app.spec.domains),
                "state": state,
                "dynos": [{"name": name, "host": host, "port": port} for name, host, port in dynos],
            }
        )
    return table


def route(app: RunningApp) -> tuple[str, list[tuple[str, str, int]]]:
    spec = app.spec
    if spec is None:
        return ("blank", [])
    promoted = app.promoted == spec.release.version
    if spec.current is None and not promoted:
        # The first release is rolling out: hold requests until it is live.
        return ("starting", [])
    current = spec.release.version if promoted or spec.current is None else spec.current.version
    web = [d for d in app.dynos if d.type == "web"]
    up = [
        (d.name, d.address, d.port)
        for d in web
        if d.state == DynoState.UP
        and d.port is not None
        and d.generation.version == current
        and not d.stopping
    ]
    if not up:
        # Mid-rollover the old release's dynos serve until the new ones are promoted.
        up = [
            (d.name, d.address, d.port)
            for d in web
            if d.state == DynoState.UP and d.port is not None and not d.stopping
        ]
    if up:
        return ("up", [(n, a, p) for n, a, p in up if p is not None])
    web_spec = spec.process("web")
    if app.asleep:
        return (app.asleep_for or "idle", [])
    if web_spec is None or web_spec.quantity == 0:
        return ("none", [])
    if any(d.state == DynoState.CRASHED for d in web) and not any(
        d.state == DynoState.STARTING for d in web
    ):
        return ("crashed", [])
    return ("starting", [])
