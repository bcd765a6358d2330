"""Certificates: Automatic Certificate Management (ACME) and the ones users bring.

`plan.py` is pure: which host names need a certificate issued or renewed now, and
how long to back off after a failure. `pem.py` reads certificates and keys (names,
dates, does the key match). `hosts.py` holds the use cases on the store: the hosts
ACM looks after, their `acm_status`, the certificates (`certs:auto:*`, the
sni-endpoints resource). `manager.py` runs the issuing loop on its own thread and
writes the certificate files the router loads; it talks ACME only through the
`CertificateIssuer` port (`slipway.certs.acme_client` fills it), so the platform
knows no HTTP.
"""
