"""Request bodies. Strict types: a number where a string belongs is an error, not a guess."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, StrictBool, StrictInt, StrictStr


def _scalar_text(value: object) -> object:
    """A JSON number or boolean as the text a shell would see (`120`, `true`).

    The official CLI sends `COLUMNS` and `LINES` as numbers from a terminal, and
    `addons:create -- --flag` as `true`; Heroku takes both as strings. Anything
    else (null, objects, lists) is left for the strict check to refuse.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


# A string, or a number or boolean taken as its string form.
ScalarText = Annotated[StrictStr, BeforeValidator(_scalar_text)]


class _Body(BaseModel):
    # Heroku ignores fields it does not know; so do we.
    model_config = ConfigDict(extra="ignore")


class AppCreate(_Body):
    name: StrictStr | None = None
    region: StrictStr | None = None
    stack: StrictStr | None = None


class AppUpdate(_Body):
    name: StrictStr | None = None
    maintenance: StrictBool | None = None
    # Slipway's own: sleep when idle like eco dynos, whatever the size.
    sleeps: StrictBool | None = None
    build_stack: StrictStr | None = None


class ReleaseCreate(_Body):
    release: StrictStr | None = None
    slug: StrictStr | None = None
    description: StrictStr | None = None


class SlugCreate(_Body):
    process_types: dict[StrictStr, StrictStr]
    commit: StrictStr | None = None
    commit_description: StrictStr | None = None
    buildpack_provided_description: StrictStr | None = None
    stack: StrictStr | None = None
    checksum: StrictStr | None = None


class DynoSizeRef(_Body):
    name: StrictStr


class FormationChange(_Body):
    quantity: StrictInt | StrictStr | None = None
    size: StrictStr | None = None
    dyno_size: DynoSizeRef | None = None


class FormationTypeChange(FormationChange):
    type: StrictStr


class FormationBatch(_Body):
    updates: list[FormationTypeChange]


class AccountCreate(_Body):
    email: StrictStr
    # Slipway's own: a first password, a name, and whether the account is an admin.
    password: StrictStr | None = None
    name: StrictStr | None = None
    admin: StrictBool | None = None


class AccountUpdate(_Body):
    name: StrictStr | None = None
    # Changing the password takes the current one (`password`) and the new one.
    password: StrictStr | None = None
    new_password: StrictStr | None = None


class AccountAdminUpdate(_Body):
    """Slipway's own, for admins: disable or enable an account, reset its password."""

    disabled: StrictBool | None = None
    password: StrictStr | None = None


class AuthorizationCreate(_Body):
    description: StrictStr | None = None
    # `authorizations:create` sends a string ("3600"), `login -i` a number.
    expires_in: StrictInt | StrictStr | None = None
    scope: list[StrictStr] | None = None


class AuthorizationUpdate(_Body):
    description: StrictStr | None = None


class UserRef(_Body):
    email: StrictStr | None = None
    id: StrictStr | None = None


class CollaboratorCreate(_Body):
    user: StrictStr | UserRef
    permissions: list[StrictStr] | None = None
    silent: StrictBool | None = None

    @property
    def email(self) -> str:
        return self.user if isinstance(self.user, str) else (self.user.email or self.user.id or "")


class CollaboratorUpdate(_Body):
    permissions: list[StrictStr]


class TeamCreate(_Body):
    name: StrictStr


class TeamMemberBody(_Body):
    email: StrictStr
    role: StrictStr = "member"


class TeamAppCreate(_Body):
    name: StrictStr | None = None
    team: StrictStr | None = None
    organization: StrictStr | None = None
    region: StrictStr | None = None
    stack: StrictStr | None = None
    locked: StrictBool | None = None


class TeamAppUpdate(_Body):
    owner: StrictStr | None = None
    locked: StrictBool | None = None


class AppTransferCreate(_Body):
    app: StrictStr
    recipient: StrictStr
    silent: StrictBool | None = None


class AppTransferUpdate(_Body):
    state: StrictStr


class InvitationCreate(_Body):
    email: StrictStr
    team: StrictStr | None = None
    role: StrictStr | None = None


class TeamInvitationCreate(_Body):
    email: StrictStr
    role: StrictStr | None = None


class InvitationAccept(_Body):
    password: StrictStr
    name: StrictStr | None = None


class LoginStart(_Body):
    description: StrictStr | None = None


