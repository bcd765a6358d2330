"""What a person may do to an app, and what a token lets them do: pure rules, no store.

Heroku's app permissions (view, deploy, operate, manage) say what someone may do
to an app; a token's scope (global, read, write, read-protected,
write-protected) says what the token may do on their behalf. A door (an API
route, git, a log stream) asks for a `Need`: which permissions suffice, and
whether it changes something (a write), reads a secret (protected: config
vars, credentials, code), or touches the account itself.

Personal apps follow Heroku's collaborator rule: a collaborator may do
everything except delete the app, transfer it or manage who has access; those
are `OWNER` needs, which on a team app are plain `manage`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class Permission(enum.StrEnum):
    VIEW = "view"
    DEPLOY = "deploy"
    OPERATE = "operate"
    MANAGE = "manage"


ALL_PERMISSIONS = frozenset(Permission)
PERMISSION_DESCRIPTIONS = {
    Permission.VIEW: "View the app: info, activity, releases, builds, dynos, logs.",
    Permission.DEPLOY: "Push and fetch code, release, edit config vars, run one-off dynos.",
    Permission.OPERATE: "Scale and restart dynos, maintenance, log drains, config vars.",
    Permission.MANAGE: "Rename or delete the app, manage access and domains, transfer it.",
}

# Team roles (Heroku's): an admin has every permission on every team app; a member
# has view on all of them and may create apps; a viewer has view only.
TEAM_ROLES = ("admin", "member", "viewer")


class Scope(enum.StrEnum):
    GLOBAL = "global"
    READ = "read"
    WRITE = "write"
    READ_PROTECTED = "read-protected"
    WRITE_PROTECTED = "write-protected"
    IDENTITY = "identity"


@dataclass(frozen=True)
class Need:
    """What a door needs of the person and of the token they came with."""

    # Any one of these permissions suffices; empty: no app is involved.
    any_of: frozenset[Permission] = frozenset()
    write: bool = False
    # Reads secrets (config vars, credentials, code): not for a read or write token.
    protected: bool = False
    # On a personal app only its owner passes (delete, transfer, access).
    owner: bool = False
    # The account itself (password, tokens): a global token only.
    account: bool = False
    # Slipway's admin only (accounts, sign-ins).
    admin: bool = False

    def describe(self) -> str:
        if not self.any_of:
            who = "admin" if self.admin else "account" if self.account else "signed in"
        elif self.owner:
            who = "owner (manage on team apps)"
        else:
            who = " or ".join(p.value for p in sorted(self.any_of, key=_order))
        flags = [f for f, on in (("write", self.write), ("protected", self.protected)) if on]
        return who + (f" [{', '.join(flags)}]" if flags else "")


def _order(p: Permission) -> int:
    return list(Permission).index(p)


def need(
    *permissions: Permission,
    write: bool = False,
    protected: bool = False,
    owner: bool = False,
) -> Need:
    return Need(frozenset(permissions), write=write, protected=protected, owner=owner)


# The needs doors ask for, named after what they let a person do.
SIGNED_IN = Need()
SIGNED_IN_WRITE = Need(write=True)
ACCOUNT = Need(account=True)
ACCOUNT_WRITE = Need(write=True, account=True)
ADMIN = Need(account=True, admin=True)
ADMIN_WRITE = Need(write=True, account=True, admin=True)
VIEW = need(Permission.VIEW)
CONFIG_READ = need(Permission.DEPLOY, Permission.OPERATE, protected=True)
CONFIG_WRITE = need(Permission.DEPLOY, Permission.OPERATE, write=True, protected=True)
DEPLOY = need(Permission.DEPLOY, write=True)
RUN = need(Permission.DEPLOY, Permission.OPERATE, write=True, protected=True)
DEPLOY_OR_OPERATE = need(Permission.DEPLOY, Permission.OPERATE, write=True)
APP_SETTINGS = need(Permission.OPERATE, Permission.MANAGE, write=True)
LEAVE = need(Permission.VIEW, write=True)
OPERATE = need(Permission.OPERATE, write=True)
MANAGE = need(Permission.MANAGE, write=True)
OWNER = need(Permission.MANAGE, write=True, owner=True)


def parse_scopes(values: Iterable[str]) -> frozenset[Scope]:
    """Heroku's scope names -> Scopes; ValueError names the first unknown one."""
    scopes = set()
    for value in values:
        try:
            scopes.add(Scope(value))
        except ValueError:
            known = ", ".join(s.value for s in Scope)
            raise ValueError(f"Scope {value!r} is not known; use one of {known}.") from None
    return frozenset(scopes or {Scope.GLOBAL})


def scope_refusal(scopes: frozenset[Scope], n: Need) -> str | None:
    """Why a token with `scopes` may not serve `n`, in one sentence; None when it may."""
    if Scope.GLOBAL in scopes:
        return None
    names = ", ".join(sorted(s.value for s in scopes))
    if n.account or n.admin:
        return f"This token's scope ({names}) does not reach the account; use a global token."
    if not n.any_of and not n.write:
        return None  # who you are, lists of what you can see
    writes = {Scope.WRITE, Scope.WRITE_PROTECTED}
    reads = {Scope.READ, Scope.READ_PROTECTED} | writes
    protected = {Scope.READ_PROTECTED, Scope.WRITE_PROTECTED}
    if n.write and not scopes & writes:
        return (
            f"This token's scope ({names}) is read-only; use a token with the write or "
            "global scope to change anything."
        )
    if not n.write and not scopes & reads:
        return f"This token's scope ({names}) does not read apps; use a read or global token."
    if n.protected and not scopes & protected:
        return (
            f"This token's scope ({names}) does not reach config vars, credentials or code; "
            "use a read-protected, write-protected or global token."
        )
    return None


@dataclass(frozen=True)
class Standing:
    """What one person holds on one app."""

    permissions: frozenset[Permission]
    # The owner of a personal app; on a team app, whoever has manage (admins have it).
    owner: bool


def permission_refusal(standing: Standing | None, n: Need, app_name: str) -> str | None:
    """Why `standing` does not meet `n` on the app, in Heroku's words; None when it does."""
    if not n.any_of:
        return None
    if standing is None or not standing.permissions:
        return f"You do not have access to the app {app_name}."
    if n.owner and not standing.owner:
        return (
            f"Only the owner of {app_name} may do this (delete, transfer or manage access); "
            "ask them."
        )
    if not standing.permissions & n.any_of:
        wanted = " or ".join(p.value for p in sorted(n.any_of, key=_order))
        return (
            f"You need the {wanted} permission on {app_name} to do this; "
            "ask someone who manages its access."
        )
    return None


def role_permissions(role: str) -> frozenset[Permission]:
    """A team role's permissions on every app of the team (before per-app grants)."""
    if role == "admin":
        return ALL_PERMISSIONS
    return frozenset({Permission.VIEW})


def normalise_permissions(names: Iterable[str]) -> frozenset[Permission]:
    """`deploy,operate` as the CLI sends it -> Permissions, `view` always included."""
    chosen = {Permission.VIEW}
    for name in names:
        try:
            chosen.add(Permission(name.strip()))
        except ValueError:
            known = ", ".join(p.value for p in Permission)
            raise ValueError(f"Permission {name!r} is not known; use {known}.") from None
    return frozenset(chosen)


def sorted_names(permissions: Iterable[Permission]) -> list[str]:
    return [p.value for p in sorted(permissions, key=_order)]
