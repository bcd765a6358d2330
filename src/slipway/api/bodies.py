"""Request bodies. Strict types: a number where a string belongs is an error, not a guess."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr


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
    env: dict[StrictStr, StrictStr] | None = None
    force_no_tty: StrictBool | None = None
    size: StrictStr | None = None
    type: StrictStr | None = None
    time_to_live: StrictInt | None = None


class DomainCreate(_Body):
    hostname: StrictStr
    sni_endpoint: StrictStr | None = None


class PlanRef(_Body):
    name: StrictStr


class AttachmentRef(_Body):
    name: StrictStr | None = None


class AddonCreate(_Body):
    plan: PlanRef | StrictStr
    attachment: AttachmentRef | None = None
    config: dict[StrictStr, StrictStr] | None = None
    name: StrictStr | None = None
    confirm: StrictStr | None = None


class AddonDelete(_Body):
    force: StrictBool | None = None


class AddonResolve(_Body):
    addon: StrictStr
    app: StrictStr | None = None
    addon_service: StrictStr | None = None


class AttachmentCreate(_Body):
    addon: StrictStr
    app: StrictStr
    name: StrictStr | None = None
    confirm: StrictStr | None = None
