"""'Sign in with GitHub' on the dashboard: signed cookies, the state check, the callback, and what a person sees."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from bot.github import GitHubError, OAuthUser, exchange_oauth_code, user_repositories
from bot.settings import Settings, SettingsError
from bot.store import Store
from bot.web.auth import COOKIE, Gate
from bot.web.dashboard import Dashboard, Page
from bot.web.oauth import SESSION_COOKIE, STATE_COOKIE, Signer, SignIn, Viewer, read_cookie
from tests.browser.seed import HOSTILE_REPO, TOKEN, Running, seed, settings_for
from tests.emulator import Emulator

SECRET = "s" * 40
OAUTH = {"github_client_id": "Iv23liclient", "github_client_secret": "client-secret",
         "dashboard_session_secret": SECRET, "dashboard_token": None}  # fmt: skip
HOST = {"host": "dash.example:8080"}


def oauth_settings(tmp_path: Path, **overrides: Any) -> Settings:
    return settings_for(tmp_path, **{**OAUTH, **overrides})


class FakeGitHub:
    """bot.github's exchange_oauth_code and user_repositories, recorded."""

    def __init__(self, login: str = "alice", repositories: tuple[str, ...] = ("falcosecurity/rules",),
                 fail: GitHubError | None = None) -> None:  # fmt: skip
        self.login, self.repositories, self.fail = login, repositories, fail
        self.exchanged: list[tuple[str, ...]] = []
        self.looked_up: list[tuple[str, str]] = []

    def exchange(self, web: str, client_id: str, client_secret: str, code: str, redirect_uri: str) -> str:
        self.exchanged.append((web, client_id, client_secret, code, redirect_uri))
        if self.fail is not None:
            raise self.fail
        return "ghu_token"

    def lookup(self, api: str, token: str) -> OAuthUser:
        self.looked_up.append((api, token))
        return OAuthUser(self.login, self.repositories)


def signin_for(tmp_path: Path, fake: FakeGitHub | None = None, **overrides: Any) -> SignIn:
    fake = fake or FakeGitHub()
    return SignIn(oauth_settings(tmp_path, **overrides), fake.exchange, fake.lookup)


def set_cookies(headers: tuple[tuple[str, str], ...] | tuple[str, ...]) -> dict[str, str]:
    values = [v for k, v in headers] if headers and isinstance(headers[0], tuple) else list(headers)  # type: ignore[misc]
    return {str(v).split("=", 1)[0]: str(v) for v in values if "=" in str(v)}


def value_of(set_cookie: str) -> str:
    return set_cookie.split(";", 1)[0].split("=", 1)[1]


def start(signin: SignIn, secure: bool = False) -> tuple[str, str]:
    """GET /login: (the state GitHub is sent, the state cookie's value)."""
    outcome = signin.login(HOST, secure)
    headers = dict(outcome.headers)
    state = parse_qs(urlsplit(headers["location"]).query)["state"][0]
    return state, value_of(headers["set-cookie"])


# -- signed values ------------------------------------------------------------------------------------------------
def test_signed_values_round_trip_and_refuse_tampering_other_purposes_and_expiry() -> None:
    signer = Signer(SECRET, "session")
    value = signer.sign({"login": "alice", "repos": ["a/b"], "exp": time.time() + 60})
    assert signer.verify(value)["login"] == "alice"  # type: ignore[index]
    body, mac = value.split(".")
    assert re.fullmatch(r"[A-Za-z0-9_-]+", body) and re.fullmatch(r"[A-Za-z0-9_-]+", mac)
    flipped = ("A" if body[5] != "A" else "B").join((body[:5], body[6:]))
    assert signer.verify(f"{flipped}.{mac}") is None
    assert signer.verify(f"{body}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}") is None
    assert signer.verify(body) is None and signer.verify("") is None and signer.verify("...") is None
    assert Signer(SECRET, "oauth state").verify(value) is None  # one key per purpose
    assert Signer("t" * 40, "session").verify(value) is None
    assert signer.verify(value, now=time.time() + 61) is None
    assert signer.verify(signer.sign({"login": "alice"})) is None  # no expiry: refused
    assert signer.verify(signer.sign({"login": "alice", "exp": "soon"})) is None


