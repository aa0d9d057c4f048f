"""An operator's first start: `serve` with no App registers it through GitHub's manifest flow, then reviews with it."""

from __future__ import annotations

import json
import os
import stat
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from dotenv import dotenv_values

from bot.gpg import gpg_available
from tests.e2e.harness import BotServer, SetupServer, World
from tests.emulator import Emulator
from tests.gpgkeys import Key


class _Forms(HTMLParser):
    """The forms of a page: their attributes and their inputs' names and values."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({**values, "inputs": {}})
        elif tag == "input" and self.forms and "name" in values:
            self.forms[-1]["inputs"][values["name"]] = values.get("value", "")


def register_form(page: str) -> tuple[str, str]:
    """The action and the `manifest` field of the page's registration form (as a browser reads them)."""
    parser = _Forms()
    parser.feed(page)
    form = next(f for f in parser.forms if f.get("id") == "frb-register")
    assert form["method"] == "post"
    return form["action"], form["inputs"]["manifest"]


def to_github(bot: SetupServer, browser: httpx.Client, **params: str) -> tuple[str, dict[str, Any]]:
    """Open /setup with the token and submit its form to the emulator as a browser would; GitHub's 302 Location
    (back to the bot's callback) and the manifest sent."""
    page = browser.get(f"{bot.url}/setup", params={"token": bot.setup_token(), **params})
    assert page.status_code == 200, page.text
    action, manifest = register_form(page.text)
    answer = browser.post(action, data={"manifest": manifest})
    assert answer.status_code == 302, answer.text
    return answer.headers["location"], json.loads(manifest)


def files(bot: SetupServer) -> list[str]:
    return sorted(p.name for p in bot.data_dir.iterdir() if p.name.startswith(("github-app", ".tmp-")))


def registered(emu: Emulator, location: str) -> Any:
    """The emulator's App of the code in a callback address (without converting the code)."""
    code = parse_qs(urlsplit(location).query)["code"][0]
    return emu.apps[emu.manifest_codes[code].app_id]


@pytest.fixture
def setup_server(emu: Emulator, tmp_path: Path) -> Any:
    emu.oauth_user = "alice"  # who is signed in to GitHub in the browser
    bot = SetupServer(emu, tmp_path / "data").start()
    try:
        yield bot
    finally:
        bot.stop()


def test_setup_mode_serves_only_setup_and_asks_for_the_token(setup_server: SetupServer, emu: Emulator) -> None:
    bot = setup_server
    webhook = httpx.post(f"{bot.url}/webhook", content=b"{}", headers={"X-GitHub-Event": "ping"})
    assert webhook.status_code == 503
    assert "setup mode" in webhook.json()["detail"]
    assert httpx.get(f"{bot.url}/healthz").status_code == 200
    assert httpx.get(f"{bot.url}/readyz").status_code == 200
    assert httpx.get(f"{bot.url}/setup").status_code == 403
    assert httpx.get(f"{bot.url}/setup", params={"token": "not-the-token"}).status_code == 403
    assert httpx.get(f"{bot.url}/setup/callback", params={"code": "x", "state": "y"}).status_code == 400
    page = httpx.get(f"{bot.url}/setup", params={"token": bot.setup_token()})
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "script-src" not in policy and "default-src 'none'" in policy
    assert f"form-action 'self' {emu.url}" in policy
    cookie = page.headers["set-cookie"]
    assert "frb_setup_state=" in cookie and "HttpOnly" in cookie and "Path=/setup" in cookie
    action, text = register_form(page.text)
    assert action.startswith(f"{emu.url}/settings/apps/new?state=")
    assert parse_qs(urlsplit(action).query)["state"][0] not in cookie  # only its signed form travels in the cookie
    manifest = json.loads(text)
    assert manifest["hook_attributes"]["url"] == f"{bot.url}/webhook"
    assert manifest["redirect_url"] == f"{bot.url}/setup/callback"
    assert manifest["callback_urls"] == [f"{bot.url}/login/callback"]
    assert manifest["setup_url"] == f"{bot.url}/setup/installed"
    assert manifest["default_permissions"]["checks"] == "write"
    assert httpx.get(f"{bot.url}/setup", params={"token": bot.setup_token(), "org": "-bad-"}).status_code == 400
    assert httpx.get(f"{bot.url}/setup/installed").status_code == 200
    assert files(bot) == []


