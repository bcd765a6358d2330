"""TLS handshakes through the router: the certificate the table names by SNI (ACM's, a
user's) against the router's default certificate, in one run on the same machine.

Two routers on a static table (no control plane, no backend: each request is answered
404 by the router itself): one whose table names no certificate (every handshake gets
the default, --tls-cert), one whose table names N certificates (default 1000), each a
file the router loads on the first handshake for its fingerprint. A client makes
sequential new connections (full handshake, one request, close) to each, with SNI for
one of the table's names, and prints handshakes per second and latency percentiles,
and the ratio. Aim: SNI from the table within 10 % of the default certificate.

Usage: .venv/bin/python bench/tls.py [--handshakes 2000] [--certificates 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from slipway.tls import ensure_certificates, issue_certificate

DOMAIN = "bench.test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def write_table(path: Path, certificates: list[dict[str, object]]) -> Path:
    table = {"version": 1, "base_domain": DOMAIN, "apps": [], "certificates": certificates}
    path.write_text(json.dumps(table))
    return path


def start_router(
    tmp: Path, name: str, table: Path, cert: Path, key: Path
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "slipway.router",
            "--listen",
            f"127.0.0.1:{free_port()}",
            "--tls-listen",
            f"127.0.0.1:{port}",
            "--tls-cert",
            str(cert),
            "--tls-key",
            str(key),
            "--static-table",
            str(table),
        ],
        stdout=(tmp / f"{name}.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"router {name} did not start")


def handshakes(port: int, name: str, ca: Path, count: int) -> list[float]:
    ctx = ssl.create_default_context(cafile=str(ca))
    request = f"GET / HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode()
    times = []
    for _ in range(count):
        start = time.perf_counter()
        with (
            socket.create_connection(("127.0.0.1", port)) as raw,
            ctx.wrap_socket(raw, server_hostname=name) as tls,
        ):
            tls.sendall(request)
            while tls.recv(65536):
                pass
        times.append(time.perf_counter() - start)
    return times


def report(label: str, times: list[float]) -> float:
    rate = len(times) / sum(times)
    qs = statistics.quantiles(times, n=100)
    print(
        f"{label:<28} {rate:8.0f} handshakes/s   p50 {qs[49] * 1000:6.2f} ms   "
        f"p99 {qs[98] * 1000:6.2f} ms"
    )
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--handshakes", type=int, default=2000)
    parser.add_argument("--certificates", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="slipway-bench-tls-") as name:
        tmp = Path(name)
        local = ensure_certificates(tmp / "ca", DOMAIN, [f"*.{DOMAIN}"])
        assert local.ca_cert is not None
        ca_key = local.ca_cert.parent / "ca.key"
        entries: list[dict[str, object]] = []
        for i in range(args.certificates):
            host = f"app{i}.{DOMAIN}"
            cert_pem, key_pem = issue_certificate(local.ca_cert, ca_key, [host])
            cert_file, key_file = tmp / f"{i}.crt", tmp / f"{i}.key"
            cert_file.write_bytes(cert_pem)
            key_file.write_bytes(key_pem)
            entries.append(
                {
                    "names": [host],
                    "cert": str(cert_file),
                    "key": str(key_file),
                    "fingerprint": hashlib.sha256(cert_pem).hexdigest(),
                }
            )
        # The default certificate covers every name, so both routers serve a valid one.
        default_cert, default_key = issue_certificate(local.ca_cert, ca_key, [f"*.{DOMAIN}"])
        (tmp / "default.crt").write_bytes(default_cert)
        (tmp / "default.key").write_bytes(default_key)
        sni_name = f"app{args.certificates // 2}.{DOMAIN}"
        routers = {}
        for label, certificates in (("default certificate", []), ("SNI from the table", entries)):
            table = write_table(tmp / f"{len(certificates)}.json", certificates)
            routers[label] = start_router(
                tmp, label.split()[0], table, tmp / "default.crt", tmp / "default.key"
            )
        ratios = []
        try:
            for _ in range(args.repeat):  # alternating rounds: a busy machine hits both alike
                rates = {}
                for label, (_proc, port) in routers.items():
                    handshakes(port, sni_name, local.ca_cert, 50)  # warm up (loads the file)
                    times = handshakes(port, sni_name, local.ca_cert, args.handshakes)
                    rates[label] = report(label, times)
                ratios.append(rates["SNI from the table"] / rates["default certificate"])
        finally:
            for proc, _port in routers.values():
                proc.terminate()
                proc.wait(10)
        print(
            f"SNI from a table of {args.certificates} certificates / default: median "
            f"{statistics.median(ratios):.2f}x over {len(ratios)} rounds"
        )


if __name__ == "__main__":
    main()
