"""The PostgreSQL TLS front: what a query and a new connection cost through it.

A named server without TLS (`--postgres-admin-url`, here the machine's PostgreSQL)
is reached through `addons/postgres/tlsfront.py`, which answers the client's
SSLRequest with the platform's certificate and relays to the server. Measured with
psycopg (libpq), one client at a time:

  * query round trips (`SELECT 1`) on one open connection, and
  * new connections (connect, authenticate, one query, close),

each through the front with `sslmode=require` (what apps written for Heroku ask for),
with the baseline in the same run: the same role and database straight to the server
with `sslmode=disable`. Prints percentiles and the ratio front/baseline.

Usage: .venv/bin/python bench/pgfront.py [--queries 5000] [--connections 200]
(SLIPWAY_TEST_PG names the server; default postgresql://postgres@127.0.0.1:5432/postgres)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import psycopg  # noqa: E402

from slipway.addons import AddonSettings, PostgresProvider  # noqa: E402
from slipway.addons.postgres import SERVICE  # noqa: E402
from slipway.tls import ensure_certificates, ensure_host_certificate  # noqa: E402

PG = os.environ.get("SLIPWAY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e6

    return f"p50 {at(0.5):7.0f} us  p90 {at(0.9):7.0f} us  p99 {at(0.99):7.0f} us"


def timed(count: int, step: Callable[[], object]) -> list[float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        step()
        samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=200)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="slipway-bench-pgfront-"))
    root.chmod(0o711)
    ensure_certificates(root / "tls", "localhost", [])
    tls = ensure_host_certificate(root / "tls", "addons", ["127.0.0.1", "localhost"])
    provider = PostgresProvider(
        root, AddonSettings(postgres_admin_url=PG, tls_cert=tls.cert, tls_key=tls.key)
    )
    provider.start()
    try:
        addon = provider.provision("postgresql-bench-1", SERVICE.default_plan, {})
        through_front = addon.config["URL"]
        admin = urllib.parse.urlsplit(PG)
        direct = (
            urllib.parse.urlsplit(through_front)
            ._replace(
                netloc=f"{urllib.parse.urlsplit(through_front).netloc.rsplit('@', 1)[0]}@"
                f"{admin.hostname}:{admin.port or 5432}"
            )
            .geturl()
        )
        runs = {
            "direct, sslmode=disable (baseline)": (direct, "disable"),
            "TLS front, sslmode=require": (through_front, "require"),
        }
        results: dict[str, tuple[list[float], list[float]]] = {}
        for label, (url, mode) in runs.items():
            with psycopg.connect(url, sslmode=mode) as conn:

                def query(c: psycopg.Connection[tuple[object, ...]] = conn) -> None:
                    c.execute("SELECT 1").fetchone()

                timed(200, query)  # warm up
                queries = timed(args.queries, query)

            def connect_once(u: str = url, m: str = mode) -> None:
                with psycopg.connect(u, sslmode=m) as conn:
                    conn.execute("SELECT 1").fetchone()

            connects = timed(args.connections, connect_once)
            results[label] = (queries, connects)
        print(
            f"{args.queries} queries (SELECT 1 on one connection), {args.connections} new "
            "connections, one client"
        )
        for label, (queries, connects) in results.items():
            print(f"  {label}")
            print(f"    query   {percentiles(queries)}")
            print(f"    connect {percentiles(connects)}")
        (bq, bc), (fq, fc) = results.values()
        query_ratio = statistics.median(fq) / statistics.median(bq)
        connect_ratio = statistics.median(fc) / statistics.median(bc)
        print(
            f"  ratio front/baseline (median): query {query_ratio:.2f}x, "
            f"connect {connect_ratio:.2f}x"
        )
    finally:
        for resource_id in provider.resource_ids():
            provider.deprovision(resource_id)
        provider.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
