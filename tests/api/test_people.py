"""People over HTTP against a real server: signing in, tokens, collaborators, teams,
transfers, invitations, the audit trail, and tails that end when their token does."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from tests.support import ACCEPT, ServerProcess

PASSWORD = "a long enough password"
LOGIN_BODY = {
    "description": "Heroku CLI login from test",
    "expires_in": 2592000,
    "scope": ["global"],
}


def email(prefix: str = "p") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.com"


def make_person(api: httpx.Client, address: str | None = None) -> str:
    made = api.post("/accounts", json={"email": address or email(), "password": PASSWORD})
    assert made.status_code == 201, made.text
    return str(made.json()["email"])


def sign_in(server: ServerProcess, address: str, password: str = PASSWORD) -> httpx.Response:
    """What `heroku login -i` sends: Basic email:password, no token."""
    return httpx.post(
        server.url + "/oauth/authorizations",
        auth=(address, password),
        json=LOGIN_BODY,
        headers={"Accept": ACCEPT},
    )


def token_of(server: ServerProcess, address: str) -> str:
    response = sign_in(server, address)
    assert response.status_code == 201, response.text
    return str(response.json()["access_token"]["token"])


def test_signing_in_with_a_password_and_what_is_refused(
    api: httpx.Client, server: ServerProcess
) -> None:
    who = make_person(api, email("Mixed").replace("mixed", "Mixed"))
    assert who == who.lower()
    # The same email in other letters is the same account.
    again = api.post("/accounts", json={"email": who.upper(), "password": PASSWORD})
    assert again.status_code == 409
    assert again.json()["id"] == "conflict"
    short = api.post("/accounts", json={"email": email(), "password": "short"})
    assert short.status_code == 422
    assert "at least 10 characters" in short.json()["message"]

    signed = sign_in(server, who.upper())
    assert signed.status_code == 201, signed.text
    body = signed.json()
    assert body["user"]["email"] == who
    assert body["scope"] == ["global"]
    assert 2591000 < body["access_token"]["expires_in"] <= 2592000
    with server.client(body["access_token"]["token"]) as person:
        assert person.get("/account").json()["email"] == who

    # Wrong passwords: five per account, then 429 with Retry-After, even for the right one.
    for _ in range(5):
        wrong = sign_in(server, who, "not the password")
        assert wrong.status_code == 401
        assert wrong.json()["id"] == "unauthorized"
    limited = sign_in(server, who)
    assert limited.status_code == 429
    assert limited.json()["id"] == "rate_limit"
    assert 0 < int(limited.headers["Retry-After"]) <= 900
    # An unknown email answers exactly as a wrong password does.
    unknown = sign_in(server, email("nobody"))
    assert unknown.status_code == 401
    assert unknown.json()["message"] == wrong.json()["message"]


def test_an_admin_disables_an_account_and_its_tokens_stop(
    api: httpx.Client, server: ServerProcess
) -> None:
    who = make_person(api)
    token = token_of(server, who)
    assert api.patch(f"/accounts/{who}", json={"disabled": True}).json()["disabled"] is True
    with server.client(token) as person:
        refused = person.get("/account")
        assert refused.status_code == 401
        assert "disabled" in refused.json()["message"]
    assert sign_in(server, who).status_code == 401
    api.patch(f"/accounts/{who}", json={"disabled": False})
    with server.client(token) as person:
        assert person.get("/account").status_code == 200
    listed = {a["email"]: a for a in api.get("/accounts").json()}
    assert listed[who]["has_password"] is True
    with server.client(token) as person:
        assert person.get("/accounts").status_code == 403


def test_tokens_are_scoped_rotated_and_revoked_at_once(
    api: httpx.Client, server: ServerProcess, make_app: Callable[..., dict[str, Any]]
) -> None:
    app = make_app()["name"]
    api.patch(f"/apps/{app}/config-vars", json={"SECRET": "s3"})
    made = api.post(
        "/oauth/authorizations", json={"description": "CI", "expires_in": "3600", "scope": ["read"]}
    )
    assert made.status_code == 201
    ci = made.json()
    token = ci["access_token"]["token"]
    assert 3500 < ci["access_token"]["expires_in"] <= 3600
    with server.client(token) as reader:
        assert reader.get(f"/apps/{app}").status_code == 200
        write = reader.patch(f"/apps/{app}/config-vars", json={"X": "1"})
        assert write.status_code == 403
        assert "read-only" in write.json()["message"]
        assert reader.get(f"/apps/{app}/config-vars").status_code == 403
        assert reader.get("/oauth/authorizations").status_code == 403
    protected = api.post("/oauth/authorizations", json={"scope": ["read-protected"]}).json()
    with server.client(protected["access_token"]["token"]) as reader:
        assert reader.get(f"/apps/{app}/config-vars").json()["SECRET"] == "s3"

    # Only a redacted form is ever shown again; the list says when it was last used.
    listed = {a["id"]: a for a in api.get("/oauth/authorizations").json()}
    shown = listed[ci["id"]]["access_token"]["token"]
    assert "**********" in shown
    assert token.startswith(shown.split("*")[0])
    assert listed[ci["id"]]["last_used_at"] is not None
    # ~ is the account's API key, which `heroku logout` leaves alone.
    assert api.get("/oauth/authorizations/~").json()["kind"] == "api-key"

    rotated = api.post(f"/oauth/authorizations/{ci['id']}/actions/regenerate-tokens").json()
    new_token = rotated["access_token"]["token"]
    assert new_token != token
    with server.client(token) as old:
        assert old.get(f"/apps/{app}").status_code == 401
    with server.client(new_token) as new:
        assert new.get(f"/apps/{app}").status_code == 200
    assert api.delete(f"/oauth/authorizations/{ci['id']}").status_code == 200
    with server.client(new_token) as gone:
        refused = gone.get(f"/apps/{app}")
        assert refused.status_code == 401
        assert refused.json()["id"] == "unauthorized"
    missing = api.get(f"/oauth/authorizations/{ci['id']}")
    assert missing.status_code == 404
    assert missing.json()["resource"] == "authorization"
    bad = api.post("/oauth/authorizations", json={"scope": ["root"]})
    assert bad.status_code == 422
    assert "'root' is not known" in bad.json()["message"]


def test_collaborators_share_a_personal_app(
    api: httpx.Client, server: ServerProcess, make_app: Callable[..., dict[str, Any]]
) -> None:
    app = make_app()["name"]
    bob = make_person(api)
    with server.client(token_of(server, bob)) as person:
        refused = person.get(f"/apps/{app}")
        assert refused.status_code == 403
        assert refused.json() == {
            "id": "forbidden",
            "message": f"You do not have access to the app {app}.",
        }
        added = api.post(f"/apps/{app}/collaborators", json={"user": bob})
        assert added.status_code == 201, added.text
        assert added.json()["role"] == "collaborator"
        # Everything but deleting, transferring and managing access.
        assert app in [a["name"] for a in person.get("/apps").json()]
        assert person.patch(f"/apps/{app}/config-vars", json={"BY": "bob"}).status_code == 200
        assert person.get(f"/apps/{app}/releases").json()[-1]["user"]["email"] == bob
        for method, path, body in [
            ("DELETE", f"/apps/{app}", None),
            ("POST", f"/apps/{app}/collaborators", {"user": "x@example.com"}),
            ("POST", "/account/app-transfers", {"app": app, "recipient": bob}),
        ]:
            response = person.request(method, path, json=body)
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["id"] == "forbidden"
        emails = {
            c["user"]["email"]: c["role"] for c in person.get(f"/apps/{app}/collaborators").json()
        }
        assert emails[bob] == "collaborator"
        assert "owner" in emails.values()
        # Leaving is always allowed (`apps:leave`).
        assert person.delete(f"/apps/{app}/collaborators/{bob}").status_code == 200
        assert person.get(f"/apps/{app}").status_code == 403
    unknown = api.post(f"/apps/{app}/collaborators", json={"user": email("ghost")})
    assert unknown.status_code == 404
    assert "accounts:invite" in unknown.json()["message"]
    twice = api.post(f"/apps/{app}/collaborators", json={"user": bob})
    assert twice.status_code == 201
    again = api.post(f"/apps/{app}/collaborators", json={"user": bob})
    assert again.status_code == 422


def test_teams_roles_and_per_app_permissions(api: httpx.Client, server: ServerProcess) -> None:
    team = f"t{uuid.uuid4().hex[:10]}"
    assert api.post("/teams", json={"name": team}).json()["role"] == "admin"
    viewer, member = make_person(api), make_person(api)
    assert (
        api.put(f"/teams/{team}/members", json={"email": viewer, "role": "viewer"}).json()["role"]
        == "viewer"
    )
    api.put(f"/teams/{team}/members", json={"email": member, "role": "member"})
    features = {f["name"]: f["enabled"] for f in api.get(f"/teams/{team}/features").json()}
    assert features["org-access-controls"] is True
    app = api.post("/teams/apps", json={"name": f"ta-{uuid.uuid4().hex[:8]}", "team": team}).json()
    assert app["owner"]["email"] == f"{team}@herokumanager.com"
    assert app["team"]["name"] == team
    name = app["name"]
    with server.client(token_of(server, viewer)) as v:
        assert v.get(f"/apps/{name}").status_code == 200
        assert v.get(f"/apps/{name}/config-vars").status_code == 403
        assert v.patch(f"/apps/{name}/config-vars", json={"A": "1"}).status_code == 403
        assert v.post("/teams/apps", json={"team": team}).status_code == 403
        assert [a["name"] for a in v.get(f"/teams/{team}/apps").json()] == [name]
    with server.client(token_of(server, member)) as m:
        assert m.patch(f"/apps/{name}/config-vars", json={"A": "1"}).status_code == 403
        granted = api.post(
            f"/teams/apps/{name}/collaborators",
            json={"user": member, "permissions": ["deploy", "view"]},
        )
        assert [p["name"] for p in granted.json()["permissions"]] == ["view", "deploy"]
        assert m.patch(f"/apps/{name}/config-vars", json={"A": "1"}).status_code == 200
        scale = m.patch(f"/apps/{name}/formation", json={"updates": []})
        assert scale.status_code == 403
        assert "operate" in scale.json()["message"]
        api.patch(f"/teams/apps/{name}/collaborators/{member}", json={"permissions": ["operate"]})
        assert m.patch(f"/apps/{name}/config-vars", json={"A": "2"}).status_code == 200
        assert (
            m.put(f"/teams/{team}/members", json={"email": viewer, "role": "admin"}).status_code
            == 403
        )
        # A member brings a personal app into the team and keeps every permission on it.
        own = m.post("/apps", json={"name": f"mv-{uuid.uuid4().hex[:8]}"}).json()["name"]
        moved = m.patch(f"/teams/apps/{own}", json={"owner": team})
        assert moved.status_code == 200, moved.text
        assert moved.json()["team"]["name"] == team
        assert m.patch(f"/apps/{own}/config-vars", json={"A": "1"}).status_code == 200
        assert m.delete(f"/apps/{own}").status_code == 200
    members = {x["email"]: x["role"] for x in api.get(f"/teams/{team}/members").json()}
    assert members[viewer] == "viewer"
    # The last admin stays.
    me = api.get("/account").json()["email"]
    demote = api.patch(f"/teams/{team}/members", json={"email": me, "role": "member"})
    assert demote.status_code == 422
    assert "no admin left" in demote.json()["message"]
    assert api.delete(f"/teams/{team}/members/{me}").status_code == 422
    assert api.put(f"/teams/{team}/members", json={"email": me, "role": "owner"}).status_code == 422
    # Removing a member ends their access to the team's apps, grants included.
    assert api.delete(f"/teams/{team}/members/{member}").status_code == 200
    with server.client(token_of(server, member)) as m:
        assert m.get(f"/apps/{name}").status_code == 403


def test_transfers_wait_for_the_recipient(
    api: httpx.Client, server: ServerProcess, make_app: Callable[..., dict[str, Any]]
) -> None:
    app = make_app()["name"]
    unknown = api.post("/account/app-transfers", json={"app": app, "recipient": email("ghost")})
    assert unknown.status_code == 404
    assert "nothing was transferred" in unknown.json()["message"]
    owner = api.get("/account").json()["email"]
    assert api.get(f"/apps/{app}").json()["owner"]["email"] == owner
    recipient = make_person(api)
    asked = api.post("/account/app-transfers", json={"app": app, "recipient": recipient})
    assert asked.status_code == 201
    transfer = asked.json()
    assert api.get(f"/apps/{app}").json()["owner"]["email"] == owner
    refused = api.patch(f"/account/app-transfers/{transfer['id']}", json={"state": "accepted"})
    assert refused.status_code == 403
    with server.client(token_of(server, recipient)) as person:
        waiting = [t["app"]["name"] for t in person.get("/account/app-transfers").json()]
        assert waiting == [app]
        answer = person.patch(
            f"/account/app-transfers/{transfer['id']}", json={"state": "accepted"}
        )
        assert answer.json()["state"] == "accepted"
        assert person.get(f"/apps/{app}").json()["owner"]["email"] == recipient
    # The old owner stays on as a collaborator.
    assert api.get(f"/apps/{app}").status_code == 200
    assert api.delete(f"/apps/{app}").status_code == 403


def test_an_invitation_link_makes_an_account_once(api: httpx.Client, server: ServerProcess) -> None:
    invited = email("new")
    made = api.post("/invitations", json={"email": invited})
    assert made.status_code == 201, made.text
    url = made.json()["invitation_url"]
    assert url.startswith(server.url + "/invitations/")
    page = httpx.get(url)
    assert page.status_code == 200
    assert "Choose a password" in page.text
    short = httpx.post(url, data={"name": "New", "password": "short"})
    assert short.status_code == 422
    assert "too short" in short.text
    accepted = httpx.post(url, data={"name": "New Person", "password": PASSWORD})
    assert accepted.status_code == 200
    assert "accepted" in accepted.text
    assert httpx.post(url, data={"password": PASSWORD}).status_code == 410
    reused = httpx.post(url + "/actions/accept", json={"password": PASSWORD})
    assert reused.status_code == 410
    assert reused.json()["id"] == "gone"
    assert sign_in(server, invited).status_code == 201
    with server.client(token_of(server, invited)) as person:
        refused = person.post("/invitations", json={"email": email()})
        assert refused.status_code == 403


def test_the_audit_trail_names_who_did_what(
    api: httpx.Client, server: ServerProcess, make_app: Callable[..., dict[str, Any]]
) -> None:
    app = make_app()["name"]
    bob = make_person(api)
    api.post(f"/apps/{app}/collaborators", json={"user": bob})
    with server.client(token_of(server, bob)) as person:
        person.patch(f"/apps/{app}/config-vars", json={"X": "1"})
        events = person.get(f"/apps/{app}/audit-events").json()
        assert person.get("/audit-events").status_code == 403
    by = [(e["actor"]["email"], e["action"]) for e in events]
    admin = api.get("/account").json()["email"]
    assert (bob, "release-config") in by
    assert (admin, "access-add") in by
    assert (admin, "app-create") in by
    signins = api.get("/audit-events", params={"action": "sign-in"}).json()
    assert bob in [e["actor"]["email"] for e in signins]
    assert all(e["address"] == "127.0.0.1" for e in signins if e["actor"]["email"] == bob)


def test_a_log_tail_ends_the_moment_its_token_is_revoked(
    api: httpx.Client, server: ServerProcess, make_app: Callable[..., dict[str, Any]]
) -> None:
    app = make_app()["name"]
    ci = api.post("/oauth/authorizations", json={"description": "tail", "scope": ["read"]}).json()
    with server.client(ci["access_token"]["token"]) as reader:
        session = reader.post(f"/apps/{app}/log-sessions", json={"tail": True, "lines": 1})
        assert session.status_code == 201
    url = session.json()["logplex_url"]
    lines: list[str] = []
    ended = threading.Event()

    def tail() -> None:
        with httpx.stream("GET", url, headers={"Accept": "text/event-stream"}, timeout=30) as s:
            for line in s.iter_lines():
                lines.append(line)
        ended.set()

    threading.Thread(target=tail, daemon=True).start()
    time.sleep(0.5)
    assert not ended.is_set()
    revoked_at = time.monotonic()
    api.delete(f"/oauth/authorizations/{ci['id']}")
    assert ended.wait(5), "the tail kept streaming after its token was revoked"
    assert time.monotonic() - revoked_at < 2
    assert any("token was revoked" in line for line in lines)
    # Reconnecting with the same URL is refused too.
    assert httpx.get(url).status_code == 404


def test_the_browser_login_flow_of_the_cli(api: httpx.Client, server: ServerProcess) -> None:
    who = make_person(api)
    started = httpx.post(server.url + "/auth", json={"description": "Heroku CLI login from vm"})
    assert started.status_code == 200
    urls = started.json()
    result: dict[str, Any] = {}

    def wait() -> None:
        result["response"] = httpx.get(
            server.url + urls["cli_url"],
            headers={"Authorization": f"Bearer {urls['token']}"},
            timeout=30,
        )

    waiter = threading.Thread(target=wait)
    waiter.start()
    page = httpx.get(server.url + urls["browser_url"])
    assert "Heroku CLI login from vm" in page.text
    wrong = httpx.post(server.url + urls["browser_url"], data={"email": who, "password": "nope"})
    assert wrong.status_code == 401
    assert "problems with your login" in wrong.text
    assert waiter.is_alive()
    done = httpx.post(server.url + urls["browser_url"], data={"email": who, "password": PASSWORD})
    assert done.status_code == 200
    waiter.join(10)
    body = result["response"].json()
    assert body["error"] is None
    with server.client(body["access_token"]) as person:
        assert person.get("/account").json()["email"] == who
    # Handed over once: the CLI's URL is spent.
    again = httpx.get(
        server.url + urls["cli_url"], headers={"Authorization": f"Bearer {urls['token']}"}
    )
    assert again.status_code == 404
