"""The dashboard in a real browser: Debian's Chromium driven by Playwright against the real app under uvicorn."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.store import Store
from tests.browser.seed import HOSTILE_ACCOUNT, HOSTILE_REPO, HOSTILE_RULE, TOKEN, Running, base_of, seed, settings_for

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
LATEST_HEAD = "dead" + "4" * 36
LATEST_BASE = base_of(LATEST_HEAD)  # the matrix shows the default branch, as the latest review found it

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - CI installs it with the dev extras
    sync_playwright = None

_missing = []
if sync_playwright is None:
    _missing.append("the playwright package is not installed (pip install -e '.[dev]')")
if shutil.which(CHROMIUM) is None:
    _missing.append(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
if _missing and os.environ.get("FRB_REQUIRE_BROWSER"):
    raise RuntimeError("browser tests required but " + "; ".join(_missing))
pytestmark = pytest.mark.skipif(bool(_missing), reason="browser tests need a browser: " + "; ".join(_missing))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, dict[str, int]]]:
    settings = settings_for(tmp_path_factory.mktemp("dashboard-browser"))
    store = Store(settings.database())
    ids = seed(store)
    store.close()
    with Running(settings) as running:
        yield running, ids


class Watch:
    """A page with what would betray an injection or a blocked stylesheet: dialogs and console errors."""

    def __init__(self, browser: Browser, width: int = 1280, height: int = 900) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page: Page = self.context.new_page()
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)

    def sign_in(self, base: str) -> None:
        response = self.page.goto(f"{base}/?token={TOKEN}")
        assert response is not None and response.status == 200
        assert "token" not in self.page.url  # the redirect dropped it from the address bar and history

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)

    def clean(self) -> None:
        assert self.dialogs == []
        assert [e for e in self.errors if "Content Security Policy" in e or "Refused" in e] == []

    def close(self) -> None:
        self.context.close()


def test_a_request_without_the_token_gets_the_401_page(server: tuple[Running, dict[str, int]],
                                                       browser: Browser) -> None:  # fmt: skip
    running, ids = server
    w = Watch(browser)
    for path in ("/", f"/reviews/{ids['latest']}", "/repos/falcosecurity/rules/matrix", "/?token=wrong"):
        response = w.page.goto(running.url + path)
        assert response is not None and response.status == 401, path
        assert w.page.locator("h1").inner_text() == "Sign-in required"
        assert "falcosecurity/rules" not in w.page.content()
    assert w.context.cookies() == []
    w.shot("401")
    w.close()


def test_overview_lists_installations_repositories_and_reviews(server: tuple[Running, dict[str, int]],
                                                               browser: Browser) -> None:  # fmt: skip
    running, _ids = server
    w = Watch(browser)
    w.sign_in(running.url)
    cookie = next(c for c in w.context.cookies() if c["name"] == "frb_dashboard")
    assert cookie["httpOnly"] and cookie["value"] != TOKEN
    page = w.page
    assert page.locator("h1").inner_text() == "Overview"
    rows = page.locator("#recent-reviews tbody tr")
    assert rows.count() == 4
    first = rows.nth(0)
    assert first.locator("td").nth(0).inner_text() == "all checks passed"
    assert first.locator("td").nth(1).inner_text() == "falcosecurity/rules"
    link = first.locator("td").nth(2).locator("a")
    assert link.inner_text() == "#13"
    assert link.get_attribute("href") == "https://github.com/falcosecurity/rules/pull/13"
    assert first.locator("td").nth(3).inner_text() == LATEST_HEAD[:12]
    assert rows.nth(2).locator("td").nth(0).inner_text() == "changes needed"  # newest first: #12 is third
    # hostile names are text, never markup
    assert page.get_by_text(HOSTILE_REPO, exact=True).count() >= 2
    assert page.get_by_text(HOSTILE_ACCOUNT, exact=True).count() == 1
    assert page.locator("[onmouseover]").count() == 0 and page.locator("main b:not(td b)").count() == 0
    suspended = page.locator("tr", has_text=HOSTILE_ACCOUNT).locator("td").nth(3).inner_text()
    assert suspended == "yes"
    # the stylesheet applies (the Content-Security-Policy hash matches the inline style)
    background = page.eval_on_selector(".frb-top", "e => getComputedStyle(e).backgroundColor")
    assert background == "rgb(36, 41, 47)"
    w.shot("overview")
    w.clean()
    w.close()


def test_one_review_shows_the_checks_and_findings(server: tuple[Running, dict[str, int]], browser: Browser) -> None:
    running, ids = server
    w = Watch(browser)
    w.sign_in(running.url)
    page = w.page
    page.locator("#recent-reviews a.frb-sha", has_text="c0ffee").click()
    page.wait_for_url(f"**/reviews/{ids['failing']}")
    assert page.locator("h1").inner_text() == "falcosecurity/rules #12"
    assert page.locator(".frb-card .frb-badge").inner_text() == "changes needed"
    checks = page.locator("#checks tbody tr")
    assert [checks.nth(i).locator("td").nth(0).inner_text() for i in range(checks.count())] == [
        "DCO sign-off", "Falco rules", "GPG signatures"]  # fmt: skip
    assert checks.nth(1).locator("td").nth(1).inner_text() == "fail"
    finding = page.locator("li.frb-finding", has_text="LOAD_ERR_COMPILE_CONDITION")
    assert "unknown field proc.nme <in> condition" in finding.inner_text()
    href = finding.locator("a").get_attribute("href")
    assert href == "https://github.com/falcosecurity/rules/blob/c0ffee" + "2" * 34 + "/rules/falco_rules.yaml#L42"
    assert "macro <b>never_used</b> is not used" in page.locator("li.frb-finding", has_text="UNUSED").inner_text()
    assert page.locator("pre.frb-hint").first.inner_text() == "Use proc.name."
    signatures = page.locator("details.frb-check", has_text="GPG signatures")
    assert signatures.get_attribute("open") is None  # a warning: closed, as in the comment
    signatures.locator("summary").click()
    assert "git commit -S --amend" in signatures.locator("pre.frb-hint").inner_text()
    landing = page.locator("#landing tbody tr")
    assert landing.count() == 2
    assert landing.nth(0).locator("td").nth(0).inner_text() == HOSTILE_RULE
    assert landing.nth(0).locator("td").nth(2).inner_text() == "Execution"
    assert "Resource Development" in page.locator("#landing + p, .frb-tablewrap + p").last.inner_text()
    assert page.locator("main img").count() == 0
    w.shot("review")
    w.clean()
    w.close()


def test_matrix_page_shows_rules_under_their_tactics(server: tuple[Running, dict[str, int]], browser: Browser) -> None:
    running, _ids = server
    w = Watch(browser)
    w.sign_in(running.url)
    page = w.page
    response = page.goto(f"{running.url}/repos/falcosecurity/rules/matrix")
    assert response is not None and response.status == 200
    card = page.locator(".frb-card").inner_text()
    assert LATEST_BASE[:12] in card and "#13" in card  # which commit the matrix comes from, and when
    execution = page.locator('section.frb-column[data-tactic="TA0002"]')
    assert execution.locator("h3").inner_text().startswith("Execution")
    shell = execution.locator("a.frb-rule", has_text="Terminal shell in container")
    assert shell.count() == 1
    href = shell.get_attribute("href") or ""
    assert href.startswith(f"https://github.com/falcosecurity/rules/blob/{LATEST_BASE}/rules/falco_rules.yaml#L")
    hostile = execution.locator("a.frb-rule", has_text=HOSTILE_RULE)
    assert hostile.inner_text() == HOSTILE_RULE and page.locator("main img").count() == 0
    evil = f"https://github.com/falcosecurity/rules/blob/{LATEST_BASE}/rules/evil_rules.yaml#L2"
    assert hostile.get_attribute("href") == evil
    assert execution.locator(".frb-count").inner_text() == str(execution.locator("li.frb-cell").count())
    coverage = page.locator(".frb-coverage").inner_text()
    assert "14" in coverage and "15" in coverage, coverage  # Resource Development has no rule
    assert "Resource Development" in page.locator(".frb-uncovered-list").inner_text()
    w.shot("matrix")
    w.clean()
    w.close()


def test_unknown_things_get_the_404_page(server: tuple[Running, dict[str, int]], browser: Browser) -> None:
    running, ids = server
    w = Watch(browser)
    w.sign_in(running.url)
    for path in ("/reviews/999", "/reviews/abc", "/repos/nobody/nothing/matrix", "/?page=99"):
        response = w.page.goto(running.url + path)
        assert response is not None and response.status == 404, path
        assert w.page.locator("h1").inner_text() == "Not found"
    response = w.page.goto(f"{running.url}/repos/falcosecurity/rules/matrix")
    assert response is not None and response.status == 200
    assert ids["old"] == 1  # the oldest review has no matrix: the page uses the newest that has one
    w.close()


@pytest.mark.parametrize("name,path", [("overview", "/"), ("review", "/reviews/2"),
                                       ("matrix", "/repos/falcosecurity/rules/matrix")])  # fmt: skip
def test_a_390_pixel_phone_screen_needs_no_sideways_scrolling(server: tuple[Running, dict[str, int]], browser: Browser,
                                                              name: str, path: str) -> None:  # fmt: skip
    running, _ids = server
    w = Watch(browser, width=390, height=844)
    w.sign_in(running.url)
    response = w.page.goto(running.url + path)
    assert response is not None and response.status == 200
    sizes: dict[str, Any] = w.page.evaluate(
        "() => ({page: document.documentElement.scrollWidth, view: window.innerWidth,"
        " body: document.body.scrollWidth})")  # fmt: skip
    assert sizes["view"] == 390
    assert sizes["page"] <= sizes["view"] and sizes["body"] <= sizes["view"], sizes
    w.shot(f"{name}-390px")
    w.clean()
    w.close()
