"""The issuing loop: certificates for new hosts, renewals, back-off; and the router's files.

One thread. It wakes when an app, a domain or a certificate changes (the bus) and
every `--acme-check-interval` seconds, brings the ACM hosts in line with what the
platform serves (`hosts.sync_hosts`), and asks the CA for each host that is due
(`plan.due`), one at a time: a failure is recorded with its reason and backs off,
and the host keeps serving the certificate it had. Every certificate in the store
is written under `<data dir>/tls/served/` as `<fingerprint>.crt` and `.key` (0600,
readable by the router, which runs as the server's user); the route table names
those files, so a new certificate reaches the router with the next table.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slipway.options import option
from slipway.platform.acm import hosts, plan
from slipway.platform.events import (
    AcmRequested,
    AppDestroyed,
    CertificatesChanged,
    Event,
    RuntimeChanged,
)
from slipway.platform.ports import CertificateIssuer
from slipway.platform.tx import Platform
from slipway.privatefile import write_private

log = logging.getLogger("slipway.acm")


@dataclass(frozen=True)
class AcmOptions:
    check_interval: float = option(
        300.0,
        "--acme-check-interval",
        "Seconds between ACM's looks for certificates due for renewal.",
        min=0.2,
    )
    retry_min: float = option(
        300.0,
        "--acme-retry-min",
        "Seconds before retrying a failed issuance (doubling each time, up to a day).",
        min=0.1,
    )


class CertificateManager:
    """Fills the `certificates` port; with an issuer, runs ACME for the hosts served."""

    def __init__(
        self,
        platform: Platform,
        issuer: CertificateIssuer | None,
        files_dir: Path,
        options: AcmOptions | None = None,
    ) -> None:
        self.platform = platform
        self.issuer = issuer
        self.files_dir = files_dir
        self.options = options or AcmOptions()
        self._entries: list[dict[str, Any]] = []
        self._listeners: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the port -----------------------------------------------------------------------

    def router_entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)

    @property
    def acme_responder(self) -> str | None:
        return self.issuer.responder if self.issuer is not None else None

    # -- running --------------------------------------------------------------------------

    def start(self) -> None:
        self.write_files()
        self.platform.bus.subscribe(self._on_event)
        if self.issuer is not None:
            self._thread = threading.Thread(target=self._run, name="acm", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self.platform.bus.unsubscribe(self._on_event)
        if self._thread is not None:
            self._thread.join(10)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, CertificatesChanged):
            self.write_files()
        if isinstance(event, (RuntimeChanged, AppDestroyed, AcmRequested, CertificatesChanged)):
            self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once(self.platform.clock.now())
            except Exception:
                log.exception("a round of certificate management failed")
            self._wake.wait(self.options.check_interval)
            self._wake.clear()

    def run_once(self, now: dt.datetime) -> int:
        """One round: sync the hosts, ask the CA for each that is due. Returns how many
        certificates were issued."""
        with self.platform.tx() as tx:
            states = hosts.sync_hosts(tx, now)
        issued = 0
        if self.issuer is None:
            return 0
        for hostname in plan.due(states, now):
            if self._stop.is_set():
                break
            result = self.issuer.issue(hostname)
            now = self.platform.clock.now()
            with self.platform.tx() as tx:
                if result.error is None and result.cert_pem and result.key_pem:
                    hosts.record_issued(tx, hostname, result.cert_pem, result.key_pem, now)
                    issued += 1
                    log.info("certificate issued for %s", hostname)
                else:
                    retry = (
                        now + dt.timedelta(seconds=result.retry_after)
                        if result.retry_after
                        else None
                    )
                    when = hosts.record_failure(
                        tx,
                        hostname,
                        result.error or "The CA gave no certificate.",
                        now,
                        dt.timedelta(seconds=self.options.retry_min),
                        retry,
                    )
                    log.warning(
                        "no certificate for %s (next try %s): %s", hostname, when, result.error
                    )
        return issued

    # -- the router's files ---------------------------------------------------------------

    def write_files(self) -> None:
        """Write every certificate the store holds where the router reads it, and forget
        the files of certificates that are gone. One writer at a time: a writer with an
        older snapshot must not prune the files of a certificate just issued."""
        with self._write_lock:
            self._write_files()

    def _write_files(self) -> None:
        with self.platform.tx() as tx:
            certs = hosts.router_certificates(tx)
        entries = []
        keep: set[str] = set()
        if certs:
            self.files_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for _id, names, fingerprint, cert_pem, key_pem in certs:
            cert_file = self.files_dir / f"{fingerprint}.crt"
            key_file = self.files_dir / f"{fingerprint}.key"
            if not key_file.exists():
                write_private(key_file, key_pem)
            if not cert_file.exists():
                write_private(cert_file, cert_pem)
            keep.update((cert_file.name, key_file.name))
            entries.append(
                {
                    "names": names,
                    "cert": str(cert_file),
                    "key": str(key_file),
                    "fingerprint": fingerprint,
                }
            )
        for path in self.files_dir.glob("*") if self.files_dir.is_dir() else ():
            if path.name not in keep and path.suffix in (".crt", ".key"):
                path.unlink(missing_ok=True)
        with self._lock:
            self._entries = entries
            listeners = list(self._listeners)
        for listener in listeners:
            listener()

    def add_listener(self, listener: Callable[[], None]) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[], None]) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)
