"""What the server keeps in its data directory of its own: permissions, secrets, keys, TLS.

Everything here is made on the first start and read on every later one, so a
restart (even after `kill -9`) finds the same secret, router token, admin key
and certificates.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import click

from slipway.platform import accounts
from slipway.platform.tx import Platform
from slipway.privatefile import read_or_create, write_private
from slipway.server.config import ServerConfig
from slipway.tls import TlsFiles, ensure_certificates

ADMIN_KEY_FILE = "admin-api-key"


def prepare_data_dir(path: Path) -> Path:
    path = path.expanduser().resolve()
    # Everything the server creates is private (0600/0700): the store, keys, repos, slugs.
    os.umask(0o077)
    path.mkdir(parents=True, exist_ok=True)
    # Others may only traverse (no listing), so a build running as its app's uid can
    # reach the one work and cache directory handed to it; everything else is 0700.
    path.chmod(0o711)
    return path


def load_secret(data_dir: Path) -> bytes:
    """The server's own secret (capability URLs are signed with it); made on first start."""
    return bytes.fromhex(read_or_create(data_dir / "secret", secrets.token_hex(32)))


def router_token(data_dir: Path) -> str:
    """The router's credential for /internal/router/*; made on first start, kept 0600."""
    return read_or_create(data_dir / "router-token", secrets.token_urlsafe(32))


def tls_files(config: ServerConfig, data_dir: Path) -> TlsFiles:
    if config.tls_cert and config.tls_key:
        return TlsFiles(config.tls_cert, config.tls_key, None)
    return ensure_certificates(data_dir / "tls", config.base_domain, [config.public_host])


def bootstrap(platform: Platform, config: ServerConfig, data_dir: Path) -> None:
    """The admin account on the first start, its key written where only we can read it."""
    key_file = data_dir / ADMIN_KEY_FILE
    with platform.tx() as tx:
        created = accounts.bootstrap_admin(tx, config.admin_email)
    if created is not None:
        account, token = created
        write_private(key_file, token + "\n")
        click.echo(f"Created the admin account {account.email}.")
        click.echo(f"Its API key is in {key_file} (readable only by you).")
    click.echo(f"Slipway API listening on {config.api_url}")
    click.echo("Log in with:")
    click.echo(f"  slipway login --api-url {config.public_api_url} < {key_file}")
