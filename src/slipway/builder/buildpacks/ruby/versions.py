"""The machine's Ruby, checked against what the app asks for (the lock's RUBY VERSION, else
the Gemfile's `ruby` line), with RubyGems' own requirement rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from ..common.output import BuildError
from ..common.process import CannotRun, capture

# Exit 0 when RUBY_VERSION meets every requirement given as an argument.
CHECK = "exit(Gem::Requirement.new(*ARGV).satisfied_by?(Gem::Version.new(RUBY_VERSION)) ? 0 : 1)"


def tool_version(cmd: Sequence[str], cwd: Path, env: Mapping[str, str], what: str) -> str:
    try:
        done = capture(cmd, cwd=cwd, env=env, timeout=60)
    except CannotRun as exc:
        raise BuildError(
            f"{what} is not installed on this machine ({exc.reason}); install the Debian "
            "packages ruby and bundler on the build machine."
        ) from exc
    if done.returncode != 0:
        raise BuildError(f"`{' '.join(cmd)}` failed; check the {what} installation.")
    return done.stdout.strip()


def host_ruby(cwd: Path, env: Mapping[str, str]) -> str:
    return tool_version(["ruby", "-e", "print RUBY_VERSION"], cwd, env, "Ruby")


def check_ruby(
    host: str, locked: str | None, requirements: Sequence[str], cwd: Path, env: Mapping[str, str]
) -> None:
    """BuildError with what to change when the app asks for a Ruby this machine does not have."""
    if locked is not None:
        if locked != host:
            raise BuildError(
                f"Gemfile.lock asks for Ruby {locked} (RUBY VERSION) but this machine has Ruby "
                f'{host}; change the Gemfile\'s ruby line to "{host}", run bundle lock, and '
                "push again."
            )
        return
    if not requirements:
        return
    try:
        done = capture(["ruby", "-e", CHECK, *requirements], cwd=cwd, env=env, timeout=60)
    except CannotRun as exc:
        raise BuildError(f"Could not run ruby ({exc.reason}); install ruby.") from exc
    if done.returncode != 0:
        wanted = ", ".join(requirements)
        raise BuildError(
            f"The Gemfile asks for Ruby {wanted} but this machine has Ruby {host}; change the "
            "Gemfile's ruby line and push again."
        )


def bundler_pin(locked: str | None, running: str) -> str | None:
    """The Bundler version the dyno must be told to use (BUNDLER_VERSION), or None.

    RubyGems activates the Bundler that Gemfile.lock's BUNDLED WITH asks for, as
    "~> MAJOR.MINOR". When the build ran another (the locked one could not be
    installed: a lock made on a newer laptop, and no gem source to fetch it from),
    the dyno would refuse to start; pinned, it runs the Bundler that built it."""
    if not locked:
        return None
    try:
        want = [int(p) for p in locked.split(".")[:2]]
        have = [int(p) for p in running.split(".")[:2]]
    except ValueError:
        return None
    if len(want) < 2 or len(have) < 2:
        return None
    satisfied = have[0] == want[0] and have[1] >= want[1]
    return None if satisfied else running
