"""metrics: an app's requests, response times, memory and CPU, per process type."""

from __future__ import annotations

from typing import Any

import click

from slipway.cli import output
from slipway.cli.base import app_option, cli_context, json_option
from slipway.cli.client import seg
from slipway.cli.errors import CliError


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:g} ms"


QUANTILES = ("p50_ms", "p95_ms", "p99_ms")


def _memory(point: dict[str, Any]) -> str:
    if not point["memory_quota_mb"]:
        return "-"
    return f"{point['memory_rss_mb']:.1f}/{point['memory_quota_mb']:.0f} MB"


def _counts(counts: dict[str, int]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "-"


@click.command("metrics")
@app_option
@click.option("--minutes", default=60, show_default=True, help="How far back to look.")
@click.option(
    "--resolution",
    type=click.Choice(["1m", "10m"]),
    default="1m",
    show_default=True,
    help="One row per minute (kept 24 hours) or per ten minutes (kept 7 days).",
)
@json_option
def metrics(app: str | None, minutes: int, resolution: str, as_json: bool) -> None:
    """Show an app's metrics: requests by status, response times, memory, CPU."""
    ctx = cli_context()
    name = ctx.resolve_app(app)
    data: dict[str, Any] = ctx.client().get(
        f"/apps/{seg(name)}/metrics", params={"minutes": str(minutes), "resolution": resolution}
    )
    if as_json:
        output.print_json(data)
        return
    types = data.get("process_types") or {}
    if not types:
        raise CliError(f"No metrics for {name} in the last {minutes} minutes; send it requests.")
    for ptype, found in sorted(types.items()):
        totals = found["totals"]
        output.header(f"{name} {ptype}: last {minutes} minutes")
        output.key_values(
            [
                ("Requests", str(totals["requests"])),
                ("By status", _counts(totals["counts"])),
                (
                    "p50 / p95 / p99",
                    " / ".join(_ms(totals[k]) for k in ("p50_ms", "p95_ms", "p99_ms")),
                ),
                ("Events", _counts(totals["events"])),
            ]
        )
        rows = [
            [
                p["start"][11:16],
                str(p["requests"]),
                _ms(p["p50_ms"]),
                _ms(p["p95_ms"]),
                _ms(p["p99_ms"]),
                f"{p['memory_rss_mb']:.1f}/{p['memory_quota_mb']:.0f} MB"
                if p["memory_quota_mb"]
                else "-",
                f"{p['cpu_percent']:.1f}%",
                _counts(p["counts"]),
            ]
            for p in found["series"]
        ]
        output.table(["minute", "requests", "p50", "p95", "p99", "memory", "cpu", "status"], rows)
        output.line()
