"""What the buildpack reads from the build, and leaves for what runs after it.

In: the app's config vars (ENV_DIR). For its own programs: the environment npm and the
app's scripts run with, and `tool_output` to ask the installed tools their version. Out:
`.profile.d/nodejs.sh` for the dynos and the `export` file for later buildpacks.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..common.files import config_var_files, write_export
from ..common.output import BuildError, detail
from ..common.process import CannotRun, capture

BUILDPACK_DIR = Path(__file__).absolute().parent
# Config vars never copied into the environment of the build's subprocesses.
EXCLUDED_CONFIG_VARS = frozenset(
    {"PATH", "LD_PRELOAD", "LD_LIBRARY_PATH", "GIT_DIR", "CPATH", "CPPATH", "LIBRARY_PATH"}
)
PROFILE_SCRIPT = """\
# Added by the heroku/nodejs buildpack; sourced at dyno start with HOME=/app.
export PATH="$HOME/.heroku/node/bin:$HOME/node_modules/.bin:$PATH"
export NODE_ENV="${NODE_ENV:-production}"
if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt  # the stack's trust store
fi
"""
NODE_BIN_REL = Path(".heroku") / "node" / "bin"
# The machine's trust store and npm settings: the slug's Node.js carries Mozilla's CAs and
# its npm looks for settings beside itself, so without these a build behind the operator's
# proxy or registry mirror (and their CA) could not install anything.
SYSTEM_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
SYSTEM_NPMRCS = (Path("/etc/npmrc"), Path("/usr/etc/npmrc"))


def read_env_dir(env_dir: Path | None) -> dict[str, str]:
    """The app's config vars, one file per var (trailing newlines dropped, like `$(cat f)`)."""
    result: dict[str, str] = {}
    for entry in config_var_files(env_dir, EXCLUDED_CONFIG_VARS):
        value = entry.read_bytes().decode("utf-8", "surrogateescape").rstrip("\n")
        if "\0" not in value:
            result[entry.name] = value
    return result


def host_env(config: Mapping[str, str]) -> dict[str, str]:
    """The environment for the machine's own node and npm, which find and fetch releases."""
    env = dict(os.environ)
    for name, value in config.items():
        if name.lower().startswith("npm_config_") and name.lower() != "npm_config_cache":
            env[name] = value  # the app's registry settings (a mirror, a proxy) apply too
    return env


def build_env(build_dir: Path, cache_dir: Path, config: Mapping[str, str]) -> dict[str, str]:
    """The app's Node.js (in the slug) first on PATH, then its node_modules/.bin."""
    env = dict(os.environ)
    env.update(config)
    env["NODE_ENV"] = env.get("NODE_ENV") or "production"
    forced = {
        "npm_config_cache": str(cache_dir / "npm"),
        "npm_config_update_notifier": "false",
        "npm_config_fund": "false",
        "npm_config_audit": "false",
    }
    for name in [k for k in env if k.lower() in forced]:
        del env[name]
    env.update(forced)
    if SYSTEM_CA_BUNDLE.is_file():
        env.setdefault("NODE_EXTRA_CA_CERTS", str(SYSTEM_CA_BUNDLE))
    npmrc = next((p for p in SYSTEM_NPMRCS if p.is_file()), None)
    if npmrc is not None:
        env.setdefault("npm_config_globalconfig", str(npmrc))
    env["PATH"] = os.pathsep.join(
        [
            str(build_dir / NODE_BIN_REL),
            str(build_dir / "node_modules" / ".bin"),
            os.environ.get("PATH", os.defpath),
        ]
    )
    return env


def tool_output(cmd: Sequence[str], cwd: Path, env: Mapping[str, str]) -> str:
    """Run a short command and return its stdout; BuildError when it cannot run or fails."""
    try:
        result = capture(cmd, cwd=cwd, env=env, timeout=120)
    except CannotRun as exc:
        if isinstance(exc.reason, FileNotFoundError):
            raise BuildError(
                f"{cmd[0]} is not installed on this machine; install Node.js with npm and "
                "build again."
            ) from exc
        raise BuildError(
            f"Could not run `{' '.join(cmd)}`: {exc.reason}; check the installation."
        ) from exc
    if result.returncode != 0:
        detail(result.stdout + result.stderr)
        raise BuildError(
            f"`{' '.join(cmd)}` failed; check the Node.js installation on this machine."
        )
    return result.stdout.strip()


def write_runtime_files(build_dir: Path) -> None:
    profile_d = build_dir / ".profile.d"
    profile_d.mkdir(parents=True, exist_ok=True)
    (profile_d / "nodejs.sh").write_text(PROFILE_SCRIPT, encoding="utf-8")
    try:
        write_export(BUILDPACK_DIR, build_dir / NODE_BIN_REL, build_dir / "node_modules" / ".bin")
    except OSError as exc:
        detail(f"Warning: could not write the buildpack export file ({exc.strerror}).")