class SourceBlob(_Body):
    url: StrictStr
    version: StrictStr | None = None
    checksum: StrictStr | None = None


class BuildpackRef(_Body):
    url: StrictStr | None = None
    name: StrictStr | None = None


class BuildCreate(_Body):
    source_blob: SourceBlob
    buildpacks: list[BuildpackRef] | None = None


class AppSetupApp(_Body):
    name: StrictStr | None = None
    stack: StrictStr | None = None
    region: StrictStr | None = None
    organization: StrictStr | None = None
    personal: StrictBool | None = None
    locked: StrictBool | None = None


class AppSetupOverrides(_Body):
    buildpacks: list[BuildpackRef] | None = None
    env: dict[StrictStr, StrictStr] | None = None


class AppSetupCreate(_Body):
    source_blob: SourceBlob
    app: AppSetupApp | None = None
    overrides: AppSetupOverrides | None = None


class BuildpackUpdate(_Body):
    buildpack: StrictStr


class BuildpackInstallations(_Body):
    updates: list[BuildpackUpdate]


class LogSessionCreate(_Body):
    # The official CLI sends source, dyno, lines, tail; older clients num and ps;
    # the schema names dyno_name and type.
    lines: StrictInt | None = None
    num: StrictInt | None = None
    tail: StrictBool | None = None
    source: StrictStr | None = None
    dyno: StrictStr | None = None
    dyno_name: StrictStr | None = None
    ps: StrictStr | None = None
    type: StrictStr | None = None


class LogDrainCreate(_Body):
    url: StrictStr


class DynoCreate(_Body):
    command: StrictStr
    attach: StrictBool | None = None
    env: dict[StrictStr, ScalarText] | None = None
    force_no_tty: StrictBool | None = None
    size: StrictStr | None = None
    type: StrictStr | None = None
    time_to_live: StrictInt | None = None


class DomainCreate(_Body):
    hostname: StrictStr
    sni_endpoint: StrictStr | None = None


class SniEndpointCreate(_Body):
    certificate_chain: StrictStr
    private_key: StrictStr


class DomainUpdate(_Body):
    sni_endpoint: StrictStr | None = None


class AcmRefresh(_Body):
    acm_refresh: bool | None = None


class PlanRef(_Body):
    name: StrictStr


class AttachmentRef(_Body):
    name: StrictStr | None = None


class AddonCreate(_Body):
    plan: PlanRef | StrictStr
    attachment: AttachmentRef | None = None
    config: dict[StrictStr, ScalarText] | None = None
    name: StrictStr | None = None
    confirm: StrictStr | None = None


class AddonDelete(_Body):
    force: StrictBool | None = None


class AddonResolve(_Body):
    addon: StrictStr
    app: StrictStr | None = None
    addon_service: StrictStr | None = None


class Ref(_Body):
    """`{"name": ...}` or `{"id": ...}`: how the official CLI names an add-on or an app."""

    name: StrictStr | None = None
    id: StrictStr | None = None

    @property
    def ident(self) -> str:
        return self.id or self.name or ""


class AttachmentCreate(_Body):
    addon: Ref | StrictStr
    app: Ref | StrictStr
    name: StrictStr | None = None
    namespace: StrictStr | None = None
    confirm: StrictStr | None = None


class AttachmentResolve(_Body):
    addon_attachment: StrictStr
    app: StrictStr | None = None
    addon_service: StrictStr | None = None


class AddonUpdate(_Body):
    """`{"name": ...}` renames (addons:rename); `{"plan": {"name": "SERVICE:PLAN"}}` changes
    the plan (addons:upgrade / addons:downgrade)."""

    name: StrictStr | None = None
    plan: PlanRef | StrictStr | None = None


class DataRestore(_Body):
    backup_url: StrictStr
    extensions: list[StrictStr] | None = None


class DataReset(_Body):
    extensions: list[StrictStr] | None = None


class CredentialRotation(_Body):
    forced: StrictBool | None = None


class FeatureUpdate(_Body):
    enabled: StrictBool


class SchedulerJobCreate(_Body):
    frequency: StrictStr
    command: StrictStr
    size: StrictStr | None = None


class TransferScheduleCreate(_Body):
    """What `pg:backups:schedule DATABASE_URL --at '02:00 UTC'` sends: the hour is a string."""

    hour: StrictStr | int
    timezone: StrictStr = "UTC"
    schedule_name: StrictStr | None = None
