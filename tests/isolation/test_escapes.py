"""The dyno-escape suite: real dynos of one app (the attacker, tests/apps/escape) try to
reach what is not theirs, and each attempt is denied or contained. A neighbouring app (the
victim) keeps answering through the router while the attacker is noisy; its p99 is printed.

Positive controls keep each check honest: the attacker does reach its own add-on and the
outside world, and a listener the test opens on every host address is really listening.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.isolation.conftest import DISK_MB, App, Latency, redis_ports
from tests.support import ServerProcess

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="dyno isolation needs root")


def host_listening_ports() -> set[int]:
    """Every TCP port in LISTEN in the host's network namespace (the platform's and others')."""
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as fh:
            next(fh)
            for line in fh:
                parts = line.split()
                if parts[3] == "0A":
                    ports.add(int(parts[1].rsplit(":", 1)[1], 16))
    return ports


def host_addresses() -> list[str]:
    """The host's IPv4 addresses but loopback (which, inside a dyno, is the dyno's own)."""
    out = subprocess.run(["ip", "-j", "-4", "addr"], capture_output=True, text=True, check=True)
    return [
        info["local"]
        for link in json.loads(out.stdout)
        for info in link["addr_info"]
        if not info["local"].startswith("127.")
    ]


@pytest.fixture(scope="module")
def canary() -> Iterator[int]:
    """A host service on every address: what any platform listener looks like to a dyno."""
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))  # noqa: S104 - the point: reachable on every host address
        sock.listen(64)
        yield sock.getsockname()[1]


def test_each_dyno_has_an_address_of_its_own(escape_apps: tuple[App, App]) -> None:
    attacker, victim = escape_apps
    (a_host, a_port), (v_host, _) = attacker.web(), victim.web()
    assert a_host != v_host
    for host in (a_host, v_host):
        assert ipaddress.ip_address(host) in ipaddress.ip_network("172.30.0.0/15")
    # Its add-on URLs name the bridge, the one platform address it may use.
    assert (
        f"@{ipaddress.ip_network(a_host + '/24', strict=False)[1]}:"
        in attacker.config()["REDIS_URL"]
    )
    # Nothing answers on the host's loopback for the dyno's port: it is in its namespace.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", a_port), timeout=1).close()


def test_a_dyno_reaches_its_own_addon_and_the_outside_and_nothing_else(
    escape_apps: tuple[App, App], escape_server: ServerProcess, canary: int
) -> None:
    attacker, victim = escape_apps
    bridge = attacker.config()["REDIS_URL"].rsplit("@", 1)[1].split(":")[0]
    v_host, v_port = victim.web()
    own, theirs = redis_ports(attacker), redis_ports(victim)
    platform_ports = {
        escape_server.port,
        escape_server.git_port,
        escape_server.rendezvous_port,
        escape_server.router_port,
        escape_server.router_tls_port,
    }
    assert platform_ports <= host_listening_ports()
    ports = sorted(host_listening_ports() | {canary, v_port, *own, *theirs})
    opened = attacker.scan([*host_addresses(), v_host], ports)
    # Its own add-on, plain and TLS, on the bridge: nothing else.
    assert opened == [f"{bridge}:{port}" for port in sorted(own)]
    # The control: the canary does answer on the host's addresses, from the host.
    for address in host_addresses():
        socket.create_connection((address, canary), timeout=2).close()
    # The victim's add-on and dyno port, by name, and the cloud metadata service.
    targets = [*((bridge, port) for port in theirs), (v_host, v_port), ("169.254.169.254", 80)]
    for host, port in targets:
        outcome = attacker.attempt("connect", host, port)
        assert outcome["denied"], (host, port, outcome)
    # The outside world (here: the package registry builds use) is reachable through NAT.
    assert attacker.attempt("connect", "pypi.org", 443, 10) == {
        "denied": False,
        "detail": "connected",
    }


