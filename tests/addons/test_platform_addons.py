"""The platform's add-on use cases behind the `addons` port, with a third-party provider.

The provider here is a stand-in written for this test: a third party's provider
has no real server to run, and the point is what the platform does with the
optional backups capability (`SupportsBackups`) of a provider that is not
Postgres. The built-in providers take the same paths for real in
tests/api/test_addons.py (and with deployed dynos in tests/dynos/test_addons_e2e.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from slipway.addons import (
    Backup,
    Backups,
    Plan,
    Provider,
    ProviderUnavailable,
    Provisioned,
    ResourceNotFound,
    Service,
    SupportsBackups,
)
from slipway.platform import accounts, addons, apps, releases, views
from slipway.platform.addons import refresh
from slipway.platform.errors import InvalidParams, NotFound, Unavailable
from slipway.platform.tx import Platform
from slipway.store import Store
from slipway.store.engine import sqlite_url

CREATED = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


class _Provider:
    """The Provider protocol's methods, on resources kept in a dict."""

    service: Service

    def __init__(self, data_dir: Path) -> None:
        self.dumps = data_dir
        self.resources: dict[str, str] = {}
        self.host = ""  # where its URLs say the resources are ("": acme://NAME)
        self.down = False

    def provision(self, resource_name: str, plan: Plan, options: Mapping[str, str]) -> Provisioned:
        self.resources[resource_name] = "fresh"
        return Provisioned(resource_name, {"URL": f"acme://{resource_name}"})

    def deprovision(self, resource_id: str) -> None:
        self.resources.pop(resource_id, None)

    def config(self, resource_id: str) -> dict[str, str]:
        if self.down:
            raise ProviderUnavailable("The Acme server is not answering; try again later.")
        if self.host:
            return {"URL": f"acme://{self.host}/{resource_id}", "TLS_URL": f"acmes://{self.host}"}
        return {"URL": f"acme://{resource_id}"}

    def info(self, resource_id: str) -> list[tuple[str, str]]:
        return [("Holds", self.resources[resource_id])]

    def rotate_credentials(self, resource_id: str) -> dict[str, str]:
        return self.config(resource_id)

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


class AcmeBackups:
    """A `Backups`: a backup is a copy of what the resource holds, in a file."""

    def __init__(self, provider: AcmeStore) -> None:
        self.provider = provider
        self.taken: dict[str, list[Backup]] = {}

    def _check(self, resource_id: str, backup_name: str | None = None) -> None:
        names = [b.name for b in self.taken.get(resource_id, [])]
        if resource_id not in self.provider.resources or (
            backup_name is not None and backup_name not in names
        ):
            raise ResourceNotFound(f"There is no backup {backup_name} of {resource_id}.")

    def list_backups(self, resource_id: str) -> list[Backup]:
        self._check(resource_id)
        return list(self.taken.get(resource_id, []))

    def capture_backup(self, resource_id: str, scheduled: bool = False) -> Backup:
        self._check(resource_id)
        name = f"a{len(self.taken.get(resource_id, [])) + 1:03d}"
        path = self.provider.dumps / f"{resource_id}-{name}"
        path.write_text(self.provider.resources[resource_id])
        backup = Backup(name, CREATED, path.stat().st_size, "Completed", scheduled)
        self.taken.setdefault(resource_id, []).append(backup)
        return backup

    def delete_backup(self, resource_id: str, backup_name: str) -> None:
        self._check(resource_id, backup_name)
        self.taken[resource_id] = [b for b in self.taken[resource_id] if b.name != backup_name]

    def restore_backup(
        self, resource_id: str, backup_name: str, *, source_resource_id: str | None = None
    ) -> None:
        dump = self.backup_path(source_resource_id or resource_id, backup_name)
        self.provider.resources[resource_id] = dump.read_text()

    def backup_path(self, resource_id: str, backup_name: str) -> Path:
        self._check(resource_id, backup_name)
        return self.provider.dumps / f"{resource_id}-{backup_name}"


class AcmeStore(_Provider):
    """A third party's provider that offers backups."""

    service = Service(
        name="acme-store",
        human_name="Acme Store",
        aliases=("acme",),
        plans=(Plan("acme-store:small", "Small", default=True), Plan("acme-store:big", "Big")),
        config_var_suffix="ACME_STORE",
    )

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir)
        self.backups: Backups = AcmeBackups(self)


