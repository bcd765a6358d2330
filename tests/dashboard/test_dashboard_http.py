"""The dashboard's door over plain HTTP: cookies, CSRF, the content security policy, the
404 for another person's app, sessions ending, the sign-in rate limit; and the metrics
endpoints' authentication. (The pages themselves: test_browser.py.)"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import unique_name
from tests.dashboard.conftest import Person, make_person
from tests.support import ServerProcess

HOST = {"Host": "dashboard.localhost"}


@pytest.fixture
def web(sqlite_server: ServerProcess) -> Iterator[httpx.Client]:
    """A browser without JavaScript: the API listener, asked for the dashboard's host."""
    with httpx.Client(base_url=sqlite_server.url, headers=HOST, timeout=30) as client:
        yield client


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', html)
    assert found, html
    return found.group(1)


def sign_in(web: httpx.Client, who: Person) -> str:
    form = web.get("/signin")
    made = web.post(
        "/signin",
        data={"csrf": _csrf(form.text), "email": who.email, "password": who.password, "next": "/"},
    )
    assert made.status_code == 303, made.text
    return _csrf(web.get("/").text)


def test_pages_carry_a_strict_policy_and_cookies_stay_from_scripts(
    web: httpx.Client, person: Person
) -> None:
    form = web.get("/signin")
    assert form.status_code == 200
    policy = form.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert form.headers["x-frame-options"] == "DENY"
    made = web.post(
        "/signin",
        data={"csrf": _csrf(form.text), "email": person.email, "password": person.password},
    )
    cookie = made.headers["set-cookie"]
    assert "slipway_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain HTTP in local mode
    # Behind an HTTPS front door the cookie is Secure.
    web.cookies.clear()
    form = web.get("/signin")
    secure = web.post(
        "/signin",
        headers={"X-Forwarded-Proto": "https"},
        data={"csrf": _csrf(form.text), "email": person.email, "password": person.password},
    )
    assert "Secure" in secure.headers["set-cookie"]


def test_a_form_without_its_csrf_token_is_refused(web: httpx.Client, person: Person) -> None:
    csrf = sign_in(web, person)
    name = unique_name("csrf")
    for token in ("", "0" * 64):
        refused = web.post("/apps", data={"name": name, "csrf": token})
        assert refused.status_code == 403
        assert "missing its security token" in refused.text
    with person.api() as api:
        assert api.get(f"/apps/{name}").status_code == 404
    # The sign-in form too carries one.
    web.cookies.clear()
    bare = web.post("/signin", data={"email": person.email, "password": person.password})
    assert bare.status_code == 403
    assert "slipway_session" not in bare.headers.get("set-cookie", "")
    assert csrf


def test_another_persons_app_is_not_found(web: httpx.Client, person: Person, other: Person) -> None:
    name = unique_name("theirs")
    with other.api() as api:
        assert api.post("/apps", json={"name": name}).status_code == 201
    csrf = sign_in(web, person)
    for path in ("", "/settings", "/activity", "/config.json", "/logs/stream"):
        page = web.get(f"/apps/{name}{path}")
        assert page.status_code == 404, path
        assert "no such app, or you do not have access to it" in page.text
    rollback = web.post(f"/apps/{name}/rollback", data={"csrf": csrf, "version": "1"})
    assert rollback.status_code == 404
    missing = web.get("/apps/no-such-app-at-all")
    assert missing.status_code == 404
    with other.api() as api:
        api.delete(f"/apps/{name}")


def test_a_session_that_ended_goes_back_to_sign_in_keeping_the_page(
    web: httpx.Client, person: Person
) -> None:
    csrf = sign_in(web, person)
    old = web.cookies["slipway_session"]
    out = web.post("/signout", data={"csrf": csrf})
    assert out.status_code == 303
    web.cookies.clear()
    ended = {"Cookie": f"slipway_session={old}"}
    again = web.get("/apps/some-app/settings?tab=config", headers=ended)
    assert again.status_code == 303
    location = again.headers["location"]
    assert location.startswith("/signin?next=%2Fapps%2Fsome-app%2Fsettings%3Ftab%3Dconfig")
    assert "m=Your+session+has+ended" in location
    # A form sent after the session ended leads back to the page it was on.
    posted = web.post(
        "/apps/some-app/config",
        data={"csrf": csrf, "key": "A", "value": "1"},
        headers={**ended, "Referer": "http://dashboard.localhost/apps/some-app/settings"},
    )
    assert posted.status_code == 303
    assert posted.headers["location"].startswith("/signin?next=%2Fapps%2Fsome-app%2Fsettings&")
    # A page's script gets 401 and sends the person to sign in itself.
    fetched = web.get("/", headers={"X-Requested-With": "fetch", **ended})
    assert fetched.status_code == 401
    # After signing in, the person is back where they were.
    form = web.get(location)
    assert 'name="next" value="/apps/some-app/settings?tab=config"' in form.text
    assert "Your session has ended; sign in again." in form.text


def test_wrong_passwords_meet_the_apis_rate_limit(
    web: httpx.Client, sqlite_server: ServerProcess, tmp_path: Path
) -> None:
    victim = make_person(sqlite_server, tmp_path)
    statuses = []
    for _ in range(6):
        form = web.get("/signin")
        answer = web.post(
            "/signin", data={"csrf": _csrf(form.text), "email": victim.email, "password": "no"}
        )
        statuses.append(answer.status_code)
    assert statuses == [401] * 5 + [429]
    assert "Too many wrong passwords; wait" in answer.text
    assert "Traceback" not in answer.text


