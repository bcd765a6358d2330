"""The store side of certificates: the hosts ACM looks after and their status, the
certificates the router serves (ACM's and users'), `certs:auto:*` and sni-endpoints.

Each function runs inside one transaction (`Tx`). Private keys are read only by
`router_certificates` (to write the router's files); no view carries one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

from sqlalchemy import delete, select

from slipway.platform import audit, views
from slipway.platform.acm import plan
from slipway.platform.acm.pem import check_pair, read_certificate
from slipway.platform.apps import app_view, find_app_row
from slipway.platform.errors import InvalidParams, NotFound
from slipway.platform.events import AcmRequested, CertificatesChanged
from slipway.platform.tx import Tx
from slipway.store.models import AcmHostRow, AppRow, DomainRow, TlsCertificateRow

ACM = "acm"
SNI = "sni"
WILDCARD_REASON = (
    "ACM cannot validate a wildcard domain over HTTP-01; add a certificate for it with "
    "`heroku certs:add CERT KEY`."
)


def wanted_hosts(tx: Tx) -> dict[str, str | None]:
    """Every host name ACM should hold a certificate for, with its app (None: the
    platform's own): the platform's hosts, and each ACM app's own and custom domains,
    except those the operator's certificate or a user's certificate already covers."""
    settings = tx.settings
    if not settings.acme:
        return {}
    wanted: dict[str, str | None] = dict.fromkeys(settings.platform_hosts)
    for app_id, name in tx.session.execute(select(AppRow.id, AppRow.name).where(AppRow.acm)):
        wanted[f"{name}.{settings.base_domain}".lower()] = app_id
    rows = tx.session.execute(
        select(DomainRow.hostname, DomainRow.app_id)
        .join(AppRow, AppRow.id == DomainRow.app_id)
        .where(AppRow.acm)
    )
    for hostname, app_id in rows:
        wanted[hostname] = app_id
    user_names = [
        n
        for names in tx.session.scalars(
            select(TlsCertificateRow.hostnames).where(TlsCertificateRow.kind == SNI)
        )
        for n in names
    ]
    return {
        host: app_id
        for host, app_id in wanted.items()
        if not plan.covered(host, settings.operator_cert_names)
        and not plan.covered(host, user_names)
    }


def sync_hosts(tx: Tx, now: dt.datetime) -> list[plan.HostState]:
    """Bring the ACM host rows in line with `wanted_hosts`: new hosts start `pending`,
    hosts no longer served lose their row and their certificate. Returns every host's state."""
    wanted = wanted_hosts(tx)
    rows = {r.hostname: r for r in tx.session.scalars(select(AcmHostRow))}
    changed = False
    for host, row in rows.items():
        if host not in wanted:
            cert_id = row.certificate_id
            tx.session.delete(row)
            if cert_id is not None:
                tx.session.execute(delete(TlsCertificateRow).where(TlsCertificateRow.id == cert_id))
                changed = True
    for host, app_id in wanted.items():
        if host not in rows:
            wildcard = host.startswith("*.")
            tx.session.add(
                AcmHostRow(
                    hostname=host,
                    app_id=app_id,
                    status=plan.FAILED if wildcard else plan.PENDING,
                    reason=WILDCARD_REASON if wildcard else None,
                    attempts=0,
                    next_attempt_at=dt.datetime.max.replace(tzinfo=dt.UTC) if wildcard else None,
                    updated_at=now,
                )
            )
    tx.session.flush()
    if changed:
        tx.emit(CertificatesChanged())
    states = []
    for row in tx.session.scalars(select(AcmHostRow).order_by(AcmHostRow.hostname)):
        cert = tx.session.get(TlsCertificateRow, row.certificate_id) if row.certificate_id else None
        states.append(
            plan.HostState(
                hostname=row.hostname,
                status=row.status,
                attempts=row.attempts,
                next_attempt_at=row.next_attempt_at,
                not_before=cert.not_before if cert else None,
                not_after=cert.not_after if cert else None,
            )
        )
    return states


def record_issued(tx: Tx, hostname: str, cert_pem: str, key_pem: str, now: dt.datetime) -> None:
    """A certificate ACME issued for `hostname` replaces the one it had (if any)."""
    row = tx.session.get(AcmHostRow, hostname)
    if row is None:
        return  # the host went away while the CA was asked
    info = read_certificate(cert_pem)
    old = row.certificate_id
    cert = TlsCertificateRow(
        id=str(uuid.uuid4()),
        app_id=row.app_id,
        kind=ACM,
        name=f"acm-{uuid.uuid4().hex[:12]}",
        hostnames=[hostname],
        cert_pem=cert_pem,
        key_pem=key_pem,
        fingerprint=info.fingerprint,
        issuer=info.issuer,
        subject=info.subject,
        not_before=info.not_before,
        not_after=info.not_after,
        created_at=now,
        updated_at=now,
    )
    tx.session.add(cert)
    tx.session.flush()
    row.certificate_id = cert.id
    row.status = plan.ISSUED
    row.reason = None
    row.attempts = 0
    row.next_attempt_at = None
    row.updated_at = now
    if old is not None:
        tx.session.execute(delete(TlsCertificateRow).where(TlsCertificateRow.id == old))
    if row.app_id is not None:
        tx.log(row.app_id, f"Certificate issued for {hostname} by {info.issuer}", process="acm")
    tx.emit(CertificatesChanged())


def record_failure(
    tx: Tx,
    hostname: str,
    reason: str,
    now: dt.datetime,
    retry_min: dt.timedelta,
    retry_after: dt.datetime | None = None,
) -> dt.datetime | None:
    """A failed attempt: the reason shown as acm_status_reason, and the next try backed off
    (never sooner than the CA's Retry-After). The host keeps the certificate it had."""
    row = tx.session.get(AcmHostRow, hostname)
    if row is None:
        return None
    row.attempts += 1
    row.status = plan.after_failure(row.attempts)
    wait = plan.backoff(row.attempts, retry_min)
    row.next_attempt_at = max(now + wait, retry_after or now)
    row.reason = f"{reason} Next attempt at {row.next_attempt_at:%Y-%m-%d %H:%M:%S} UTC."
    row.updated_at = now
    if row.app_id is not None:
        tx.log(row.app_id, f"Certificate for {hostname} not issued: {reason}", process="acm")
    return row.next_attempt_at


def statuses(tx: Tx, hostnames: list[str]) -> dict[str, AcmHostRow]:
    if not hostnames:
        return {}
    rows = tx.session.scalars(select(AcmHostRow).where(AcmHostRow.hostname.in_(hostnames)))
    return {r.hostname: r for r in rows}


def router_certificates(tx: Tx) -> list[tuple[str, list[str], str, str, str]]:
    """(id, names, fingerprint, cert PEM, key PEM) of every certificate to serve."""
    rows = tx.session.scalars(select(TlsCertificateRow).order_by(TlsCertificateRow.created_at))
    return [(r.id, list(r.hostnames), r.fingerprint, r.cert_pem, r.key_pem) for r in rows]


# -- certs:auto ----------------------------------------------------------------------------


def _needs_acme(tx: Tx) -> None:
    if not tx.settings.acme:
        raise InvalidParams(
            "Automatic Certificate Management needs a server started with --domain; this one "
            "serves the platform's local CA certificates."
        )


def set_acm(tx: Tx, actor: views.Actor, app_ident: str, enabled: bool) -> views.App:
    app = find_app_row(tx, actor, app_ident, lock=True)
    if enabled:
        _needs_acme(tx)
    app.acm = enabled
    app.updated_at = tx.clock.now()
    word = "enabled" if enabled else "disabled"
    audit.record(tx, actor, f"acm-{word[:-1]}", f"Automatic Certificate Management {word}", app=app)
    tx.emit(AcmRequested(app.id))
    tx.session.flush()
    return app_view(tx, app)


def refresh(tx: Tx, actor: views.Actor, app_ident: str) -> views.App:
    """`certs:auto:refresh`: ask the CA again now for every host of the app."""
    app = find_app_row(tx, actor, app_ident, lock=True)
    _needs_acme(tx)
    if not app.acm:
        raise InvalidParams(
            f"Automatic Certificate Management is disabled on {app.name}; run "
            "`heroku certs:auto:enable` first."
        )
    now = tx.clock.now()
    for row in tx.session.scalars(select(AcmHostRow).where(AcmHostRow.app_id == app.id)):
        if row.hostname.startswith("*."):
            continue
        row.status = plan.PENDING
        row.reason = None
        row.attempts = 0
        row.next_attempt_at = None
        row.updated_at = now
    tx.emit(AcmRequested(app.id))
    return app_view(tx, app)


# -- sni-endpoints -------------------------------------------------------------------------


def _app_domains(tx: Tx, app: AppRow) -> list[str]:
    own = f"{app.name}.{tx.settings.base_domain}"
    custom = tx.session.scalars(select(DomainRow.hostname).where(DomainRow.app_id == app.id))
    return [own, *custom]


def _endpoint(tx: Tx, app: AppRow, row: TlsCertificateRow) -> views.SniEndpoint:
    info = read_certificate(row.cert_pem)
    served = [d for d in _app_domains(tx, app) if plan.covered(d, row.hostnames)]
    return views.SniEndpoint(
        id=row.id,
        name=row.name,
        app_id=app.id,
        app_name=app.name,
        certificate_chain=row.cert_pem,
        hostnames=tuple(row.hostnames),
        domains=tuple(served),
        acm=row.kind == ACM,
        issuer=row.issuer,
        subject=row.subject,
        self_signed=info.self_signed,
        not_before=row.not_before,
        not_after=row.not_after,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def list_endpoints(tx: Tx, actor: views.Actor, app_ident: str) -> list[views.SniEndpoint]:
    app = find_app_row(tx, actor, app_ident)
    rows = tx.session.scalars(
        select(TlsCertificateRow)
        .where(TlsCertificateRow.app_id == app.id)
        .order_by(TlsCertificateRow.created_at)
    )
    return [_endpoint(tx, app, r) for r in rows]


def _find(tx: Tx, app: AppRow, ident: str) -> TlsCertificateRow:
    row = tx.session.scalar(
        select(TlsCertificateRow).where(
            TlsCertificateRow.app_id == app.id,
            (TlsCertificateRow.name == ident) | (TlsCertificateRow.id == ident),
        )
    )
    if row is None:
        raise NotFound(
            f"Couldn't find that SSL certificate ({ident}) on {app.name}.", resource="sni-endpoint"
        )
    return row


def endpoint_info(tx: Tx, actor: views.Actor, app_ident: str, ident: str) -> views.SniEndpoint:
    app = find_app_row(tx, actor, app_ident)
    return _endpoint(tx, app, _find(tx, app, ident))


def add_endpoint(
    tx: Tx, actor: views.Actor, app_ident: str, cert_pem: str, key_pem: str
) -> views.SniEndpoint:
    """`certs:add CERT KEY`: a certificate the user brings, checked (PEM, the key is its
    own, not expired), served by SNI for the app's domains it names."""
    app = find_app_row(tx, actor, app_ident, lock=True)
    now = tx.clock.now()
    info = check_pair(cert_pem, key_pem, now)
    row = TlsCertificateRow(
        id=str(uuid.uuid4()),
        app_id=app.id,
        kind=SNI,
        name=_endpoint_name(tx),
        hostnames=list(info.names),
        cert_pem=cert_pem,
        key_pem=key_pem,
        fingerprint=info.fingerprint,
        issuer=info.issuer,
        subject=info.subject,
        not_before=info.not_before,
        not_after=info.not_after,
        created_at=now,
        updated_at=now,
    )
    tx.session.add(row)
    tx.session.flush()
    tx.log(app.id, f"SSL certificate {row.name} added by user {actor.email}")
    audit.record(tx, actor, "sni-endpoint-add", f"Added the SSL certificate {row.name}", app=app)
    tx.emit(CertificatesChanged())
    tx.emit(AcmRequested(app.id))
    return _endpoint(tx, app, row)


def remove_endpoint(tx: Tx, actor: views.Actor, app_ident: str, ident: str) -> views.SniEndpoint:
    app = find_app_row(tx, actor, app_ident, lock=True)
    row = _find(tx, app, ident)
    if row.kind == ACM:
        raise InvalidParams(
            f"{row.name} is managed by Automatic Certificate Management; run "
            "`heroku certs:auto:disable` to stop it."
        )
    view = _endpoint(tx, app, row)
    tx.session.delete(row)
    tx.log(app.id, f"SSL certificate {row.name} removed by user {actor.email}")
    audit.record(
        tx, actor, "sni-endpoint-remove", f"Removed the SSL certificate {row.name}", app=app
    )
    tx.emit(CertificatesChanged())
    tx.emit(AcmRequested(app.id))
    return view


_ADJECTIVES = ("brachio", "stego", "tyranno", "velocira", "triceras", "ankylo", "diplo")


def _endpoint_name(tx: Tx) -> str:
    """Heroku's endpoint names look like `tyrannosaurus-12345`."""
    while True:
        name = f"{tx.rng.choice(_ADJECTIVES)}saurus-{tx.rng.randint(10000, 99999)}"
        taken = tx.session.scalar(
            select(TlsCertificateRow.id).where(TlsCertificateRow.name == name)
        )
        if taken is None:
            return name


def annotate(tx: Tx, items: list[views.Domain]) -> list[views.Domain]:
    """Domains with Heroku's acm_status, acm_status_reason and the certificate serving them."""
    found = statuses(tx, [d.hostname for d in items]) if tx.settings.acme else {}
    if not found:
        return items
    wanted = [r.certificate_id for r in found.values() if r.certificate_id]
    names: dict[str, str] = {}
    if wanted:
        rows = tx.session.execute(
            select(TlsCertificateRow.id, TlsCertificateRow.name).where(
                TlsCertificateRow.id.in_(wanted)
            )
        )
        names = {row.id: row.name for row in rows}
    out = []
    for d in items:
        row = found.get(d.hostname)
        if row is None:
            out.append(d)
            continue
        out.append(
            dataclasses.replace(
                d,
                acm_status=row.status,
                acm_status_reason=row.reason,
                sni_endpoint=names.get(row.certificate_id) if row.certificate_id else None,
            )
        )
    return out
