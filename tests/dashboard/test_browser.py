"""The dashboard in a real browser: Debian's chromium driven by Playwright (no download).

One walk through an app's life as a person does it (issue 16, item 5): sign in,
create an app, watch a push's build output stream in, scale web to 2 with the
slider, set a config var and see the release in Activity, roll back, watch a log
line arrive, send traffic and read the same numbers in Metrics, and delete the app;
then a team viewer, who sees no write controls. A screenshot of every page is kept.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import unique_name
from tests.dashboard.conftest import CHROMIUM, Person, dashboard_url
from tests.deploy.conftest import BUILDPACKS
from tests.support import ServerProcess

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium"),
]
# The page's one-sentence refusal, and the notice after a change.
ALERT = "main p[role=alert]"
NOTICE = "main p.notice"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield b
        b.close()


def sign_in(browser: Browser, server: ServerProcess, who: Person) -> Page:
    page = browser.new_context().new_page()
    page.set_default_timeout(20_000)
    page.goto(dashboard_url(server) + "/")
    expect(page.get_by_role("heading", name="Sign in to Slipway")).to_be_visible()
    page.get_by_label("Email").fill(who.email)
    page.get_by_label("Password").fill(who.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Apps")).to_be_visible()
    return page


def settled(who: Person, app: str, web: int = 1) -> None:
    """Wait until the newest release is out and its web dynos alone are up (the old ones
    gone), so requests meet no dyno on its way out."""
    deadline = time.monotonic() + 60
    with who.api() as api:
        while True:
            newest = api.get(
                f"/apps/{app}/releases", headers={"Range": "version ..; order=desc, max=1"}
            ).json()[0]
            dynos = [d for d in api.get(f"/apps/{app}/dynos").json() if d["type"] == "web"]
            if (
                newest["status"] == "succeeded"
                and len(dynos) == web
                and all(
                    d["state"] == "up" and d["release"]["version"] == newest["version"]
                    for d in dynos
                )
            ):
                return
            assert time.monotonic() < deadline, (newest, dynos)
            time.sleep(0.2)


def shot(page: Page, shots: Path, name: str) -> None:
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def test_an_app_from_sign_in_to_delete(
    browser: Browser,
    sqlite_server: ServerProcess,
    person: Person,
    shots: Path,
    tmp_path: Path,
) -> None:
    base = dashboard_url(sqlite_server)
    # A wrong password: one sentence, the form again.
    page = browser.new_context().new_page()
    page.set_default_timeout(20_000)
    page.goto(base + "/apps/nothing-here/settings")
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(ALERT)).to_contain_text("problems with your login credentials")
    shot(page, shots, "01-signin-wrong-password")
    page.context.close()

    page = sign_in(browser, sqlite_server, person)
    name = unique_name("ui")
    page.get_by_label("New app name").fill(name)
    page.get_by_role("button", name="Create app").click()
    expect(page.locator(NOTICE)).to_contain_text(f"Created {name}.")
    page.goto(base + "/")
    expect(page.locator(f'tr[data-app="{name}"]')).to_be_visible()
    shot(page, shots, "02-apps")

    # A push while the Deploy page is open: its output streams in.
    with person.api() as api:
        installed = api.put(
            f"/apps/{name}/buildpack-installations",
            json={"updates": [{"buildpack": str(BUILDPACKS / "plain")}]},
        )
        assert installed.status_code == 200, installed.text
    repo = person.user.repo("dynos", tmp_path / "app")
    assert person.user.slipway("git:remote", "-a", name, cwd=repo).returncode == 0
    page.goto(f"{base}/apps/{name}/deploy")
    expect(page.get_by_text("git push slipway main")).to_be_visible()
    pushed: dict[str, int] = {}
    pusher = threading.Thread(
        target=lambda: pushed.update(code=person.user.push(repo).returncode), daemon=True
    )
    pusher.start()
    expect(page.locator("#build-output")).to_contain_text("Nothing to compile", timeout=60_000)
    shot(page, shots, "03-deploy-streaming")
    pusher.join(120)
    assert pushed.get("code") == 0
    expect(page.locator("#builds [data-status=succeeded]")).to_have_count(1)

    # Overview.
    page.goto(f"{base}/apps/{name}")
    expect(page.get_by_role("heading", name="Dyno formation")).to_be_visible()
    expect(page.locator(".formation")).to_contain_text("web 1")
    shot(page, shots, "04-overview")

    # Resources: the web slider to 2, one formation update, two dynos up without a reload.
    page.goto(f"{base}/apps/{name}/resources")
    page.get_by_label("Number of web dynos").fill("2")
    expect(page.locator("#shown-web")).to_have_text("2")
    page.get_by_role("button", name="Save formation").click()
    expect(page.locator(NOTICE)).to_contain_text("Scaled web to 2.")
    expect(page.locator('#dynos [data-state="up"]')).to_have_count(2, timeout=60_000)
    shot(page, shots, "05-resources")

    # Restart all dynos: new dynos come up in their place.
    listed = "els => els.map(e => e.textContent).join('|')"
    before = page.locator("#dynos li").evaluate_all(listed)
    page.get_by_role("button", name="Restart all dynos").click()
    expect(page.locator(NOTICE)).to_contain_text("Restarting all dynos.")
    page.wait_for_function(
        """(before) => {
            const dynos = [...document.querySelectorAll("#dynos li")];
            return dynos.length === 2 && dynos.every((d) => d.dataset.state === "up")
                && dynos.map((d) => d.textContent).join("|") !== before;
        }""",
        arg=before,
        timeout=60_000,
    )

    # An add-on provisioned and removed from Resources.
    page.get_by_label("Add-on plan").select_option("scheduler:standard")
    page.get_by_role("button", name="Provision").click()
    expect(page.locator(NOTICE)).to_contain_text("Added scheduler-")
    expect(page.locator(".addons")).to_contain_text("scheduler:standard")
    page.locator(".addons").get_by_role("button", name="Remove").click()
    expect(page.locator(NOTICE)).to_contain_text("Removed scheduler-")
    expect(page.locator(".addons")).to_have_count(0)

    # A stale form: the formation changed since this tab drew it; nothing is overwritten.
    stale = page.context.new_page()
    stale.goto(f"{base}/apps/{name}/resources")
    with person.api() as api:
        scaled = api.patch(
            f"/apps/{name}/formation", json={"updates": [{"type": "web", "quantity": 1}]}
        )
        assert scaled.status_code == 200, scaled.text
    stale.get_by_label("Number of web dynos").fill("3")
    stale.get_by_role("button", name="Save formation").click()
    expect(stale.locator(ALERT)).to_contain_text("Someone else changed the formation")
    with person.api() as api:
        web = api.get(f"/apps/{name}/formation/web").json()
    assert web["quantity"] == 1
    stale.close()

    # Settings: a config var with a newline and unicode; the release shows in Activity.
    page.goto(f"{base}/apps/{name}/settings")
    # The session ends while a form is being filled in: sign in again, and the page comes
    # back with what was typed.
    page.get_by_label("Key").fill("AFTER_SIGN_IN")
    page.get_by_label("Value").fill("kept")
    with person.api() as api:
        sessions = [
            a
            for a in api.get("/oauth/authorizations").json()
            if a["description"] == "Dashboard session"
        ]
        for a in sessions:
            assert api.delete(f"/oauth/authorizations/{a['id']}").status_code == 200
    page.get_by_role("button", name="Add or edit config var").click()
    expect(page.locator(ALERT)).to_contain_text("Your session has ended; sign in again.")
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("Password").fill(person.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(f"/apps/{name}/settings$"))
    expect(page.get_by_label("Key")).to_have_value("AFTER_SIGN_IN")
    expect(page.get_by_label("Value")).to_have_value("kept")
    page.get_by_role("button", name="Add or edit config var").click()
    expect(page.locator(NOTICE)).to_contain_text("Set AFTER_SIGN_IN.")
    page.get_by_label("Key").fill("GREETING")
    page.get_by_label("Value").fill("héllo\nwörld ✓")
    page.get_by_role("button", name="Add or edit config var").click()
    expect(page.locator(NOTICE)).to_contain_text("Set GREETING.")
    # Edit fills the form with the current value; saving changes only that variable.
    page.get_by_role("button", name="Edit AFTER_SIGN_IN").click()
    expect(page.get_by_label("Key")).to_have_value("AFTER_SIGN_IN")
    expect(page.get_by_label("Value")).to_have_value("kept")
    page.get_by_role("button", name="Reveal config vars").click()
    expect(page.locator('[data-value-of="GREETING"]')).to_have_text("héllo\nwörld ✓")
    shot(page, shots, "06-settings")
    with person.api() as api:
        assert api.get(f"/apps/{name}/config-vars").json()["GREETING"] == "héllo\nwörld ✓"
    page.goto(f"{base}/apps/{name}/activity")
    expect(page.locator("#releases li").first).to_contain_text("Set GREETING config vars")
    expect(page.locator("#releases li").first.locator(".keys")).to_have_text("config: GREETING")
    shot(page, shots, "07-activity")

    # The first deploy's links: its build output and its release phase's output.
    deployed = page.locator('#releases li[data-version="2"]')
    expect(deployed.get_by_role("link", name="build output")).to_be_visible()
    deployed.get_by_role("link", name="release output").click()
    expect(page.locator("body")).to_contain_text("release phase of v2 on release.")
    page.go_back()

    # Roll back from Activity to the release before the config change.
    newest = int(page.locator("#releases li").first.get_attribute("data-version") or 0)
    target = newest - 1
    page.get_by_role("button", name=f"Roll back to v{target}").click()
    expect(page.locator(NOTICE)).to_contain_text(f"Rolled back to v{target}")
    expect(page.locator("#releases li").first).to_contain_text(f"Rollback to v{target}")
    with person.api() as api:
        assert "GREETING" not in api.get(f"/apps/{name}/config-vars").json()
        # A release made elsewhere shows up here without a reload.
        assert api.patch(f"/apps/{name}/config-vars", json={"FROM_CLI": "1"}).status_code == 200
    expect(page.locator("#releases li").first).to_contain_text("Set FROM_CLI config vars")

    # Logs: a request's line from the app arrives within a second.
    settled(person, name)
    page.goto(f"{base}/apps/{name}/logs")
    expect(page.locator("#log-state")).to_have_text("streaming")
    # httpx does not resolve *.localhost as the browser does: the router finds the app by Host.
    app_url = f"http://127.0.0.1:{sqlite_server.router_port}"
    app_host = {"Host": f"{name}.localhost"}
    marker = f"/hello-{unique_name('log')}"
    sent = time.monotonic()
    assert httpx.get(app_url + marker, headers=app_host, timeout=10).status_code == 200
    expect(page.locator("#log-lines")).to_contain_text(f"GET {marker}", timeout=1_000)
    print(f"log line shown {time.monotonic() - sent:.2f}s after the request")
    shot(page, shots, "08-logs")
    # Filtered to the router's lines: the next request shows as heroku[router], not app[web].
    page.get_by_label("Source").select_option("heroku")
    expect(page.locator("#log-state")).to_have_text("streaming")
    second = f"/again-{unique_name('log')}"
    assert httpx.get(app_url + second, headers=app_host, timeout=10).status_code == 200
    expect(page.locator("#log-lines")).to_contain_text(
        f'heroku[router]: at=info method=GET path="{second}"'
    )
    expect(page.locator("#log-lines")).not_to_contain_text(f"GET {second}\n")

    # Metrics: the requests sent are the requests counted, and the charts are drawn.
    with httpx.Client(base_url=app_url, headers=app_host, timeout=10) as client:
        statuses = [client.get(f"/t{i}").status_code for i in range(40)]
    assert statuses == [200] * 40
    requests = 2 + 40
    page.goto(f"{base}/apps/{name}/metrics")
    summary = page.locator("#metrics-summary")
    expect(summary).to_have_attribute("data-requests", str(requests), timeout=15_000)
    expect(summary).to_contain_text(f"2xx: {requests}")
    expect(page.locator("#chart-latency canvas")).to_have_count(1)
    shot(page, shots, "09-metrics")
    with person.api() as api:
        data = api.get(f"/apps/{name}/metrics").json()
    web_metrics = data["process_types"]["web"]["totals"]
    assert web_metrics["requests"] == requests
    assert web_metrics["counts"]["2xx"] == requests
    assert web_metrics["p50_ms"] is not None
    # Each dyno's memory and CPU, read from its cgroup by the sampler.
    deadline = time.monotonic() + 30
    while True:
        with person.api() as api:
            sampled = api.get(f"/apps/{name}/metrics").json()["dynos"]
        web1 = next((d for d in sampled if d["name"] == "web.1"), None)
        if web1 is not None and web1["memory_rss_mb"] > 0:
            break
        assert time.monotonic() < deadline, sampled
        time.sleep(1)
    assert web1["memory_quota_mb"] == 512
    assert web1["cpu_percent"] >= 0
    # The same numbers in the terminal and in Prometheus' text.
    shown = person.user.slipway("metrics", "-a", name, cwd=repo)
    assert shown.returncode == 0, shown.stderr
    assert re.search(rf"Requests:\s+{requests}\b", shown.stdout), shown.stdout
    assert f"2xx={requests}" in shown.stdout
    with sqlite_server.client() as admin:
        text = admin.get("/metrics").text
    assert (
        f'slipway_router_requests_total{{app="{name}",process_type="web",status="2xx"}} '
        f"{requests}.0"
    ) in text

    # Access.
    page.goto(f"{base}/apps/{name}/access")
    expect(page.locator("#people")).to_contain_text(person.email)
    shot(page, shots, "10-access")

    # Delete, after typing the name.
    page.goto(f"{base}/apps/{name}/settings")
    page.get_by_label(re.compile("to confirm")).fill("not-the-name")
    page.get_by_role("button", name="Delete app").click()
    expect(page.locator(ALERT)).to_contain_text("nothing was deleted")
    page.get_by_label(re.compile("to confirm")).fill(name)
    page.get_by_role("button", name="Delete app").click()
    expect(page.locator(NOTICE)).to_contain_text(f"Deleted {name}.")
    expect(page.locator(f'tr[data-app="{name}"]')).to_have_count(0)
    with person.api() as api:
        assert api.get(f"/apps/{name}").status_code == 404
    page.context.close()


def test_a_viewer_sees_no_write_controls(
    browser: Browser,
    sqlite_server: ServerProcess,
    person: Person,
    other: Person,
    shots: Path,
) -> None:
    base = dashboard_url(sqlite_server)
    team = unique_name("team")
    name = unique_name("tv")
    with person.api() as api:
        assert api.post("/teams", json={"name": team}).status_code == 201
        made = api.post("/teams/apps", json={"name": name, "team": team})
        assert made.status_code == 201, made.text
        added = api.put(f"/teams/{team}/members", json={"email": other.email, "role": "viewer"})
        assert added.status_code in (200, 201), added.text
        personal = unique_name("mine")
        assert api.post("/apps", json={"name": personal}).status_code == 201
    page = sign_in(browser, sqlite_server, other)
    expect(page.locator(f'tr[data-app="{name}"]')).to_contain_text(team)
    for section in ("resources", "activity", "settings", "access"):
        page.goto(f"{base}/apps/{name}/{section}")
        expect(page.locator("h1")).to_contain_text(name)
        expect(page.locator("main form")).to_have_count(0)
        expect(page.locator("main button")).to_have_count(0)
        shot(page, shots, f"11-viewer-{section}")
    page.goto(f"{base}/apps/{name}/access")
    viewer_row = page.locator("#members tr", has_text=other.email)
    expect(viewer_row.locator("td").nth(1)).to_have_text("viewer")
    expect(viewer_row.locator("td").nth(2)).to_have_text("view")
    admin_row = page.locator("#members tr", has_text=person.email)
    expect(admin_row.locator("td").nth(1)).to_have_text("admin")
    # A viewer's write, sent anyway with a good CSRF token, is refused like a missing app.
    status = page.evaluate(
        """(path) => fetch(path, {
            method: "POST",
            body: new URLSearchParams({
                csrf: document.querySelector('meta[name="csrf-token"]').content,
                key: "SNEAKY",
                value: "1",
            }),
        }).then((r) => r.status)""",
        f"/apps/{name}/config",
    )
    assert status == 404
    with person.api() as api:
        assert "SNEAKY" not in api.get(f"/apps/{name}/config-vars").json()
    # Another person's app is a 404 page, as if it did not exist.
    response = page.goto(f"{base}/apps/{personal}/settings")
    assert response is not None
    assert response.status == 404
    expect(page.locator(ALERT)).to_have_text(
        "There is no such app, or you do not have access to it."
    )
    shot(page, shots, "12-not-found")
    page.context.close()
    with person.api() as api:
        api.delete(f"/apps/{name}")
        api.delete(f"/apps/{personal}")
