"""app.json parsing (pure): the fields a setup uses, and one sentence for each mistake."""

from __future__ import annotations

import pytest

from slipway.builder.release_info import ReleaseInfo, parse_release
from slipway.platform.app_json import parse_manifest
from slipway.platform.errors import InvalidParams


def test_every_field() -> None:
    manifest = parse_manifest(
        """{
          "stack": "heroku-24",
          "env": {"A": "1", "B": {"value": "two"}, "S": {"generator": "secret"},
                  "R": {"description": "needed"}, "O": {"required": false}},
          "formation": {"web": {"quantity": 2, "size": "standard-1x"}},
          "addons": ["heroku-redis", {"plan": "heroku-postgresql:essential-0", "as": "DB",
                                      "options": {"version": 16}}],
          "buildpacks": [{"url": "heroku/ruby"}, {"url": "heroku/nodejs"}],
          "scripts": {"postdeploy": {"command": "bin/seed", "size": "basic"}}
        }"""
    )
    assert [v.name for v in manifest.missing({})] == ["R"]
    assert manifest.missing({"R": "x"}) == []
    config = manifest.config({"R": "x"})
    assert config["A"] == "1"
    assert config["B"] == "two"
    assert config["R"] == "x"
    assert len(config["S"]) == 64
    assert "O" not in config
    assert manifest.formation[0].quantity == 2
    assert manifest.addons[1].attachment == "DB"
    assert manifest.addons[1].options == {"version": "16"}
    assert manifest.buildpacks == ("heroku/ruby", "heroku/nodejs")
    assert manifest.postdeploy is not None
    assert manifest.postdeploy.command == "bin/seed"
    assert manifest.stack == "heroku-24"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"env": {', "app.json is not valid JSON ("),
        ("[]", "app.json must hold a JSON object"),
        ('{"env": {"bad name": "x"}}', "which is not a config var name"),
        ('{"env": {"X": {"generator": "uuid"}}}', 'the only generator is "secret"'),
        ('{"formation": {"web": {"quantity": -1}}}', "must be a whole number"),
        ('{"addons": [7]}', 'must be a plan or {"plan": ...}'),
        ('{"buildpacks": [{}]}', 'needs a "url"'),
        ('{"scripts": {"postdeploy": 3}}', '"scripts.postdeploy" must be a command'),
    ],
)
def test_mistakes(text: str, message: str) -> None:
    with pytest.raises(InvalidParams) as caught:
        parse_manifest(text)
    assert message in caught.value.message


def test_release_yaml_with_runtimes_and_config_vars() -> None:
    info = parse_release(
        "---\ndefault_process_types:\n  web: \"bundle exec rackup -p $PORT\"\n  'bad type': x\n"
        'config_vars:\n  RACK_ENV: production\n  9BAD: x\nruntimes:\n  Ruby: "3.1.2"\n'
    )
    assert info == ReleaseInfo(
        {"web": "bundle exec rackup -p $PORT"}, {"RACK_ENV": "production"}, {"Ruby": "3.1.2"}
    )
    assert parse_release(": : :") is None
    merged = ReleaseInfo({"web": "a"}).merged(ReleaseInfo({"web": "b"}, runtimes={"N": "1"}))
    assert merged == ReleaseInfo({"web": "b"}, {}, {"N": "1"})
