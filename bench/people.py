"""What authorisation costs a request, and what a password sign-in costs.

In process, the real API application on a real store (SQLite in a temporary
directory) through Starlette's TestClient. Timed, each many times:
  * baseline: `GET /tls/info`, a public route (no token, no rule check beyond the table);
  * `GET /account`: token authentication only;
  * `GET /apps/APP` as its owner, and as a team member with a per-app grant
    (membership and grants read), the full authorisation path;
  * `POST /oauth/authorizations` with email and password (`heroku login -i`) at the
    production argon2 cost (t=3, 64 MiB) and at the tests' (t=1, 256 KiB).

Usage: .venv/bin/python bench/people.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

# TestClient's own note about httpx is not what this measures.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
from starlette.testclient import TestClient  # noqa: E402

from slipway.api.app import create_api  # noqa: E402
from slipway.platform import accounts  # noqa: E402
from slipway.platform.settings import PlatformSettings  # noqa: E402
from slipway.platform.tx import Platform  # noqa: E402
from slipway.store import Store  # noqa: E402
from slipway.store.engine import sqlite_url  # noqa: E402

ACCEPT = "application/vnd.heroku+json; version=3"
PASSWORD = "correct horse battery"


def timed(n: int, call: Callable[[], int]) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        status = call()
        samples.append((time.perf_counter() - start) * 1000)
        assert status < 400, status
    return samples


def row(name: str, samples: list[float], base: float) -> str:
    q = statistics.quantiles(samples, n=100)
    p50 = statistics.median(samples)
    return f"{name:<44} p50 {p50:7.3f} ms  p99 {q[98]:7.3f} ms  x{p50 / base:5.2f}"


def client_for(tmp: Path, settings: PlatformSettings) -> tuple[TestClient, str, str]:
    store = Store(sqlite_url(tmp / "bench.db"))
    store.migrate()
    platform = Platform(store, settings)
    with platform.tx() as tx:
        made = accounts.bootstrap_admin(tx, "admin@example.com")
    assert made is not None
    client = TestClient(create_api(platform, rate_limit=10**9), headers={"Accept": ACCEPT})
    return client, made[1], "admin@example.com"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--sign-ins", type=int, default=20)
    args = parser.parse_args()
    n = args.requests
    cheap = dataclasses.replace(PlatformSettings(), password_hash_time=1, password_hash_memory=256)
    with tempfile.TemporaryDirectory() as tmp:
        client, key, _ = client_for(Path(tmp), cheap)
        owner = {"Authorization": f"Bearer {key}"}
        client.post("/apps", json={"name": "bench-own"}, headers=owner)
        client.post("/teams", json={"name": "bench-team"}, headers=owner)
        client.post(
            "/teams/apps", json={"name": "bench-team-app", "team": "bench-team"}, headers=owner
        )
        member = client.post(
            "/accounts", json={"email": "m@example.com", "password": PASSWORD}, headers=owner
        ).json()["api_key"]
        client.put(
            "/teams/bench-team/members",
            json={"email": "m@example.com", "role": "member"},
            headers=owner,
        )
        client.post(
            "/teams/apps/bench-team-app/collaborators",
            json={"user": "m@example.com", "permissions": ["deploy"]},
            headers=owner,
        )
        as_member = {"Authorization": f"Bearer {member}"}
        for _ in range(50):  # warm up
            client.get("/apps/bench-own", headers=owner)
        base = timed(n, lambda: client.get("/tls/info").status_code)
        b = statistics.median(base)
        print(f"{n} requests each, in process (SQLite); ratios against the public route")
        print(row("GET /tls/info (public: baseline)", base, b))
        print(
            row(
                "GET /account (token only)",
                timed(n, lambda: client.get("/account", headers=owner).status_code),
                b,
            )
        )
        print(
            row(
                "GET /apps/APP as its owner",
                timed(n, lambda: client.get("/apps/bench-own", headers=owner).status_code),
                b,
            )
        )
        print(
            row(
                "GET /apps/APP as a team member with a grant",
                timed(n, lambda: client.get("/apps/bench-team-app", headers=as_member).status_code),
                b,
            )
        )
        print(
            row(
                "GET /apps/APP/config-vars as that member",
                timed(
                    n,
                    lambda: (
                        client.get(
                            "/apps/bench-team-app/config-vars", headers=as_member
                        ).status_code
                    ),
                ),
                b,
            )
        )

        def sign_in(c: TestClient) -> int:
            answer = c.post(
                "/oauth/authorizations",
                auth=("m@example.com", PASSWORD),
                json={"scope": ["global"]},
            )
            return int(answer.status_code)

        cheap_samples = timed(args.sign_ins, lambda: sign_in(client))
        print(row("sign-in, tests' argon2 cost (t=1, 256 KiB)", cheap_samples, b))
    with tempfile.TemporaryDirectory() as tmp:
        prod, key, _ = client_for(Path(tmp), PlatformSettings())
        prod.post(
            "/accounts",
            json={"email": "m@example.com", "password": PASSWORD},
            headers={"Authorization": f"Bearer {key}"},
        )
        print(
            row(
                "sign-in, production argon2 (t=3, 64 MiB)",
                timed(args.sign_ins, lambda: sign_in(prod)),
                b,
            )
        )


if __name__ == "__main__":
    main()
