"""Assertions the add-on tests share."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import subprocess
import urllib.parse


def assert_one_sentence(message: str, *secrets: str) -> None:
    """A user-facing message: one line, one sentence, no secret in it."""
    assert "\n" not in message, message
    assert message.endswith("."), message
    assert message[0].isupper(), message
    for secret in secrets:
        assert secret not in message, f"{secret!r} leaked into {message!r}"


def scram_matches(password: str, verifier: str) -> bool:
    """Whether a stored SCRAM-SHA-256 verifier (pg_authid.rolpassword) is for `password`."""
    mechanism, _, rest = verifier.partition("$")
    assert mechanism == "SCRAM-SHA-256", verifier
    params, _, keys = rest.partition("$")
    iterations, _, salt = params.partition(":")
    stored_key, _, _server_key = keys.partition(":")
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(salt), int(iterations)
    )
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    return hmac.compare_digest(hashlib.sha256(client_key).digest(), base64.b64decode(stored_key))


def redis_cli(url: str, *args: str, password: str | None = None) -> str:
    """redis-cli against a REDIS_URL, parsed the standard way (password via REDISCLI_AUTH)."""
    parts = urllib.parse.urlsplit(url)
    assert parts.scheme == "redis"
    assert parts.hostname == "127.0.0.1"
    env = dict(os.environ)
    secret = parts.password if password is None else password
    env.pop("REDISCLI_AUTH", None)
    if secret:
        env["REDISCLI_AUTH"] = secret
    result = subprocess.run(
        ["redis-cli", "-h", parts.hostname, "-p", str(parts.port), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=10,
        check=False,
    )
    return (result.stdout + result.stderr).strip()
