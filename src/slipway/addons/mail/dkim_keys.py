"""DKIM for slipway-mail: a key per sender domain, and the signature on every message.

    <root>/dkim/<domain>.key   RSA 2048 (PKCS#8 PEM, 0600), made on first use

The selector is `slipway`: a domain's owner publishes `slipway._domainkey.DOMAIN`
as the TXT record `record(domain)` gives (shown by the add-on's info).
"""

from __future__ import annotations

import base64
import re
import threading
from pathlib import Path

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from slipway.addons._files import private_dir, write_private

SELECTOR = b"slipway"
_DOMAIN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,62}\.)*[a-z0-9-]{1,63}$")
_SIGNED = [b"from", b"to", b"cc", b"subject", b"date", b"message-id", b"reply-to"]


class DkimKeys:
    def __init__(self, root: Path) -> None:
        self.dir = root / "dkim"
        self._lock = threading.Lock()

    def key(self, domain: str) -> bytes:
        domain = domain.lower()
        if not _DOMAIN.match(domain):
            raise ValueError(f"{domain!r} is not a domain name")
        path = self.dir / f"{domain}.key"
        with self._lock:
            if not path.exists():
                private_dir(self.dir)
                key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
                pem = key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
                write_private(path, pem.decode())
            return path.read_bytes()

    def record(self, domain: str) -> str:
        """The TXT record to publish at slipway._domainkey.DOMAIN."""
        key = serialization.load_pem_private_key(self.key(domain), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"

    def sign(self, message: bytes, domain: str) -> bytes:
        """`message` with a DKIM-Signature header for `domain` prepended."""
        header: bytes = dkim.sign(
            message,
            SELECTOR,
            domain.lower().encode(),
            self.key(domain),
            include_headers=_SIGNED,
        )
        return header + message
