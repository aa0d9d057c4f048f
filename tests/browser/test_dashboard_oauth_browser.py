"""'Sign in with GitHub' in a real browser: Chromium signs in through the GitHub emulator's OAuth flow and sees only
the repositories its person can read."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from bot.store import Delivery, InstallationUpdate, ReviewRecord, Store
from bot.web.oauth import SESSION_COOKIE
from tests.browser.seed import HOSTILE_REPO, NOW, TOKEN, Running, base_of, report, seed, settings_for
from tests.browser.test_dashboard_browser import Watch, pytestmark
from tests.emulator import Emulator

if TYPE_CHECKING:
    from playwright.sync_api import Browser

__all__ = ["pytestmark"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SECRET_REPO = "acme/secret"  # private, installed, alice has no permission: never shown to her
SHARED_REPO = "acme/shared"  # private, installed, alice may read it
SESSION_SECRET = "browser-test-session-secret-0123456789abcdef"


def source_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    run = ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    (path / "rules.yaml").write_text("- list: shells\n  items: [bash]\n", encoding="utf-8")
    subprocess.run([*run, "add", "."], check=True)
    subprocess.run([*run, "commit", "-qm", "rules"], check=True)
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Emulator, Running]]:
    tmp = tmp_path_factory.mktemp("dashboard-oauth")
    source = source_repo(tmp / "source")
    with Emulator() as emu:
        app = emu.create_app()
        emu.add_user("alice", name="Alice")
        emu.add_user("acme", type="Organization")
        emu.add_repository("falcosecurity/rules", source)
        emu.add_repository(SECRET_REPO, source, private=True)
        emu.add_repository(SHARED_REPO, source, private=True)
        emu.set_permission(SHARED_REPO, "alice", "read")
        emu.install(app, "falcosecurity", ["falcosecurity/rules"])
        emu.install(app, "acme", [SECRET_REPO, SHARED_REPO])
        emu.oauth_user = "alice"
        settings = settings_for(tmp, dashboard_token=TOKEN, github_api_url=emu.api_url,
                                github_client_id=app.client_id, github_client_secret=app.client_secret,
                                dashboard_session_secret=SESSION_SECRET)  # fmt: skip
        store = Store(settings.database())
        seed(store)
        update = InstallationUpdate(13, "acme", (SECRET_REPO, SHARED_REPO), suspended=False)
        store.record_delivery(Delivery("inst-acme", "installation", "created", None, 13), installation=update)
        for offset, (repo, head) in enumerate(((SECRET_REPO, "5" * 40), (SHARED_REPO, "6" * 40))):
            data = report(repo, 1, head, False)
            store.record_review(ReviewRecord(None, repo, 1, head, base_of(head), data["conclusion"], data),
                                now=NOW + 600 + 60 * offset)  # fmt: skip
        store.close()
        with Running(settings) as running:
            yield emu, running
        assert emu.schema_violations == []


def sign_in_with_github(w: Watch, running: Running) -> None:
    response = w.page.goto(running.url + "/")
    assert response is not None and response.status == 401
    w.page.get_by_role("link", name="Sign in with GitHub").click()
    w.page.wait_for_url(running.url + "/")
    assert w.page.locator("h1").inner_text() == "Overview"


def test_signing_in_with_github_shows_only_readable_repositories(world: tuple[Emulator, Running],
                                                                 browser: Browser) -> None:  # fmt: skip
    emu, running = world
    mark = emu.mark()
    w = Watch(browser)
    response = w.page.goto(running.url + "/")
    assert response is not None and response.status == 401
    w.page.screenshot(path=str(ARTIFACTS / "dashboard-oauth-401.png"), full_page=True)
    w.page.get_by_role("link", name="Sign in with GitHub").click()
    w.page.wait_for_url(running.url + "/")
    page = w.page
    assert page.locator("h1").inner_text() == "Overview"
    assert page.locator("#frb-login").inner_text() == "alice"
    routes = [c.route for c in emu.calls_since(mark)]
    assert routes == ["GET /login/oauth/authorize", "POST /login/oauth/access_token", "GET /user",
                      "GET /user/installations", "GET /user/installations/{installation_id}/repositories",
                      "GET /user/installations/{installation_id}/repositories"]  # fmt: skip
    session = next(c for c in w.context.cookies() if c["name"] == SESSION_COOKIE)
    assert session["httpOnly"] and session["sameSite"] == "Lax" and "ghu_" not in session["value"]
    assert session["expires"] > time.time() + 7 * 3600
    repositories = page.locator("#repositories + .frb-tablewrap tbody tr td:first-child").all_inner_texts()
    assert repositories == [SHARED_REPO, "falcosecurity/rules"]
    content = page.content()
    assert SECRET_REPO not in content and HOSTILE_REPO.split("/")[0] not in content and "mallory" not in content
    reviews = page.locator("#recent-reviews tbody tr td:nth-child(2)").all_inner_texts()
    assert reviews == [SHARED_REPO, "falcosecurity/rules", "falcosecurity/rules", "falcosecurity/rules"]
    page.screenshot(path=str(ARTIFACTS / "dashboard-oauth-overview.png"), full_page=True)
    for path, status in ((f"/repos/{SECRET_REPO}/matrix", 404), (f"/repos/{SHARED_REPO}/matrix", 200),
                         ("/reviews/5", 404), ("/reviews/6", 200), ("/reviews/3", 404),
                         ("/repos/falcosecurity/rules/matrix", 200)):  # fmt: skip
        response = page.goto(running.url + path)
        assert response is not None and response.status == status, path
        if status == 404:
            assert page.locator("h1").inner_text() == "Not found" and SECRET_REPO not in page.content()
    page.goto(f"{running.url}/repos/{SECRET_REPO}/matrix")
    page.screenshot(path=str(ARTIFACTS / "dashboard-oauth-404.png"), full_page=True)
    page.goto(running.url + "/")
    page.get_by_role("link", name="Sign out").click()
    page.wait_for_url(running.url + "/")
    assert page.locator("h1").inner_text() == "Sign-in required"
    assert [c for c in w.context.cookies() if c["name"] == SESSION_COOKIE] == []
    w.clean()
    w.close()


def test_tampered_cookies_and_a_wrong_state_get_401(world: tuple[Emulator, Running], browser: Browser) -> None:
    emu, running = world
    w = Watch(browser)
    sign_in_with_github(w, running)
    session = next(c for c in w.context.cookies() if c["name"] == SESSION_COOKIE)
    body, mac = session["value"].split(".")
    for forged in (f"{body[:-2]}AA.{mac}", f"{body}.{mac[:-2]}AA", "e30.e30"):
        w.context.clear_cookies()
        w.context.add_cookies([{**session, "value": forged}])  # type: ignore[list-item]
        response = w.page.goto(running.url + "/")
        assert response is not None and response.status == 401
        assert "falcosecurity/rules" not in w.page.content()
    w.context.clear_cookies()
    mark = emu.mark()
    response = w.page.goto(f"{running.url}/login/callback?code=anything&state=wrong")
    assert response is not None and response.status == 401
    assert w.page.locator("h1").inner_text() == "Sign-in required"
    assert emu.calls_since(mark) == []  # no code exchange without the right state
    # a sign-in started elsewhere (an attacker's /login) does not complete here: its state cookie is not this
    # browser's, so the emulator's genuine redirect back (right code, right state) is refused
    with httpx.Client(follow_redirects=False) as attacker:
        authorize = attacker.get(running.url + "/login").headers["location"]
    mark = emu.mark()
    response = w.page.goto(authorize)
    assert response is not None and response.status == 401 and "/login/callback?code=" in w.page.url
    assert [c.route for c in emu.calls_since(mark)] == ["GET /login/oauth/authorize"]  # no exchange
    w.page.screenshot(path=str(ARTIFACTS / "dashboard-oauth-wrong-state.png"), full_page=True)
    assert [c for c in w.context.cookies() if c["name"] == SESSION_COOKIE] == []
    w.close()
