"""trust: add the platform's local CA to this machine's trust stores, as mkcert does.

The system store (/usr/local/share/ca-certificates + update-ca-certificates), which
git, curl and most programs read; and the NSS databases of browsers (Chromium's
~/.pki/nssdb, Firefox profiles) through `certutil` where it is installed. Node.js
(the official heroku CLI) reads neither: `slipway heroku` hands it the CA itself.
`--uninstall` takes it out again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import click

from slipway.cli import git, output
from slipway.cli.base import cli_context
from slipway.cli.client import api_machine
from slipway.cli.errors import CliError

SYSTEM_DIR = Path("/usr/local/share/ca-certificates")


def nss_databases(home: Path) -> list[Path]:
    """The NSS databases (cert9.db) of this user's browsers."""
    candidates = [
        home / ".pki" / "nssdb",
        home / "snap" / "chromium" / "current" / ".pki" / "nssdb",
    ]
    for profiles in (
        home / ".mozilla" / "firefox",
        home / "snap" / "firefox" / "common" / ".mozilla" / "firefox",
    ):
        if profiles.is_dir():
            candidates += sorted(p for p in profiles.iterdir() if p.is_dir())
    return [p for p in candidates if (p / "cert9.db").exists()]


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)


@click.command("trust")
@click.option("--uninstall", is_flag=True, help="Remove the platform's CA again.")
def trust(uninstall: bool) -> None:
    """Trust the platform's local CA system-wide (git, curl) and in browsers."""
    ctx = cli_context()
    machine = api_machine(ctx.api_url)
    file_name = f"slipway-{machine.replace(':', '-')}.crt"
    # No colon: certutil reads `token:name` in a nickname.
    nickname = f"Slipway CA ({machine.replace(':', ' port ')})"
    ca: Path | None = None
    if not uninstall:
        ca = git.fetch_ca(ctx.api_url)
        if ca is None:
            raise CliError(
                f"{ctx.api_url} hands out no CA of its own (its certificates come from a public "
                "CA, or it cannot be reached); there is nothing to trust."
            )
    if os.geteuid() != 0:
        output.line("The system trust store needs root: run `sudo slipway trust` for git and curl.")
    elif shutil.which("update-ca-certificates") is None:
        output.line("No update-ca-certificates here: the system trust store was left alone.")
    else:
        target = SYSTEM_DIR / file_name
        if ca is not None:
            SYSTEM_DIR.mkdir(parents=True, exist_ok=True)
            target.write_bytes(ca.read_bytes())
            target.chmod(0o644)
        else:
            target.unlink(missing_ok=True)
        done = _run("update-ca-certificates")
        if done.returncode != 0:
            raise CliError(f"update-ca-certificates failed: {done.stderr.strip() or done.stdout}")
        word = "Added" if ca is not None else "Removed"
        output.line(f"{word} the platform's CA {'to' if ca else 'from'} the system trust store.")
    databases = nss_databases(Path.home())
    if databases and shutil.which("certutil") is None:
        output.line(
            "Browsers' NSS databases were found but certutil is not installed; install "
            "libnss3-tools and run this again."
        )
        databases = []
    for db in databases:
        if ca is not None:
            _run("certutil", "-D", "-d", f"sql:{db}", "-n", nickname)  # a stale copy
            added = _run(
                "certutil", "-A", "-d", f"sql:{db}", "-t", "C,,", "-n", nickname, "-i", str(ca)
            )
            if added.returncode != 0:
                raise CliError(f"certutil could not add the CA to {db}: {added.stderr.strip()}")
            output.line(f"Added the platform's CA to the NSS database {db}")
        elif _run("certutil", "-D", "-d", f"sql:{db}", "-n", nickname).returncode == 0:
            output.line(f"Removed the platform's CA from the NSS database {db}")