def test_prometheus_text_needs_an_admins_token(
    sqlite_server: ServerProcess, person: Person
) -> None:
    url = sqlite_server.url + "/metrics"
    key = sqlite_server.api_key
    bearer = httpx.get(url, headers={"Authorization": f"Bearer {key}"})
    assert bearer.status_code == 200, bearer.text
    assert bearer.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "# TYPE slipway_router_requests_total counter" in bearer.text
    basic = base64.b64encode(f":{key}".encode()).decode()
    assert httpx.get(url, headers={"Authorization": f"Basic {basic}"}).status_code == 200
    assert httpx.get(url).status_code == 401
    refused = httpx.get(url, headers={"Authorization": f"Bearer {person.api_key}"})
    assert refused.status_code == 403


def test_slipway_metrics_on_an_app_without_traffic(person: Person, tmp_path: Path) -> None:
    name = unique_name("quiet")
    with person.api() as api:
        assert api.post("/apps", json={"name": name}).status_code == 201
    result = person.user.slipway("metrics", "-a", name, cwd=tmp_path)
    assert result.returncode != 0
    assert f"No metrics for {name} in the last 60 minutes" in result.stderr
    with person.api() as api:
        api.delete(f"/apps/{name}")


def test_settings_forms_rename_maintenance_domains_and_transfer(
    web: httpx.Client, person: Person, other: Person
) -> None:
    name = unique_name("set")
    with person.api() as api:
        assert api.post("/apps", json={"name": name}).status_code == 201
    csrf = sign_in(web, person)

    def post(path: str, **fields: str) -> httpx.Response:
        return web.post(f"/apps/{name}{path}", data={"csrf": csrf, **fields})

    on = post("/maintenance", maintenance="on")
    assert on.status_code == 303
    assert "Maintenance mode is <b>on</b>" in web.get(on.headers["location"]).text
    host = f"www.{name}.example.com"
    assert post("/domains", hostname=host).status_code == 303
    page = web.get(f"/apps/{name}/settings").text
    assert host in page
    assert "certificate from the platform&#39;s CA" in page
    assert post("/domains/remove", hostname=host).status_code == 303
    asked = post("/transfer", recipient=other.email)
    assert asked.status_code == 303
    with other.api() as api:
        pending = [t for t in api.get("/account/app-transfers").json() if t["app"]["name"] == name]
    assert pending
    assert pending[0]["state"] == "pending"
    bad = post("/rename", name="Not A Valid Name")
    assert bad.status_code == 422
    assert "is invalid" in bad.text
    renamed = unique_name("set")
    moved = post("/rename", name=renamed)
    assert moved.status_code == 303
    assert moved.headers["location"] == f"/apps/{renamed}/settings"
    with person.api() as api:
        app = api.get(f"/apps/{renamed}").json()
        assert app["maintenance"] is True
        assert not [d for d in api.get(f"/apps/{renamed}/domains").json() if d["hostname"] == host]
        api.delete(f"/apps/{renamed}")


def test_access_adds_and_removes_a_collaborator(
    web: httpx.Client, person: Person, other: Person
) -> None:
    name = unique_name("acc")
    with person.api() as api:
        assert api.post("/apps", json={"name": name}).status_code == 201
    csrf = sign_in(web, person)
    unknown = web.post(
        f"/apps/{name}/collaborators", data={"csrf": csrf, "email": "nobody@example.com"}
    )
    assert unknown.status_code == 422
    added = web.post(f"/apps/{name}/collaborators", data={"csrf": csrf, "email": other.email})
    assert added.status_code == 303
    assert other.email in web.get(f"/apps/{name}/access").text
    with other.api() as api:
        assert api.get(f"/apps/{name}").status_code == 200
    removed = web.post(
        f"/apps/{name}/collaborators/remove", data={"csrf": csrf, "email": other.email}
    )
    assert removed.status_code == 303
    with other.api() as api:
        assert api.get(f"/apps/{name}").status_code == 403
    with person.api() as api:
        api.delete(f"/apps/{name}")


def test_an_offered_app_is_accepted_and_a_team_app_created_from_the_apps_page(
    sqlite_server: ServerProcess, person: Person, other: Person
) -> None:
    name = unique_name("gift")
    team = unique_name("crew")
    with person.api() as api:
        assert api.post("/apps", json={"name": name}).status_code == 201
        assert api.post("/teams", json={"name": team}).status_code == 201
    with (
        httpx.Client(base_url=sqlite_server.url, headers=HOST, timeout=30) as giver,
        httpx.Client(base_url=sqlite_server.url, headers=HOST, timeout=30) as taker,
    ):
        csrf = sign_in(giver, person)
        offered = giver.post(
            f"/apps/{name}/transfer", data={"csrf": csrf, "recipient": other.email}
        )
        assert offered.status_code == 303
        their_csrf = sign_in(taker, other)
        apps_page = taker.get("/").text
        assert f"{person.email} offers you <b>{name}</b>." in apps_page
        transfer = re.search(r'action="/transfers/([^"]+)"', apps_page)
        assert transfer
        accepted = taker.post(
            f"/transfers/{transfer.group(1)}", data={"csrf": their_csrf, "answer": "accepted"}
        )
        assert accepted.status_code == 303
        assert accepted.headers["location"] == f"/apps/{name}"
        with other.api() as api:
            assert api.get(f"/apps/{name}").json()["owner"]["email"] == other.email
            api.delete(f"/apps/{name}")
        # The person's team is offered as an owner for a new app.
        assert f'<option value="{team}">team {team}</option>' in giver.get("/").text
        made = unique_name("crewapp")
        created = giver.post("/apps", data={"csrf": csrf, "name": made, "owner": team})
        assert created.status_code == 303
    with person.api() as api:
        assert api.get(f"/apps/{made}").json()["team"]["name"] == team
        api.delete(f"/apps/{made}")
