"""Labs features (`heroku labs`): what Slipway really has, per app, and switching them.

Heroku's app features that change how Slipway runs an app:

- `preboot`: new web dynos boot beside the old ones and take traffic once they are
  up. Off, the old web dynos stop when the new ones start (a short gap, as on
  Heroku without preboot).
- `runtime-dyno-metadata`: the dyno metadata variables (HEROKU_APP_ID,
  HEROKU_RELEASE_VERSION, HEROKU_SLUG_COMMIT ...) in every dyno's environment.

Both are on unless switched off: Slipway has always booted and described dynos
this way (on Heroku both start off). A row keeps only what differs from the
default, so a feature added later starts at its default everywhere. A change
takes effect the next time a dyno starts (a deploy, a restart, `heroku run`).

There are no account features: `GET /account/features/{name}` answers 404,
which is how the official CLI learns to try the app's features instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm.attributes import flag_modified

from slipway.platform import views
from slipway.platform.apps import find_app_row
from slipway.platform.errors import NotFound
from slipway.platform.events import RuntimeChanged
from slipway.platform.tx import Tx

PREBOOT = "preboot"
DYNO_METADATA = "runtime-dyno-metadata"

# What Heroku's runtime-dyno-metadata puts in a dyno's environment.
DYNO_METADATA_VARS = (
    "HEROKU_APP_ID",
    "HEROKU_APP_NAME",
    "HEROKU_APP_DEFAULT_DOMAIN_NAME",
    "HEROKU_DYNO_ID",
    "HEROKU_RELEASE_CREATED_AT",
    "HEROKU_RELEASE_VERSION",
    "HEROKU_SLUG_COMMIT",
    "HEROKU_SLUG_DESCRIPTION",
)


@dataclass(frozen=True)
class Feature:
    name: str
    display_name: str
    description: str
    doc_url: str
    default: bool
    state: str = "general"


APP_FEATURES = (
    Feature(
        PREBOOT,
        "Preboot",
        "Boot new web dynos beside the old ones and switch traffic once they are up.",
        "https://devcenter.heroku.com/articles/preboot",
        default=True,
    ),
    Feature(
        DYNO_METADATA,
        "Runtime Dyno Metadata",
        "Put the app's and the release's metadata in every dyno's environment: "
        + ", ".join(DYNO_METADATA_VARS)
        + ".",
        "https://devcenter.heroku.com/articles/dyno-metadata",
        default=True,
        # Heroku's: `heroku labs` lists only features that are not generally available
        # (preboot is, so `heroku features` lists it; labs:enable/disable take both).
        state="beta",
    ),
)


def feature_named(name: str) -> Feature:
    for feature in APP_FEATURES:
        if feature.name == name:
            return feature
    names = ", ".join(f.name for f in APP_FEATURES)
    raise NotFound(
        f"Couldn't find that feature ({name}); the features here are {names}.", resource="feature"
    )


def enabled(features: Mapping[str, bool], name: str) -> bool:
    """Whether feature `name` is on, given an app's stored switches (pure)."""
    return bool(features.get(name, feature_named(name).default))


def _view(feature: Feature, on: bool) -> views.AppFeature:
    return views.AppFeature(
        name=feature.name,
        display_name=feature.display_name,
        description=feature.description,
        doc_url=feature.doc_url,
        state=feature.state,
        enabled=on,
    )


def list_app_features(tx: Tx, actor: views.Actor, app_ident: str) -> list[views.AppFeature]:
    app = find_app_row(tx, actor, app_ident)
    return [_view(f, enabled(app.features or {}, f.name)) for f in APP_FEATURES]


def get_app_feature(tx: Tx, actor: views.Actor, app_ident: str, name: str) -> views.AppFeature:
    app = find_app_row(tx, actor, app_ident)
    feature = feature_named(name)
    return _view(feature, enabled(app.features or {}, feature.name))


def set_app_feature(
    tx: Tx, actor: views.Actor, app_ident: str, name: str, on: bool
) -> views.AppFeature:
    """Switch a feature; the dyno manager re-reads the app so the next dyno follows it."""
    app = find_app_row(tx, actor, app_ident, lock=True)
    feature = feature_named(name)
    switches = dict(app.features or {})
    if on == feature.default:
        switches.pop(feature.name, None)
    else:
        switches[feature.name] = on
    if switches != (app.features or {}):
        app.features = switches
        flag_modified(app, "features")
        app.updated_at = tx.clock.now()
        verb = "Enable" if on else "Disable"
        tx.log(app.id, f"{verb} {feature.name} by user {actor.email}")
        tx.emit(RuntimeChanged(app.id))
    return _view(feature, on)


def get_account_feature(name: str) -> views.AppFeature:
    """There are no account features here: always NotFound (the CLI then asks the app)."""
    raise NotFound(f"Couldn't find that account feature ({name}).", resource="feature")