def test_a_configured_setup_token_is_required_and_never_logged(emu: Emulator, tmp_path: Path) -> None:
    token = "operator-chosen-setup-token-0123456789"
    bot = SetupServer(emu, tmp_path / "data", SETUP_TOKEN=token).start()
    try:
        assert httpx.get(f"{bot.url}/setup", params={"token": token}).status_code == 200
        assert httpx.get(f"{bot.url}/setup", params={"token": token[:-1]}).status_code == 403
    finally:
        bot.stop()
    log = bot.log.read_text()
    assert "/setup?token=<SETUP_TOKEN>" in log
    assert token not in log


def test_a_partial_configuration_still_refuses_to_start(emu: Emulator, tmp_path: Path) -> None:
    bot = SetupServer(emu, tmp_path / "data", GITHUB_APP_ID="12")
    with pytest.raises(AssertionError, match="GITHUB_WEBHOOK_SECRET is not set"):
        bot.start()
    bot.stop()


def test_a_foreign_state_is_refused_and_nothing_is_written(setup_server: SetupServer, emu: Emulator) -> None:
    bot = setup_server
    with httpx.Client() as browser:
        location, _ = to_github(bot, browser, name="frb-setup-state")
        parts = urlsplit(location)
        query = parse_qs(parts.query)
        forged = urlunsplit(parts._replace(query=urlencode({"code": query["code"][0], "state": "forged"})))
        assert browser.get(forged).status_code == 400
        # another browser (an attacker's page sending the operator to the callback) has no state cookie
        assert httpx.get(location).status_code == 400
        assert files(bot) == []
        assert httpx.get(f"{bot.url}/setup", params={"token": bot.setup_token()}).status_code == 200
        # the code was not spent: the genuine answer still completes the registration
        done = browser.get(location)
        assert done.status_code == 200, done.text
    assert files(bot) == ["github-app.env", "github-app.pem"]


def test_a_used_code_gives_an_error_page_and_writes_nothing(setup_server: SetupServer, emu: Emulator) -> None:
    bot = setup_server
    emu.add_user("falco-org", type="Organization")
    with httpx.Client() as browser:
        page = browser.get(f"{bot.url}/setup", params={"token": bot.setup_token(), "org": "falco-org",
                                                        "name": "frb-setup-used"})  # fmt: skip
        action, _ = register_form(page.text)
        assert urlsplit(action).path == "/organizations/falco-org/settings/apps/new"
        location, _ = to_github(bot, browser, org="falco-org", name="frb-setup-used")
        app = registered(emu, location)
        assert app.owner == "falco-org"
        code = parse_qs(urlsplit(location).query)["code"][0]
        assert httpx.post(f"{emu.api_url}/app-manifests/{code}/conversions").status_code == 201  # someone else
        refused = browser.get(location)
    assert refused.status_code == 400
    assert "GitHub refused the code" in refused.text
    assert files(bot) == []
    with httpx.Client() as browser:  # setup is still open; a code older than an hour is refused the same way
        location, _ = to_github(bot, browser, name="frb-setup-expired")
        emu.manifest_codes[parse_qs(urlsplit(location).query)["code"][0]].expires_at = 0
        assert browser.get(location).status_code == 400
    assert files(bot) == []


def test_github_unreachable_then_a_reload_completes(setup_server: SetupServer, emu: Emulator) -> None:
    bot = setup_server
    with httpx.Client() as browser:
        location, _ = to_github(bot, browser, name="frb-setup-retry")
        emu.faults.add(route="POST /app-manifests/{code}/conversions", status=502, times=1)
        failed = browser.get(location)
        assert failed.status_code == 502 and "GitHub did not answer" in failed.text
        assert files(bot) == []
        assert browser.get(location).status_code == 200  # the code was not spent, the state cookie kept
    assert files(bot) == ["github-app.env", "github-app.pem"]


