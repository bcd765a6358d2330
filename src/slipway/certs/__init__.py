"""ACME for the platform's certificates: the protocol client (certbot's `acme` library)
and the HTTP-01 responder the router forwards challenges to. The platform reaches it
through its `CertificateIssuer` port (`slipway.platform.acm`), never directly."""