def test_the_platform_files_and_other_apps_files_are_out_of_sight(
    escape_apps: tuple[App, App], escape_server: ServerProcess
) -> None:
    attacker, victim = escape_apps
    data = escape_server.data_dir
    victim_id = victim.info()["id"]
    paths = [
        data,
        data / "slipway.db",
        data / "admin-api-key",
        data / "router-token",
        data / "secret",
        data / "tls",
        data / "slugs",
        data / "repos" / f"{victim_id}.git",
        data / "runtime" / "slugs" / victim_id,
        data / "addons",
        Path("/etc/shadow"),
        Path("/root"),
        Path("/work"),
    ]
    assert (data / "slipway.db").exists()  # the control: the host does have them
    for path in paths:
        outcome = attacker.attempt("read", path)
        assert outcome["denied"], (path, outcome)
        assert outcome["detail"] in ("ENOENT", "EACCES"), (path, outcome)
    # Its own ephemeral filesystem is its own: what the victim wrote is not there.
    assert victim.attempt("disk", "/app/victims-note", 1)["written_mb"] == 1


def test_processes_privileges_and_namespaces_are_denied(
    escape_apps: tuple[App, App], escape_server: ServerProcess
) -> None:
    attacker, _ = escape_apps
    seen = attacker.attempt("processes")["processes"]
    cmdlines = " ".join(p["cmdline"] for p in seen)
    assert "python3 web.py" in cmdlines  # the control: it sees itself
    assert len(seen) < 10, seen
    for marker in ("slipway server", "redis-server", str(escape_server.data_dir), "victim"):
        assert marker not in cmdlines, (marker, seen)
    assert escape_server.proc is not None
    for pid in (1, escape_server.proc.pid):
        assert attacker.attempt("ptrace", pid)["denied"], pid
    assert attacker.attempt("mount") == {"denied": True, "detail": "EPERM"}
    for kind in ("user", "mount", "net"):
        assert attacker.attempt("unshare", kind) == {"denied": True, "detail": "EPERM"}, kind
    assert attacker.attempt("raw") == {"denied": True, "detail": "EPERM,EPERM"}


def test_a_fork_bomb_stops_at_the_process_limit(escape_apps: tuple[App, App]) -> None:
    attacker, victim = escape_apps
    with Latency(victim) as idle:
        time.sleep(2)
    with Latency(victim) as latency:
        result, _ = attacker.run_detached("python3 attempts.py forkbomb 4")
    print(f"\nneighbour p99 with a quiet attacker: {idle.p99_ms():.1f} ms")
    print(f"neighbour p99 during a fork bomb: {latency.p99_ms():.1f} ms")
    assert result["denied"], result
    assert result["detail"] == "EAGAIN"
    assert result["forked"] < 256  # basic: pids.max 256, the dyno's own processes included
    assert not latency.failures


def test_memory_cpu_and_disk_are_contained(escape_apps: tuple[App, App]) -> None:
    attacker, victim = escape_apps
    with Latency(victim) as memory:
        _, lines = attacker.run_detached("python3 attempts.py memory 4096")
    print(f"\nneighbour p99 while a dyno fills its memory: {memory.p99_ms():.1f} ms")
    assert any("Error R15 (Memory quota vastly exceeded)" in line for line in lines), lines
    assert not any("held 4096 MB" in line for line in lines)

    with Latency(victim) as cpu:
        result, _ = attacker.run_detached("python3 attempts.py cpu 3 4")
    print(f"neighbour p99 while a dyno burns 4 CPUs: {cpu.p99_ms():.1f} ms")
    # basic: at most one CPU, however many processes busy-loop (and however idle the
    # machine: on a busy one it gets its share, which may be less).
    assert 0 < result["cpus"] <= 1.2, result

    with Latency(victim) as disk:
        full = attacker.attempt("disk", "/app/fill")
        tmp = attacker.attempt("disk", "/tmp/fill")
    print(f"neighbour p99 while a dyno fills its disk: {disk.p99_ms():.1f} ms")
    for outcome in (full, tmp):
        assert outcome["detail"] == "ENOSPC", outcome
        assert 0 < outcome["written_mb"] <= DISK_MB
    # ENOSPC there only: the neighbour still writes, and so does the host.
    assert victim.attempt("disk", "/app/after", 8) == {
        "denied": False,
        "detail": "",
        "written_mb": 8,
    }
    for latency in (memory, cpu, disk):
        assert not latency.failures, latency.failures
