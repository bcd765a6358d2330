"""Per-host certificates minted from the platform CA verify like any certificate."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

from slipway.tls import HostCertificates, ensure_certificates


def test_a_minted_certificate_verifies_for_its_host_name(tmp_path: Path) -> None:
    files = ensure_certificates(tmp_path / "tls", "localhost", ["127.0.0.1"])
    assert files.ca_cert is not None
    certs = HostCertificates(files.ca_cert, files.key.parent / "ca.key")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(str(files.cert), str(files.key))
    # SNI picks a certificate made for exactly the name the client asked for.
    server_context.sni_callback = lambda sock, name, _ctx: setattr(
        sock, "context", certs.context_for(name or "localhost")
    )
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with server_context.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(b"hi")

    thread = threading.Thread(target=serve)
    thread.start()
    client = ssl.create_default_context(cafile=str(files.ca_cert))
    raw = socket.create_connection(("127.0.0.1", port))
    with client.wrap_socket(raw, server_hostname="myapp.localhost") as tls:
        assert tls.recv(2) == b"hi"
        peer = tls.getpeercert()
    assert peer is not None
    san = peer["subjectAltName"]
    thread.join()
    listener.close()
    assert san == (("DNS", "myapp.localhost"),)
    assert certs.context_for("MyApp.localhost.") is certs.context_for("myapp.localhost")
