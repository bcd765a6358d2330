"""Finding providers: built-ins, aliases, SERVICE:PLAN, and third parties through entry points."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pytest

from slipway.addons import (
    AddonError,
    AddonSettings,
    PostgresProvider,
    Provider,
    RedisProvider,
    SupportsBackups,
    UnknownPlan,
    UnknownService,
    load_providers,
    parse_plan_spec,
    resolve_service,
)
from slipway.addons.registry import BUILTIN_PROVIDERS
from tests.addons.helpers import assert_one_sentence


@pytest.fixture
def providers(tmp_path: Path) -> dict[str, Provider]:
    return load_providers(tmp_path / "data", AddonSettings())


def test_builtins_are_there_and_loading_touches_nothing(
    tmp_path: Path, providers: dict[str, Provider]
) -> None:
    assert isinstance(providers["heroku-postgresql"], PostgresProvider)
    assert isinstance(providers["heroku-redis"], RedisProvider)
    assert providers["heroku-postgresql"].service.config_var_suffix == "DATABASE"
    assert providers["heroku-redis"].service.config_var_suffix == "REDIS"
    assert not (tmp_path / "data").exists()


def test_backups_are_a_capability_a_provider_may_offer(providers: dict[str, Provider]) -> None:
    postgres, redis = providers["heroku-postgresql"], providers["heroku-redis"]
    assert isinstance(postgres, SupportsBackups)
    assert callable(postgres.backups.capture_backup)
    assert not isinstance(redis, SupportsBackups)


@pytest.mark.parametrize(
    ("spec", "plan"),
    [
        ("heroku-postgresql", "heroku-postgresql:essential-0"),
        ("postgresql", "heroku-postgresql:essential-0"),
        ("postgresql:standard-0", "heroku-postgresql:standard-0"),
        ("heroku-postgresql:essential-1", "heroku-postgresql:essential-1"),
        ("  Heroku-PostgreSQL:Essential-1 ", "heroku-postgresql:essential-1"),
        ("redis", "heroku-redis:mini"),
        ("heroku-redis", "heroku-redis:mini"),
        ("redis:premium-0", "heroku-redis:premium-0"),
    ],
)
def test_names_aliases_and_plans_resolve(
    providers: dict[str, Provider], spec: str, plan: str
) -> None:
    resolved = resolve_service(providers, spec)
    assert resolved.plan.name == plan
    assert resolved.service.name == plan.split(":")[0]
    assert resolved.provider is providers[resolved.service.name]


def test_parse_plan_spec() -> None:
    assert parse_plan_spec("heroku-redis:mini") == ("heroku-redis", "mini")
    assert parse_plan_spec("redis") == ("redis", None)
    for bad in ("", ":mini", "redis:", "  "):
        with pytest.raises(AddonError) as info:
            parse_plan_spec(bad)
        assert_one_sentence(info.value.message)


def test_unknown_service_lists_the_available_ones(providers: dict[str, Provider]) -> None:
    with pytest.raises(UnknownService) as info:
        resolve_service(providers, "mongolab:sandbox")
    message = info.value.message
    assert_one_sentence(message)
    assert "'mongolab'" in message
    assert "heroku-postgresql (postgresql)" in message
    assert "heroku-redis (redis)" in message
    assert isinstance(info.value, AddonError)
    assert info.value.id == "not_found"


def test_unknown_plan_lists_the_available_ones(providers: dict[str, Provider]) -> None:
    with pytest.raises(UnknownPlan) as info:
        resolve_service(providers, "redis:hobby-dev")
    assert_one_sentence(info.value.message)
    assert "mini, premium-0" in info.value.message
    with pytest.raises(UnknownPlan) as info:
        resolve_service(providers, "heroku-postgresql:mini")
    assert "essential-0, essential-1, standard-0" in info.value.message
    # Every provider reads its stored plans through the same lookup, by full or short name.
    for provider in providers.values():
        service = provider.service
        for plan in service.plans:
            assert service.plan_named(plan.name) is plan
            assert service.plan_named(plan.short_name.upper()) is plan
        with pytest.raises(UnknownPlan) as info:
            service.plan_named(f"{service.name}:gigantic")
        assert info.value.message == service.no_plan(f"{service.name}:gigantic")
        assert_one_sentence(info.value.message)


def _fake_distribution(root: Path, entry_points: str, module: str = "") -> None:
    """An installed distribution on sys.path, as pip would leave it."""
    dist = root / "acme_cache-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-cache\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    if module:
        (root / "acme_cache.py").write_text(textwrap.dedent(module))


ACME_MODULE = """
    from collections.abc import Mapping
    from pathlib import Path

    from slipway.addons import AddonSettings, Plan, Provisioned, Service


    class AcmeCacheProvider:
        service = Service(
            name="acme-cache",
            human_name="Acme Cache",
            aliases=("acme",),
            plans=(
                Plan("acme-cache:small", "Small", default=True),
                Plan("acme-cache:large", "Large"),
            ),
            config_var_suffix="ACME_CACHE",
        )

        def __init__(self, data_dir: Path, settings: AddonSettings) -> None:
            self.token = settings.extra.get("acme.token")
            self.resources: dict[str, str] = {}

        def provision(self, resource_name, plan, options):
            self.resources[resource_name] = plan.name
            return Provisioned(resource_name, {"URL": "acme://" + resource_name})

        def deprovision(self, resource_id):
            self.resources.pop(resource_id, None)

        def config(self, resource_id):
            return {"URL": "acme://" + resource_id}

        def info(self, resource_id):
            return [("Plan", self.resources[resource_id])]

        def rotate_credentials(self, resource_id):
            return self.config(resource_id)

        def start(self):
            pass

        def stop(self):
            pass


    class NotAProvider:
        def __init__(self, data_dir, settings):
            pass


    class StealsAnAlias(AcmeCacheProvider):
        service = Service(
            name="acme-pg",
            human_name="Acme PG",
            aliases=("postgresql",),
            plans=(Plan("acme-pg:one", "One", default=True),),
            config_var_suffix="ACME_PG",
        )