def test_credentials_that_cannot_be_written_say_so(emu: Emulator, tmp_path: Path) -> None:
    emu.oauth_user = "alice"
    (tmp_path / "a-file").write_text("not a directory\n")
    target = tmp_path / "a-file" / "github-app.env"
    bot = SetupServer(emu, tmp_path / "data", GITHUB_APP_CREDENTIALS_FILE=str(target)).start()
    try:
        with httpx.Client() as browser:
            location, _ = to_github(bot, browser, name="frb-setup-unwritable")
            failed = browser.get(location)
        assert failed.status_code == 500
        assert "The credentials could not be written" in failed.text and str(target) in failed.text
        assert httpx.get(f"{bot.url}/setup", params={"token": bot.setup_token()}).status_code == 200  # still open
    finally:
        bot.stop()
    assert "could not be written" in bot.log.read_text()


@pytest.mark.skipif(not gpg_available(), reason="gpg is not installed")
def test_register_restart_install_and_review(setup_server: SetupServer, emu: Emulator, keys: dict[str, Key],
                                             tmp_path: Path) -> None:  # fmt: skip
    bot = setup_server
    with httpx.Client() as browser:
        location, sent = to_github(bot, browser, name="frb-setup-flow")
        assert urlsplit(location).path == "/setup/callback"
        done = browser.get(location)
    assert done.status_code == 200, done.text
    assert "frb_setup_state=;" in done.headers["set-cookie"]  # the state is spent
    app = next(a for a in emu.apps.values() if a.slug == "frb-setup-flow")
    assert app.manifest == sent
    assert app.manifest["hook_attributes"]["url"] == f"{bot.url}/webhook"
    assert f'href="{emu.url}/apps/frb-setup-flow/installations/new"' in done.text

    env_file, pem_file = bot.data_dir / "github-app.env", bot.data_dir / "github-app.pem"
    assert files(bot) == ["github-app.env", "github-app.pem"]  # no temporary file left behind
    for path in (env_file, pem_file):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    values = dotenv_values(env_file)
    assert values["GITHUB_APP_ID"] == str(app.id)
    assert values["GITHUB_APP_SLUG"] == "frb-setup-flow"
    assert values["GITHUB_WEBHOOK_SECRET"] == app.webhook_secret
    assert values["GITHUB_CLIENT_ID"] == app.client_id
    assert values["GITHUB_CLIENT_SECRET"] == app.client_secret
    assert values["GITHUB_PRIVATE_KEY_PATH"] == str(pem_file)
    assert values["GITHUB_API_URL"] == emu.api_url
    assert len(values["DASHBOARD_SESSION_SECRET"] or "") >= 32
    assert pem_file.read_text() == app.private_key_pem
    assert app.private_key_pem not in bot.log.read_text() and app.client_secret not in bot.log.read_text()

    # configured: /setup is gone, even before the restart; webhooks wait for the restart
    assert httpx.get(f"{bot.url}/setup", params={"token": bot.setup_token()}).status_code == 404
    assert httpx.get(location).status_code == 404
    assert httpx.post(f"{bot.url}/webhook", content=b"{}").status_code == 503
    bot.stop()

    # restarted with nothing but DATA_DIR and GitHub's address: the App's credentials come from the file
    server = BotServer(emu, app, bot.data_dir, GITHUB_APP_ID=None, GITHUB_PRIVATE_KEY=None,
                       GITHUB_WEBHOOK_SECRET=None).start()  # fmt: skip
    try:
        assert "GITHUB_APP_ID" not in server.env() and "GITHUB_PRIVATE_KEY" not in server.env()
        assert httpx.get(f"{server.url}/setup", params={"token": bot.setup_token()}).status_code == 404
        w = World(emu, app, keys, tmp_path)  # the App installed on a rules repository
        w.add_rule_commit()
        number = w.open()
        status, _ = server.deliver("pull_request", "opened", repo=w.repo_name, number=number,
                                   installation=w.installation)  # fmt: skip
        assert status == 202
        assert w.completed_run()["conclusion"] == "success"
        assert w.bot_comments(number)
    finally:
        server.stop()

    # an environment variable wins over the file's line
    other = BotServer(emu, app, bot.data_dir, GITHUB_APP_ID=None, GITHUB_PRIVATE_KEY=None,
                      GITHUB_WEBHOOK_SECRET="another-secret").start()  # fmt: skip
    try:
        status, _ = other.deliver("ping", None)
        assert status == 401
    finally:
        other.stop()
