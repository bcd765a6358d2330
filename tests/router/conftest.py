"""One fake control plane, one router process and a pool of dyno threads per module.

The router runs with shrunk timeouts so H12, H15, H19 and H20 take a few seconds at most.
Each test adds its own apps (unique names) to the shared route table.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from slipway.router.dataplane import find_haproxy
from slipway.tls import TlsFiles, ensure_certificates
from tests.router.harness import (
    FakeControlPlane,
    LoopThread,
    RouterProcess,
    Routes,
    free_port,
)

TIMEOUTS = [
    "--connect-timeout",
    "0.5",
    "--request-timeout",
    "2",
    "--idle-timeout",
    "3",
    "--boot-timeout",
    "2",
    "--shutdown-timeout",
    "5",
]


@pytest.fixture(scope="module")
def lt() -> Iterator[LoopThread]:
    loop_thread = LoopThread()
    yield loop_thread
    loop_thread.stop()


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return ensure_certificates(tmp_path_factory.mktemp("tls"), "localhost", [])


@pytest.fixture(scope="module")
def control() -> Iterator[FakeControlPlane]:
    plane = FakeControlPlane().start()
    yield plane
    plane.close()


# Every router test runs against both data planes: HAProxy in front (`--data-plane
# haproxy`) and the Python router alone (the default).
DATA_PLANES = ["haproxy", "python"] if find_haproxy()[0] else ["python"]


@pytest.fixture(scope="module", params=DATA_PLANES)
def router(
    request: pytest.FixtureRequest, control: FakeControlPlane, tls: TlsFiles
) -> Iterator[RouterProcess]:
    args = [
        "--data-plane",
        request.param,
        "--control-url",
        control.url,
        "--tls-cert",
        str(tls.cert),
        "--tls-key",
        str(tls.key),
        *TIMEOUTS,
    ]
    proc = RouterProcess(args, tls_port=free_port(), data_plane=request.param).start()
    yield proc
    assert proc.stop() == 0
    # Whatever the tests threw at it, the router never hit an unexpected error.
    errors = [line for line in proc.log if " ERROR " in line or "Traceback" in line]
    assert not errors, "\n".join(proc.log)


@pytest.fixture(scope="module")
def routes(control: FakeControlPlane, router: RouterProcess) -> Routes:
    table = Routes(control, router)
    table.push()
    return table


@pytest.fixture
def name() -> str:
    return f"app-{uuid.uuid4().hex[:10]}"