"""


def test_a_provider_registered_through_an_entry_point_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    _fake_distribution(
        site,
        """
        [slipway.addons]
        acme-cache = acme_cache:AcmeCacheProvider
        # The built-ins, as Slipway's own pyproject registers them: no duplicates.
        heroku-postgresql = slipway.addons.postgres:PostgresProvider
        heroku-redis = slipway.addons.redis:RedisProvider
        """,
        ACME_MODULE,
    )
    monkeypatch.syspath_prepend(str(site))
    providers = load_providers(tmp_path / "data", AddonSettings(extra={"acme.token": "t0k"}))
    assert sorted(providers) == sorted(["acme-cache", *BUILTIN_PROVIDERS])
    acme = providers["acme-cache"]
    assert isinstance(acme, Provider)
    assert getattr(acme, "token", None) == "t0k"
    resolved = resolve_service(providers, "acme:large")
    assert resolved.provider is acme
    assert resolved.plan.name == "acme-cache:large"
    assert resolve_service(providers, "acme-cache").plan.name == "acme-cache:small"
    provisioned = acme.provision("acme-cache-shiny-1234", resolved.plan, {})
    assert provisioned.config == {"URL": "acme://acme-cache-shiny-1234"}
    with pytest.raises(UnknownService) as info:
        resolve_service(providers, "nope")
    assert "acme-cache (acme)" in info.value.message


def test_broken_or_clashing_entry_points_are_skipped_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    site = tmp_path / "site"
    _fake_distribution(
        site,
        """
        [slipway.addons]
        missing-module = acme_nothing_here:Provider
        not-a-provider = acme_cache:NotAProvider
        heroku-redis = acme_cache:AcmeCacheProvider
        acme-pg = acme_cache:StealsAnAlias
        """,
        ACME_MODULE,
    )
    monkeypatch.syspath_prepend(str(site))
    with caplog.at_level(logging.WARNING, logger="slipway.addons"):
        providers = load_providers(tmp_path / "data", AddonSettings())
    assert sorted(providers) == sorted(BUILTIN_PROVIDERS)
    assert isinstance(providers["heroku-redis"], RedisProvider)
    warnings = "\n".join(r.getMessage() for r in caplog.records)
    assert "missing-module" in warnings
    assert "not-a-provider" in warnings
    assert "heroku-redis is already provided" in warnings
    assert "postgresql already names heroku-postgresql" in warnings
