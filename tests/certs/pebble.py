"""Pebble (Let's Encrypt's test CA, Debian package `pebble`) and its challenge test
server as the test DNS: every name resolves to 127.0.0.1 unless a test says otherwise,
so Pebble validates HTTP-01 against the router's real HTTP port."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from slipway.tls import ensure_certificates
from tests.support import free_port


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Pebble:
    root: Path
    http_port: int  # where Pebble's VA sends HTTP-01 requests: the router's HTTP port
    validity: int = 3600  # seconds each certificate lives
    address: str = "127.0.0.1"  # what the test DNS answers for every name: the router
    port: int = field(default_factory=free_port)
    management_port: int = field(default_factory=free_port)
    dns_port: int = field(default_factory=free_udp_port)
    dns_management_port: int = field(default_factory=free_port)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def directory(self) -> str:
        return f"https://127.0.0.1:{self.port}/dir"

    @property
    def ca_cert(self) -> Path:
        """The CA of Pebble's own HTTPS listener (what the ACME client must trust)."""
        return self.root / "listener" / "ca.crt"

    def start(self) -> Pebble:
        if shutil.which("pebble") is None or shutil.which("pebble-challtestsrv") is None:
            raise RuntimeError("pebble is not installed; run ./scripts/test, which installs it.")
        tls = ensure_certificates(self.root / "listener", "localhost", ["127.0.0.1"])
        config = {
            "pebble": {
                "listenAddress": f"127.0.0.1:{self.port}",
                "managementListenAddress": f"127.0.0.1:{self.management_port}",
                "certificate": str(tls.cert),
                "privateKey": str(tls.key),
                "httpPort": self.http_port,
                "tlsPort": free_port(),
                "ocspResponderURL": "",
                "externalAccountBindingRequired": False,
                "certificateValidityPeriod": self.validity,
            }
        }
        path = self.root / "pebble-config.json"
        path.write_text(json.dumps(config))
        log = (self.root / "pebble.log").open("ab")
        self.procs.append(
            subprocess.Popen(
                [
                    "pebble-challtestsrv",
                    "-dns01",
                    f"127.0.0.1:{self.dns_port}",
                    "-http01",
                    "",
                    "-https01",
                    "",
                    "-tlsalpn01",
                    "",
                    "-management",
                    f"127.0.0.1:{self.dns_management_port}",
                    "-defaultIPv4",
                    self.address,
                    "-defaultIPv6",
                    "",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        env = {
            **os.environ,
            "PEBBLE_VA_NOSLEEP": "1",
            "PEBBLE_WFE_NONCEREJECT": "0",
            # Every order is validated afresh: a refresh really asks the router again.
            "PEBBLE_AUTHZREUSE": "0",
        }
        self.procs.append(
            subprocess.Popen(
                ["pebble", "-config", str(path), "-dnsserver", f"127.0.0.1:{self.dns_port}"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                ctx = ssl.create_default_context(cafile=str(self.ca_cert))
                httpx.get(self.directory, verify=ctx, timeout=1)
                return self
            time.sleep(0.1)
        raise RuntimeError(f"pebble did not start:\n{self.log()}")

    def log(self) -> str:
        path = self.root / "pebble.log"
        return path.read_text() if path.exists() else ""

    def roots(self) -> str:
        """Pebble's issuing root (made afresh at each start), for verifying what it issued."""
        ctx = ssl.create_default_context(cafile=str(self.ca_cert))
        response = httpx.get(f"https://127.0.0.1:{self.management_port}/roots/0", verify=ctx)
        response.raise_for_status()
        return response.text

    def point(self, host: str, address: str) -> None:
        """Make the test DNS answer `host` with `address` (instead of 127.0.0.1)."""
        httpx.post(
            f"http://127.0.0.1:{self.dns_management_port}/add-a",
            json={"host": host, "addresses": [address]},
        ).raise_for_status()

    def unpoint(self, host: str) -> None:
        httpx.post(
            f"http://127.0.0.1:{self.dns_management_port}/clear-a", json={"host": host}
        ).raise_for_status()

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
