"""The dashboard: access decisions and page data without a web framework, then 401/404/off over real HTTP."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.render import TEMPLATES
from bot.store import Store
from bot.web.auth import COOKIE, Gate, hash_password, parse_users, session_value, verify_password
from bot.web.dashboard import Dashboard, matrix_of, report_from_json
from tests.browser.seed import HOSTILE_ACCOUNT, HOSTILE_REPO, TOKEN, Running, report, seed, settings_for

BEARER = {"authorization": f"Bearer {TOKEN}"}
FAST_HASH = hash_password("correct horse", salt="NaCl", iterations=1000)


def basic(user: str, password: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


# -- access decisions ---------------------------------------------------------------------------------
def test_password_hashes_round_trip_and_reject_the_rest() -> None:
    encoded = hash_password("s3cret", iterations=1000)
    assert encoded.startswith("pbkdf2_sha256$1000$")
    assert verify_password("s3cret", encoded)
    assert not verify_password("s3cret ", encoded)
    assert not verify_password("s3cret", "md5$1$x$y") and not verify_password("s3cret", "pbkdf2_sha256$x$y$z")
    assert not verify_password("s3cret", "pbkdf2_sha256$999999999$salt$00")  # absurd cost refused, not run
    assert parse_users(f"ann:{FAST_HASH}, bob:plaintext ,:{FAST_HASH},,carl") == {"ann": FAST_HASH}


@pytest.mark.parametrize("values,on", [
    ({}, False),
    ({"dashboard_enabled": True}, False),  # never on without something protecting it
    ({"dashboard_token": TOKEN}, True),
    ({"dashboard_token": TOKEN, "dashboard_enabled": False}, False),
    ({"dashboard_token": " , "}, False),
    ({"dashboard_users": f"ann:{FAST_HASH}"}, True),
    ({"dashboard_users": "ann:plaintext"}, False),
])  # fmt: skip
def test_the_dashboard_is_off_unless_protected(tmp_path: Path, values: dict[str, Any], on: bool) -> None:
    gate = Gate(settings_for(tmp_path, **{"dashboard_token": None, **values}))
    assert gate.on is on
    if not on:
        assert gate.decide(BEARER, {}, "/", False).kind == "off"


def test_token_decisions(tmp_path: Path) -> None:
    gate = Gate(settings_for(tmp_path, dashboard_token=f"old-token,{TOKEN}"))
    assert gate.decide(BEARER, {}, "/", False).kind == "allow"
    assert gate.decide({"Authorization": "bearer old-token"}, {}, "/", False).kind == "allow"
    denied = gate.decide({"authorization": f"Bearer {TOKEN}x"}, {}, "/", False)
    assert denied.kind == "deny" and dict(denied.headers)["www-authenticate"].startswith("Bearer")
    assert gate.decide({}, {}, "/", False).kind == "deny"
    assert gate.decide(basic("ann", TOKEN), {}, "/", False).kind == "deny"

    signin = gate.decide({}, {"token": TOKEN, "page": "2"}, "/reviews/3", False)
    headers = dict(signin.headers)
    assert signin.kind == "signin" and headers["location"] == "/reviews/3?page=2"
    cookie = headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}={session_value(TOKEN)};") and TOKEN not in cookie
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert "; Secure" in dict(gate.decide({}, {"token": TOKEN}, "/", True).headers)["set-cookie"]
    assert dict(gate.decide({}, {"token": TOKEN}, "//evil.example/x", False).headers)["location"] == "/evil.example/x"
    assert gate.decide(BEARER, {"token": "wrong"}, "/", False).kind == "deny"  # a wrong ?token= is never ignored

    assert gate.decide({"cookie": f"a=b; {COOKIE}={session_value(TOKEN)}"}, {}, "/", False).kind == "allow"
    assert gate.decide({"cookie": f"{COOKIE}={TOKEN}"}, {}, "/", False).kind == "deny"  # the token is not a session
    assert gate.decide({"cookie": 'bad"cookie\\'}, {}, "/", False).kind == "deny"


def test_basic_auth_decisions(tmp_path: Path) -> None:
    gate = Gate(settings_for(tmp_path, dashboard_token=None, dashboard_users=f"ann:{FAST_HASH}"))
    assert gate.decide(basic("ann", "correct horse"), {}, "/", False).kind == "allow"
    assert gate.decide(basic("ann", "correct horse"), {}, "/", False).kind == "allow"  # remembered
    for headers in (basic("ann", "wrong"), basic("bob", "correct horse"), {"authorization": "Basic !!!"},
                    {"authorization": "Basic " + base64.b64encode(b"ann").decode()}, BEARER):  # fmt: skip
        decision = gate.decide(headers, {}, "/", False)
        assert decision.kind == "deny"
        assert dict(decision.headers)["www-authenticate"].startswith('Basic realm="falco-rules-bot"')
    assert gate.decide({}, {"token": TOKEN}, "/", False).kind == "deny"  # no token configured


# -- page data ------------------------------------------------------------------------------------------
def test_a_report_comes_back_from_its_json() -> None:
    data = report("falcosecurity/rules", 12, "c" * 40, failing=True)
    rebuilt = report_from_json(data)
    assert rebuilt.to_json() == data
    assert rebuilt.conclusion == "failure"
    old = report_from_json({"repository": "a/b", "head_sha": "h", "checks": [{"id": "dco", "status": "pass"}, 3]})
    assert old.attack is None and old.checks[0].title == "dco" and old.conclusion == "success"


def test_every_dashboard_template_escapes_html() -> None:
    names = sorted(p.name for p in Path(TEMPLATES).glob("dashboard_*.html.j2"))
    assert len(names) >= 5
    for name in names:
        text = (Path(TEMPLATES) / name).read_text(encoding="utf-8")
        if "{% extends " in text:  # a block is rendered on its own: each one must switch escaping on
            blocks = re.findall(r"{% block \w+ %}(\s*{% autoescape true %})?", text)
            assert blocks and all(blocks), name
        else:
            assert re.sub(r"{#.*?#}", "", text, flags=re.S).lstrip().startswith("{% autoescape true %}"), name


@pytest.fixture
def board(tmp_path: Path) -> tuple[Dashboard, dict[str, int]]:
    settings = settings_for(tmp_path, dashboard_page_size=3)
    store = Store(settings.database())
    return Dashboard(settings, store), seed(store)


def test_the_overview_page(board: tuple[Dashboard, dict[str, int]]) -> None:
    dash, _ids = board
    page = dash.serve("home", {}, BEARER, {}, "/")
    assert page is not None and page.status == 200
    assert "https://github.com/falcosecurity/rules/pull/13" in page.html
    assert HOSTILE_REPO not in page.html and HOSTILE_ACCOUNT not in page.html
    assert "evil/&lt;b onmouseover=&#34;alert(1)&#34;&gt;rules" in page.html
    assert "&lt;b&gt;mallory&lt;/b&gt;" in page.html
    assert 'rel="next"' in page.html and "page 1 of 2" in page.html and "#7<" not in page.html
    second = dash.serve("home", {}, BEARER, {"page": "2"}, "/")
    assert second is not None and "#7<" in second.html and 'rel="prev"' in second.html
    for bad in ("3", "0", "-1", "x"):
        answer = dash.serve("home", {}, BEARER, {"page": bad}, "/")
        assert answer is not None and answer.status == (404 if bad == "3" else 200)
    assert "style-src 'sha256-" in page.headers["content-security-policy"]
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'none': no script at all
    assert page.headers["cache-control"] == "no-store"


def test_the_review_and_matrix_pages(board: tuple[Dashboard, dict[str, int]]) -> None:
    dash, ids = board
    review = dash.serve("review", {"review_id": str(ids["failing"])}, BEARER, {}, "/reviews/2")
    assert review is not None and review.status == 200
    assert "changes needed" in review.html and "unknown field proc.nme &lt;in&gt; condition" in review.html
    assert f"/blob/c0ffee{'2' * 34}/rules/falco_rules.yaml#L42" in review.html
    for missing in ("999", "abc", "", "1" * 30):
        answer = dash.serve("review", {"review_id": missing}, BEARER, {}, "/reviews/x")
        assert answer is not None and answer.status == 404
    matrix = dash.serve("matrix", {"owner": "FalcoSecurity", "repo": "Rules"}, BEARER, {}, "/repos/x/y/matrix")
    assert matrix is not None and matrix.status == 200
    assert 'data-tactic="TA0002"' in matrix.html and "&lt;img src=x onerror" in matrix.html
    assert "<img" not in matrix.html
    assert f"/blob/ba5e{'4' * 36}/rules/falco_rules.yaml#L" in matrix.html  # the default branch: the review's base
    nothing = dash.serve("matrix", {"owner": "nobody", "repo": "nothing"}, BEARER, {}, "/repos/nobody/nothing/matrix")
    assert nothing is not None and nothing.status == 404 and "Not found" in nothing.html
    assert dash.serve("home", {}, {}, {}, "/") is not None  # a 401 page, tested over HTTP below
    old = dash.reads.review(ids["old"])
    assert old is not None and matrix_of(old) is None


def test_a_store_that_does_not_answer_gives_the_503_page(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    dash = Dashboard(settings, Store(settings.database()))  # never migrated: no tables
    for route, args in (("home", {}), ("review", {"review_id": "1"}), ("matrix", {"owner": "a", "repo": "b"})):
        page = dash.serve(route, args, BEARER, {}, "/")
        assert page is not None and page.status == 503 and "Unavailable" in page.html
    page = dash.serve("nowhere", {}, BEARER, {}, "/")
    assert page is not None and page.status == 404


# -- over real HTTP ---------------------------------------------------------------------------------------
def test_off_answers_404_as_if_the_routes_did_not_exist(tmp_path: Path) -> None:
    with Running(settings_for(tmp_path, dashboard_token=None)) as running:
        for path in ("/", "/reviews/1", "/repos/falcosecurity/rules/matrix", f"/?token={TOKEN}"):
            response = httpx.get(running.url + path, headers=BEARER)
            assert response.status_code == 404 and response.json() == {"detail": "Not Found"}, path
        assert httpx.get(running.url + "/healthz").status_code == 200


def test_protected_pages_over_http(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, dashboard_users=f"ann:{FAST_HASH}")
    seed(Store(settings.database()))
    with Running(settings) as running:
        for path in ("/", "/reviews/1", "/repos/falcosecurity/rules/matrix", "/reviews/999", "/?token=nope"):
            response = httpx.get(running.url + path)
            assert response.status_code == 401, path
            assert "Sign-in required" in response.text and "falcosecurity/rules" not in response.text
            assert response.headers["www-authenticate"].startswith("Basic")
            assert response.headers["content-type"].startswith("text/html")
        assert httpx.get(running.url + "/", headers=BEARER).status_code == 200
        assert httpx.get(running.url + "/", headers=basic("ann", "correct horse")).status_code == 200
        assert httpx.get(running.url + "/", headers=basic("ann", "wrong")).status_code == 401
        assert httpx.get(running.url + "/reviews/999", headers=BEARER).status_code == 404
        assert httpx.get(running.url + "/reviews/-1", headers=BEARER).status_code == 404
        with httpx.Client(base_url=running.url) as client:
            signin = client.get(f"/repos/falcosecurity/rules/matrix?token={TOKEN}")
            assert signin.status_code == 303 and signin.headers["location"] == "/repos/falcosecurity/rules/matrix"
            assert "httponly" in signin.headers["set-cookie"].lower()
            page = client.get("/repos/falcosecurity/rules/matrix")  # the cookie, from now on
            assert page.status_code == 200 and "Terminal shell in container" in page.text
        assert httpx.post(running.url + "/webhook", content=b"{}").status_code == 401  # the webhook is untouched
