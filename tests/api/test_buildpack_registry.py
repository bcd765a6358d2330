"""The buildpack registry lookup the official CLI makes for `buildpacks:set heroku/python`:
the built-ins are found, anything else is Heroku's not_found."""

from __future__ import annotations

import httpx

REGISTRY = {"Accept": "application/vnd.heroku+json; version=3.buildpack-registry"}


def test_the_built_in_buildpacks_are_in_the_registry(api: httpx.Client) -> None:
    for ref in ("heroku/ruby", "heroku/nodejs", "heroku/java", "heroku/python"):
        response = api.get(f"/buildpacks/{ref}", headers=REGISTRY)
        assert response.status_code == 200, response.text
        namespace = ref.split("/")[0]
        assert response.json() == {"id": ref, "name": ref, "namespace": namespace, "blob_url": ref}


def test_other_registry_names_are_not_found(api: httpx.Client) -> None:
    response = api.get("/buildpacks/heroku/cobol", headers=REGISTRY)
    assert response.status_code == 404
    assert response.json() == {
        "id": "not_found",
        "message": "Couldn't find that buildpack (heroku/cobol).",
        "resource": "buildpack",
    }