class AcmeQueue(_Provider):
    """One that does not."""

    service = Service(
        name="acme-queue",
        human_name="Acme Queue",
        aliases=(),
        plans=(Plan("acme-queue:one", "One", default=True),),
        config_var_suffix="ACME_QUEUE",
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(sqlite_url(tmp_path / "platform.db"))
    s.migrate()
    yield s
    s.dispose()


@pytest.fixture
def acme(tmp_path: Path) -> AcmeStore:
    return AcmeStore(tmp_path)


@pytest.fixture
def platform(store: Store, acme: AcmeStore, tmp_path: Path) -> Platform:
    platform = Platform(store)
    providers: dict[str, Provider] = {"acme-store": acme, "acme-queue": AcmeQueue(tmp_path)}
    platform.ports.addons = providers
    return platform


@pytest.fixture
def actor(platform: Platform) -> views.Actor:
    with platform.tx() as tx:
        created = accounts.bootstrap_admin(tx, "admin@example.com")
        assert created is not None
        apps.create_app(tx, views.Actor(created[0]), "acme-app")
        return views.Actor(created[0])


def test_the_provider_offers_backups_through_the_capability(acme: AcmeStore) -> None:
    assert isinstance(acme, Provider)
    assert isinstance(acme, SupportsBackups)
    assert not isinstance(AcmeQueue(acme.dumps), SupportsBackups)


def test_a_third_party_provider_s_backups_go_through_the_platform(
    platform: Platform, actor: views.Actor, acme: AcmeStore
) -> None:
    addon = addons.create_addon(platform, actor, "acme-app", plan="acme")
    assert addon.config_vars == ("ACME_STORE_URL",)
    assert addons.list_backups(platform, actor, addon.name, None) == []
    taken = addons.capture_backup(platform, actor, "ACME_STORE", "acme-app")
    assert taken == views.AddonBackup(name="a001", created_at=CREATED, size=5, status="Completed")
    assert addons.list_backups(platform, actor, addon.id, None) == [taken]
    acme.resources[addon.name] = "changed"
    addons.restore_backup(platform, actor, addon.name, None, "a001")
    assert acme.resources[addon.name] == "fresh"
    path = addons.backup_path(platform, actor, addon.name, None, "a001")
    assert path.read_text() == "fresh"
    assert addons.addon_info(platform, actor, addon.name, None) == [("Holds", "fresh")]
    # The provider's ResourceNotFound is the platform's NotFound, once, at the boundary.
    with pytest.raises(NotFound) as missing:
        addons.backup_path(platform, actor, addon.name, None, "a009")
    assert missing.value.message == f"There is no backup a009 of {addon.name}."
    assert missing.value.resource == "addon"


def test_a_provider_without_the_capability_has_no_backups(
    platform: Platform, actor: views.Actor
) -> None:
    queue = addons.create_addon(platform, actor, "acme-app", plan="acme-queue")
    with pytest.raises(InvalidParams) as refused:
        addons.capture_backup(platform, actor, queue.name, None)
    assert (
        refused.value.message
        == "acme-queue add-ons have no backups; back up a service that offers them, "
        "such as heroku-postgresql."
    )


def test_an_unwired_provider_is_unavailable(platform: Platform, actor: views.Actor) -> None:
    addon = addons.create_addon(platform, actor, "acme-app", plan="acme-store:big")
    assert addon.plan == "acme-store:big"
    platform.ports.addons = {}
    with pytest.raises(Unavailable) as gone:
        addons.list_backups(platform, actor, addon.name, None)
    assert gone.value.message == "The acme-store provider is not available on this server."
    assert addons.list_services(platform) == []
    with pytest.raises(InvalidParams):
        addons.create_addon(platform, actor, "acme-app", plan="acme")


def test_the_catalogue_comes_from_the_port(platform: Platform) -> None:
    services = addons.list_services(platform)
    assert [s.name for s in services] == ["acme-store", "acme-queue"]
    store = services[0]
    assert store.id == addons.catalogue_id("service", "acme-store")
    assert addons.get_service(platform, "acme") == store
    assert addons.get_service(platform, store.id) == store
    plans = addons.list_plans(platform, "acme-store")
    assert [(p.name, p.default) for p in plans] == [
        ("acme-store:small", True),
        ("acme-store:big", False),
    ]
    assert addons.get_plan(platform, "acme", "big") == plans[1]
    assert addons.get_plan(platform, "acme", plans[1].id).service == store
    with pytest.raises(NotFound) as no_plan:
        addons.get_plan(platform, "acme", "huge")
    assert no_plan.value.resource == "plan"
    with pytest.raises(NotFound) as no_service:
        addons.get_service(platform, "nope")
    assert no_service.value.resource == "addon_service"


def test_attachments_follow_what_their_provider_says_at_start(
    platform: Platform, actor: views.Actor, acme: AcmeStore
) -> None:
    addon = addons.create_addon(platform, actor, "acme-app", plan="acme")
    with platform.tx() as tx:
        apps.create_app(tx, actor, "acme-other")
    addons.attach(platform, actor, addon.name, "acme-other", "STORE")
    assert refresh.refresh_all(platform) == 0, "nothing moved: no release"
    # Its server moved (an upgrade gave dynos their own network): one release per app,
    # by the add-on, with every attachment's vars as the provider has them now.
    acme.host = "10.9.0.1"
    assert refresh.refresh_all(platform) == 2
    with platform.tx() as tx:
        for app, var in (("acme-app", "ACME_STORE"), ("acme-other", "STORE")):
            latest = releases.list_releases(tx, actor, app)[-1]
            assert latest.description == f"Update {var} by {addon.name}"
            assert latest.user_email == "acme-store@addons.heroku.com"
            config = releases.get_config(tx, actor, app)
            assert config[f"{var}_URL"] == f"acme://10.9.0.1/{addon.name}"
            assert config[f"{var}_TLS_URL"] == "acmes://10.9.0.1"
        assert addons.get_addon(tx, actor, addon.name).config_vars == (
            "ACME_STORE_TLS_URL",
            "ACME_STORE_URL",
        )
    assert refresh.refresh_all(platform) == 0, "up to date: no second release"
    # A var a person unset stays unset when the provider's value moves again.
    with platform.tx() as tx:
        releases.update_config(tx, actor, "acme-other", {"STORE_TLS_URL": None})
    acme.host = "10.9.0.2"
    assert refresh.refresh_all(platform) == 2
    with platform.tx() as tx:
        assert "STORE_TLS_URL" not in releases.get_config(tx, actor, "acme-other")
        assert releases.get_config(tx, actor, "acme-other")["STORE_URL"] == (
            f"acme://10.9.0.2/{addon.name}"
        )
    # A provider that cannot answer leaves the vars alone, and the others go on.
    acme.down = True
    with platform.tx() as tx:
        before = len(releases.list_releases(tx, actor, "acme-app"))
    assert refresh.refresh_all(platform) == 0
    with platform.tx() as tx:
        assert len(releases.list_releases(tx, actor, "acme-app")) == before
        assert releases.get_config(tx, actor, "acme-app")["ACME_STORE_URL"] == (
            f"acme://10.9.0.2/{addon.name}"
        )


def test_a_refresh_updates_what_moved_and_leaves_people_s_own_vars_alone() -> None:
    config = {"URL": "redis://10.9.0.1:1", "TLS_URL": "rediss://10.9.0.1:2"}
    attached = {
        "a": (
            {"REDIS_URL": "redis://127.0.0.1:1", "CACHE_URL": "redis://10.9.0.1:1"},
            ["CACHE", "REDIS"],
        ),
        "b": ({"X": "y"}, ["REDIS"]),  # a person unset REDIS_URL here
    }
    plan = refresh.plan_refresh(attached, config, ["URL"])
    assert plan.new_keys == ("TLS_URL",)
    assert plan.changes == {
        "a": {
            "CACHE_TLS_URL": "rediss://10.9.0.1:2",
            "REDIS_URL": "redis://10.9.0.1:1",
            "REDIS_TLS_URL": "rediss://10.9.0.1:2",
        },
        "b": {"REDIS_TLS_URL": "rediss://10.9.0.1:2"},
    }
    # A new key whose var an app already has of its own is not added anywhere.
    own = {"a": ({"REDIS_URL": "redis://10.9.0.1:1", "REDIS_TLS_URL": "mine"}, ["REDIS"])}
    assert refresh.plan_refresh(own, config, ["URL"]) == refresh.Refresh({}, ())
    assert refresh.plan_refresh({}, config, ["URL"]) == refresh.Refresh({}, ("TLS_URL",))