# -- settings -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("values,message", [
    ({"github_client_secret": None}, "GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET"),
    ({"github_client_id": None}, "GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET"),
    ({"dashboard_session_secret": None}, "DASHBOARD_SESSION_SECRET"),
    ({"dashboard_session_secret": "short"}, "at least 32"),
])  # fmt: skip
def test_incomplete_oauth_settings_are_refused(tmp_path: Path, values: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Gate(oauth_settings(tmp_path, **values))


def test_oauth_turns_the_dashboard_on_and_keeps_tokens_working(tmp_path: Path) -> None:
    gate = Gate(oauth_settings(tmp_path))
    assert gate.on and gate.signin.on
    assert gate.decide({}, {}, "/", False).kind == "deny"
    assert not Gate(oauth_settings(tmp_path, dashboard_enabled=False)).on
    both = Gate(oauth_settings(tmp_path, dashboard_token=TOKEN))
    allowed = both.decide({"authorization": f"Bearer {TOKEN}"}, {}, "/", False)
    assert allowed.kind == "allow" and allowed.viewer.repositories is None  # a token holder sees everything
    off = Dashboard(settings_for(tmp_path), Store(settings_for(tmp_path).database()))
    assert off.serve("login", {}, HOST, {}, "/login") is None  # token only: no sign-in routes


# -- the flow -----------------------------------------------------------------------------------------------------
def test_login_sends_the_browser_to_github_with_a_state_kept_in_a_signed_cookie(tmp_path: Path) -> None:
    signin = signin_for(tmp_path, github_api_url="https://ghe.example/api/v3")
    outcome = signin.login(HOST, False)
    headers = dict(outcome.headers)
    assert outcome.kind == "redirect"
    url = urlsplit(headers["location"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://ghe.example/login/oauth/authorize"
    query = parse_qs(url.query)
    assert query["client_id"] == ["Iv23liclient"]
    assert query["redirect_uri"] == ["http://dash.example:8080/login/callback"]
    assert len(query["state"][0]) >= 40
    cookie = headers["set-cookie"]
    assert cookie.startswith(f"{STATE_COOKIE}=") and "Path=/login" in cookie and "Max-Age=600" in cookie
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert query["state"][0] not in cookie  # the cookie is signed and compressed, not the state in clear
    assert "; Secure" in dict(signin.login(HOST, True).headers)["set-cookie"]
    assert start(signin)[0] != start(signin)[0]  # fresh every time
    assert signin.login({"host": "evil.example/x?"}, False).kind == "deny"
    public = signin_for(tmp_path, dashboard_url="https://frb.example/")
    query = parse_qs(urlsplit(dict(public.login(HOST, False).headers)["location"]).query)
    assert query["redirect_uri"] == ["https://frb.example/login/callback"]
    assert "; Secure" in dict(public.login(HOST, False).headers)["set-cookie"]


def test_the_callback_checks_the_state_exchanges_the_code_and_keeps_only_names(tmp_path: Path) -> None:
    fake = FakeGitHub(repositories=("falcosecurity/rules", "Acme/Shared"))
    signin = signin_for(tmp_path, fake)
    state, kept = start(signin)
    outcome = signin.callback({**HOST, "cookie": f"{STATE_COOKIE}={kept}"}, {"code": "c0de", "state": state}, False)
    assert outcome.kind == "redirect" and dict(outcome.headers)["location"] == "/"
    assert fake.exchanged == [("https://github.com", "Iv23liclient", "client-secret", "c0de",
                               "http://dash.example:8080/login/callback")]  # fmt: skip
    assert fake.looked_up == [("https://api.github.com", "ghu_token")]
    cookies = set_cookies(outcome.headers)
    assert value_of(cookies[STATE_COOKIE]) == "" and "Max-Age=0" in cookies[STATE_COOKIE]
    session = cookies[SESSION_COOKIE]
    assert "HttpOnly" in session and "SameSite=Lax" in session and f"Max-Age={8 * 3600}" in session
    assert "ghu_token" not in session and "Secure" not in session
    viewer = signin.viewer(f"{SESSION_COOKIE}={value_of(session)}")
    assert viewer == Viewer("alice", frozenset({"falcosecurity/rules", "acme/shared"}))
    assert viewer.can_read("ACME/shared") and not viewer.can_read("acme/secret")
    assert signin.viewer(f"{SESSION_COOKIE}={value_of(session)}", now=time.time() + 8 * 3600 + 1) is None


@pytest.mark.parametrize("case", ["wrong state", "no state", "no cookie", "expired cookie", "session as state",
                                  "no code", "empty state"])  # fmt: skip
def test_a_callback_without_the_right_state_is_refused(tmp_path: Path, case: str) -> None:
    fake = FakeGitHub()
    signin = signin_for(tmp_path, fake)
    state, kept = start(signin)
    query = {"code": "c0de", "state": state}
    cookie = f"{STATE_COOKIE}={kept}"
    now = None
    if case == "wrong state":
        query["state"] = state[:-1] + ("A" if state[-1] != "A" else "B")
    elif case == "no state":
        del query["state"]
    elif case == "no cookie":
        cookie = ""
    elif case == "expired cookie":
        now = time.time() + 601
    elif case == "session as state":
        cookie = f"{STATE_COOKIE}={signin.sessions.sign({'state': state, 'exp': time.time() + 60})}"
    elif case == "no code":
        del query["code"]
    elif case == "empty state":
        cookie = f"{STATE_COOKIE}={signin.states.sign({'state': '', 'exp': time.time() + 60})}"
        query["state"] = ""
    outcome = signin.callback({**HOST, "cookie": cookie}, query, False, now=now)
    assert outcome.kind == "deny" and fake.exchanged == []
    assert SESSION_COOKIE not in set_cookies(outcome.headers)


@pytest.mark.parametrize("error,kind", [(GitHubError("refused", 401), "deny"),
                                        (GitHubError("down", 502, True), "failed")])  # fmt: skip
def test_github_failures_during_the_callback(tmp_path: Path, error: GitHubError, kind: str) -> None:
    signin = signin_for(tmp_path, FakeGitHub(fail=error))
    state, kept = start(signin)
    outcome = signin.callback({**HOST, "cookie": f"{STATE_COOKIE}={kept}"}, {"code": "c", "state": state}, False)
    assert outcome.kind == kind and SESSION_COOKIE not in set_cookies(outcome.headers)


def test_too_many_repositories_for_a_cookie(tmp_path: Path) -> None:
    import secrets

    names = tuple(f"org{i}/{secrets.token_hex(12)}" for i in range(400))
    signin = signin_for(tmp_path, FakeGitHub(repositories=names))
    state, kept = start(signin)
    outcome = signin.callback({**HOST, "cookie": f"{STATE_COOKIE}={kept}"}, {"code": "c", "state": state}, False)
    assert outcome.kind == "too_many"


# -- what a signed-in person sees -----------------------------------------------------------------------------------
@pytest.fixture()
def board(tmp_path: Path) -> Dashboard:
    settings = oauth_settings(tmp_path, dashboard_token=TOKEN, dashboard_page_size=2)
    store = Store(settings.database())
    seed(store)
    fake = FakeGitHub()
    return Dashboard(settings, store, SignIn(settings, fake.exchange, fake.lookup))


def session_cookie(board: Dashboard, repos: list[str], login: str = "alice") -> dict[str, str]:
    value = board.signin.sessions.sign({"login": login, "repos": repos, "exp": time.time() + 60})
    return {"cookie": f"{SESSION_COOKIE}={value}"}


def serve(board: Dashboard, route: str, headers: dict[str, str], **args: str) -> Page:
    query = {"page": args.pop("page")} if "page" in args else {}
    page = board.serve(route, args, headers, query, "/")
    assert page is not None
    return page


def test_a_signed_in_person_sees_only_the_repositories_they_can_read(board: Dashboard) -> None:
    alice = session_cookie(board, ["falcosecurity/rules"])
    home = serve(board, "home", alice)
    assert home.status == 200 and "falcosecurity/rules" in home.html and "mallory" not in home.html
    assert "evil/" not in home.html and 'id="frb-login">alice<' in home.html and 'href="/logout"' in home.html
    assert "3 reviews" in home.html and "page 1 of 2" in home.html
    second = serve(board, "home", alice, page="2")
    assert second.status == 200 and second.html.count('href="/reviews/') == 2  # review #7 (badge + head links)
    assert serve(board, "home", alice, page="3").status == 404
    assert serve(board, "review", alice, review_id="3").status == 404  # the hostile repository's review
    assert serve(board, "review", alice, review_id="2").status == 200
    owner, repo = HOSTILE_REPO.split("/")
    assert serve(board, "matrix", alice, owner=owner, repo=repo).status == 404
    assert serve(board, "matrix", alice, owner="FalcoSecurity", repo="rules").status == 200
    nobody = session_cookie(board, [])
    empty = serve(board, "home", nobody)
    assert empty.status == 200 and "No review yet" in empty.html and "No installation recorded yet" in empty.html
    token = serve(board, "home", {"authorization": f"Bearer {TOKEN}"})
    assert "mallory" in token.html and "4 reviews" in token.html and "/logout" not in token.html


def test_forged_tampered_or_expired_sessions_get_the_401_page_with_the_sign_in_link(board: Dashboard) -> None:
    good = session_cookie(board, ["falcosecurity/rules"])["cookie"]
    body, mac = value_of(good).split(".")
    forged = Signer("x" * 40, "session").sign({"login": "eve", "repos": [HOSTILE_REPO], "exp": time.time() + 60})
    expired = board.signin.sessions.sign({"login": "alice", "repos": [], "exp": time.time() - 1})
    state_signed = board.signin.states.sign({"login": "eve", "repos": [], "exp": 2e9})  # a state cookie's key
    for value in (forged, f"{body}x.{mac}", expired, state_signed):
        cookie = f"{SESSION_COOKIE}={value}"
        page = serve(board, "home", {"cookie": cookie})
        assert page.status == 401 and 'href="/login">Sign in with GitHub</a>' in page.html
        assert "falcosecurity/rules" not in page.html


def test_logout_clears_the_cookies(board: Dashboard) -> None:
    page = serve(board, "logout", {})
    assert page.status == 303 and page.headers["location"] == "/"
    cookies = set_cookies(page.cookies)
    assert "Max-Age=0" in cookies[SESSION_COOKIE] and "Max-Age=0" in cookies[COOKIE]
    assert read_cookie(f"{SESSION_COOKIE}=", SESSION_COOKIE) == ""


def test_the_sign_in_routes_over_http(tmp_path: Path) -> None:
    settings = oauth_settings(tmp_path)
    with Running(settings) as running, httpx.Client(base_url=running.url, follow_redirects=False) as client:
        home = client.get("/")
        assert home.status_code == 401 and 'href="/login"' in home.text
        login = client.get("/login")
        assert login.status_code == 303 and login.headers["location"].startswith("https://github.com/login/oauth/")
        assert STATE_COOKIE in login.headers["set-cookie"]
        callback = client.get("/login/callback", params={"code": "x", "state": "forged"})
        assert callback.status_code == 401 and "Sign-in required" in callback.text
        logout = client.get("/logout")
        assert logout.status_code == 303 and len(logout.headers.get_list("set-cookie")) == 2
    with Running(settings_for(tmp_path / "off")) as running, httpx.Client(base_url=running.url) as client:
        assert client.get("/login").status_code == 404 and client.get("/logout").status_code == 404


# -- bot.github against the GitHub emulator -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def github(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Emulator, Any]]:
    from tests.browser.test_dashboard_oauth_browser import source_repo

    source = source_repo(tmp_path_factory.mktemp("oauth-source") / "repo")
    with Emulator() as emu:
        app = emu.create_app()
        for login in ("alice", "bob"):
            emu.add_user(login)
        emu.add_user("acme", type="Organization")
        for name, private in (("falcosecurity/rules", False), ("acme/secret", True), ("acme/shared", True),
                              ("acme/open", False), ("alice/own", True)):  # fmt: skip
            emu.add_repository(name, source, private=private)
        emu.set_permission("acme/shared", "alice", "triage")
        emu.install(app, "falcosecurity", ["falcosecurity/rules"])
        emu.install(app, "acme", ["acme/secret", "acme/shared", "acme/open"])
        emu.install(app, "alice", ["alice/own"])
        other = emu.create_app(slug="other-app")
        emu.install(other, "acme", ["acme/secret"])
        yield emu, app
        assert emu.schema_violations == [], emu.schema_violations


def authorize(emu: Emulator, client_id: str, login: str | None = None, state: str = "st") -> str:
    params = {"client_id": client_id, "redirect_uri": "http://127.0.0.1:9/login/callback", "state": state}
    answer = httpx.get(f"{emu.url}/login/oauth/authorize", params={**params, **({"login": login} if login else {})})
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["state"] == [state]
    return query["code"][0]


@pytest.mark.parametrize("per_page", [100, 1])
def test_a_token_and_readable_repositories_from_the_emulator(github: tuple[Emulator, Any], per_page: int,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    import bot.github.client as client

    monkeypatch.setattr(client, "_OAUTH_PER_PAGE", per_page)
    emu, app = github
    callback = "http://127.0.0.1:9/login/callback"
    token = exchange_oauth_code(emu.url, app.client_id, app.client_secret, authorize(emu, app.client_id, "alice"),
                                callback)  # fmt: skip
    assert token.startswith("ghu_")
    person = user_repositories(emu.api_url, token)
    assert person.login == "alice"
    assert sorted(person.repositories) == ["acme/open", "acme/shared", "alice/own", "falcosecurity/rules"]
    bob = exchange_oauth_code(emu.url, app.client_id, app.client_secret, authorize(emu, app.client_id, "bob"), callback)
    assert sorted(user_repositories(emu.api_url, bob).repositories) == ["acme/open", "falcosecurity/rules"]


def test_codes_and_credentials_the_emulator_refuses(github: tuple[Emulator, Any]) -> None:
    emu, app = github
    callback = "http://127.0.0.1:9/login/callback"
    code = authorize(emu, app.client_id, "alice")
    with pytest.raises(GitHubError) as wrong_secret:
        exchange_oauth_code(emu.url, app.client_id, "not-the-secret", code, callback)
    assert wrong_secret.value.status == 401 and "incorrect_client_credentials" in str(wrong_secret.value)
    with pytest.raises(GitHubError, match="bad_verification_code"):  # the code was used up by the failed attempt
        exchange_oauth_code(emu.url, app.client_id, app.client_secret, code, callback)
    code = authorize(emu, app.client_id, "alice")
    with pytest.raises(GitHubError, match="bad_verification_code"):
        exchange_oauth_code(emu.url, app.client_id, app.client_secret, code, "http://127.0.0.1:9/elsewhere")
    with pytest.raises(GitHubError) as bad_token:
        user_repositories(emu.api_url, "ghu_" + "x" * 36)
    assert bad_token.value.status == 401
    assert httpx.get(f"{emu.url}/login/oauth/authorize", params={"client_id": "Iv23linobody"}).status_code == 404
    assert httpx.get(f"{emu.api_url}/user/installations").status_code == 401
