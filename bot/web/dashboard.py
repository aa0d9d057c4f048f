"""The dashboard's pages, free of any web framework: installations and reviews, one review, a repository's matrix.

Each page is a Page (status, HTML, headers, cookies); bot.web only maps routes to Dashboard.serve. A person signed in
with GitHub sees only the repositories they can read: others' reviews, installations and matrices are left out, and
their pages answer 404 as if unknown. Every template is
autoescaped (`{% autoescape true %}`), so stored text (repository and rule names, messages) is shown inert.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from bot.jobs import html_base
from bot.matrix import Matrix
from bot.matrix_render import matrix_view
from bot.models import CheckResult, Finding, Report
from bot.render import TEMPLATES, phrases, render_html
from bot.settings import Settings
from bot.store import DashboardReads, Installation, Store, StoredReview, StoreError
from bot.web.auth import Gate
from bot.web.oauth import EVERYONE, Outcome, SignIn, Viewer

log = logging.getLogger("falco-rules-bot.dashboard")
_STYLESHEETS = ("dashboard.css", "matrix.css")
_SIGNIN_ROUTES = ("login", "callback", "logout")
_BATCH = 200  # stored reviews read at a time while leaving out those a signed-in person cannot read


@dataclass(frozen=True)
class Page:
    """An answer: status code, HTML, extra headers, and Set-Cookie values (several may be set at once)."""

    status: int
    html: str
    headers: dict[str, str] = field(default_factory=dict)
    cookies: tuple[str, ...] = ()


def say(key: str) -> Any:
    """A phrase of templates/dashboard.yml."""
    return phrases("dashboard.yml")[key]


def when(timestamp: float | None) -> str:
    """A stored time, in UTC, to the minute."""
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _stylesheet() -> str:
    parts = []
    for name in _STYLESHEETS:
        try:
            with open(os.path.join(TEMPLATES, name), encoding="utf-8") as handle:
                parts.append(handle.read().replace("</", "<\\/"))
        except FileNotFoundError:
            continue
    return "\n".join(parts)


def security_headers(css: str) -> dict[str, str]:
    """Headers of every dashboard page: no scripts at all, only our own inline style, never cached or framed."""
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    policy = (f"default-src 'none'; style-src 'sha256-{digest}'; img-src 'self' data:; base-uri 'none'; "
              "form-action 'self'; frame-ancestors 'none'")  # fmt: skip
    return {"content-security-policy": policy, "x-content-type-options": "nosniff", "x-frame-options": "DENY",
            "referrer-policy": "no-referrer", "cache-control": "no-store"}  # fmt: skip


def _finding(data: Mapping[str, Any]) -> Finding:
    line, column = data.get("line"), data.get("column")
    return Finding(severity=data.get("severity", "notice"), code=str(data.get("code", "")),
                   message=str(data.get("message", "")), hint=data.get("hint"), commit=data.get("commit"),
                   file=data.get("file"), line=line if isinstance(line, int) else None,
                   column=column if isinstance(column, int) else None)  # fmt: skip


def report_from_json(data: Mapping[str, Any]) -> Report:
    """A stored Report JSON back as a bot.models.Report (tolerant of older reports' missing keys)."""
    checks = tuple(
        CheckResult(id=str(c.get("id", "")), title=str(c.get("title", c.get("id", ""))),
                    status=c.get("status", "error"), summary=str(c.get("summary", "")),
                    findings=tuple(_finding(f) for f in c.get("findings") or () if isinstance(f, Mapping)))
        for c in data.get("checks") or () if isinstance(c, Mapping)
    )  # fmt: skip
    number = data.get("pull_request")
    return Report(repository=str(data.get("repository", "")), pull_request=number if isinstance(number, int) else None,
                  base_sha=str(data.get("base_sha", "")), head_sha=str(data.get("head_sha", "")), checks=checks,
                  rules_diff=data.get("rules_diff"), attack=data.get("attack"))  # fmt: skip


def matrix_of(review: StoredReview) -> Matrix | None:
    """The rule matrix stored with a review (report.attack.matrix), None when it has none or cannot be read."""
    attack = review.record.report.get("attack")
    data = attack.get("matrix") if isinstance(attack, Mapping) else None
    if not isinstance(data, Mapping):
        return None
    try:
        return Matrix.from_json(dict(data))
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("review %s: stored matrix unreadable (%s)", review.id, exc)
        return None


class Dashboard:
    """The dashboard of one process: its access gate, the store's reads, where GitHub's web pages are."""

    def __init__(self, settings: Settings, store: Store, signin: SignIn | None = None) -> None:
        self.gate = Gate(settings, signin)
        self.signin = self.gate.signin
        self.reads = DashboardReads(store)
        self.web = html_base(settings.github_api_url)
        self.page_size = max(1, settings.dashboard_page_size)
        self.css = _stylesheet()
        self.headers = security_headers(self.css)

    def serve(self, route: str, args: Mapping[str, str], headers: Mapping[str, str], query: Mapping[str, str],
              path: str, secure: bool = False) -> Page | None:  # fmt: skip
        """The answer to GET of a dashboard route (home, review, matrix; login, callback, logout); None when the
        dashboard (or, for the sign-in routes, the GitHub sign-in) is off: answer as an unknown route."""
        if route in _SIGNIN_ROUTES:
            return self.sign_in(route, headers, query, secure)
        decision = self.gate.decide(headers, query, path, secure)
        if decision.kind == "off":
            return None
        extra = dict(decision.headers)
        if decision.kind == "deny":
            return self.unauthorized(extra)
        if decision.kind == "signin":
            return Page(303, "", {**self.headers, **extra})
        viewer = decision.viewer
        try:
            if route == "home":
                return self.home(query.get("page", "1"), viewer)
            if route == "review":
                return self.review(args.get("review_id", ""), viewer)
            if route == "matrix":
                return self.matrix(args.get("owner", ""), args.get("repo", ""), viewer)
        except StoreError as exc:
            log.error("dashboard %s: store unavailable: %s", route, exc)
            return self._page(503, "dashboard_error.html.j2", kind="store_down", viewer=viewer)
        return self.not_found(viewer)

    def sign_in(self, route: str, headers: Mapping[str, str], query: Mapping[str, str], secure: bool) -> Page | None:
        """GET /login, /login/callback, /logout (bot.web.oauth decides); None when the GitHub sign-in is off."""
        if not self.gate.on or not self.signin.on:
            return None
        if route == "login":
            outcome = self.signin.login(headers, secure)
        elif route == "callback":
            outcome = self.signin.callback(headers, query, secure)
        else:
            outcome = self.signin.logout(secure)
        return self._outcome(outcome)

    def _outcome(self, outcome: Outcome) -> Page:
        cookies = tuple(v for k, v in outcome.headers if k == "set-cookie")
        extra = {k: v for k, v in outcome.headers if k != "set-cookie"}
        if outcome.kind == "redirect":
            return Page(303, "", {**self.headers, **extra}, cookies)
        if outcome.kind == "deny":
            page = self.unauthorized({"www-authenticate": self.gate.challenge()})
        elif outcome.kind == "too_many":
            page = self._page(403, "dashboard_error.html.j2", kind="too_many")
        else:
            page = self._page(502, "dashboard_error.html.j2", kind="signin_failed")
        return replace(page, cookies=cookies)

    def unauthorized(self, extra: Mapping[str, str]) -> Page:
        """The templated 401 page, with the "Sign in with GitHub" link when that sign-in is on."""
        return self._page(401, "dashboard_error.html.j2", extra, kind="unauthorized", signin=self.signin.on)

    def not_found(self, viewer: Viewer = EVERYONE) -> Page:
        """The templated 404 page (for a signed-in person)."""
        return self._page(404, "dashboard_error.html.j2", kind="not_found", viewer=viewer)

    def home(self, page_text: str, viewer: Viewer = EVERYONE) -> Page:
        """GET /: installations, repositories, recent reviews (newest first, a page at a time), of the repositories
        the viewer may read."""
        page = int(page_text) if page_text.isdigit() and 0 < int(page_text) < 1_000_000 else 1
        reviewed = {repo: (count, last) for repo, count, last in self.reads.reviewed_repositories()
                    if viewer.can_read(repo)}  # fmt: skip
        everything = viewer.repositories is None
        total = self.reads.review_count() if everything else sum(count for count, _last in reviewed.values())
        pages = max(1, -(-total // self.page_size))
        if page > pages:
            return self.not_found(viewer)
        offset = (page - 1) * self.page_size
        if everything:
            recent = self.reads.recent_reviews(self.page_size, offset)
        else:
            recent = self._readable_reviews(viewer, self.page_size, offset)
        installs = self._readable_installations(self.reads.installations(), viewer)
        names = sorted({r for i in installs for r in i.repositories} | set(reviewed), key=str.lower)
        repositories = [{"name": n, "url": self.repo_url(n), "matrix": self.matrix_path(n),
                         "reviews": reviewed.get(n, (0, None))[0], "last": when(reviewed.get(n, (0, None))[1])}
                        for n in names]  # fmt: skip
        rows = [self._summary(r) for r in recent]
        return self._page(200, "dashboard_home.html.j2", installations=installs, repositories=repositories,
                          reviews=rows, page=page, pages=pages, total=total, viewer=viewer)  # fmt: skip

    def _readable_reviews(self, viewer: Viewer, limit: int, offset: int) -> list[StoredReview]:
        """The newest stored reviews of repositories the viewer may read, `limit` of them after skipping `offset`."""
        found: list[StoredReview] = []
        skipped, start = 0, 0
        while len(found) < limit:
            batch = self.reads.recent_reviews(_BATCH, start)
            for stored in batch:
                if not viewer.can_read(stored.record.repo):
                    continue
                if skipped < offset:
                    skipped += 1
                elif len(found) < limit:
                    found.append(stored)
            if len(batch) < _BATCH:
                break
            start += _BATCH
        return found

    @staticmethod
    def _readable_installations(installs: list[Installation], viewer: Viewer) -> list[Installation]:
        """The installations with a repository the viewer may read, listing only those repositories."""
        if viewer.repositories is None:
            return installs
        kept = [replace(i, repositories=tuple(r for r in i.repositories if viewer.can_read(r))) for i in installs]
        return [i for i in kept if i.repositories]

    def review(self, review_text: str, viewer: Viewer = EVERYONE) -> Page:
        """GET /reviews/{id}: one review as its pull request comment shows it (404 when the viewer may not read its
        repository, as if unknown)."""
        if not review_text.isdigit() or len(review_text) > 18:
            return self.not_found(viewer)
        stored = self.reads.review(int(review_text))
        if stored is None or not viewer.can_read(stored.record.repo):
            return self.not_found(viewer)
        report = report_from_json(stored.record.report)
        repo = stored.record.repo
        head = report.head_sha or stored.record.head_sha
        return self._page(200, "dashboard_review.html.j2", review=self._summary(stored), report=report,
                          link_base=f"{self.repo_url(repo)}/blob/{quote(head)}", attack_text=phrases("matrix.yml"),
                          has_matrix=matrix_of(stored) is not None, viewer=viewer)  # fmt: skip

    def matrix(self, owner: str, repo: str, viewer: Viewer = EVERYONE) -> Page:
        """GET /repos/{owner}/{repo}/matrix: the matrix of the rules at the default branch, as the repository's last
        review that carries one found them (its base); 404 when the viewer may not read the repository."""
        name = f"{owner}/{repo}"
        if not viewer.can_read(name):
            return self.not_found(viewer)
        for stored in self.reads.latest_reviews_of(name):
            grid = matrix_of(stored)
            if grid is None:
                continue
            full = stored.record.repo
            base = str(stored.record.report.get("base_sha") or stored.record.base_sha)
            link_base = f"{self.repo_url(full)}/blob/{quote(base)}"
            return self._page(200, "dashboard_matrix.html.j2", matrix=grid, link_base=link_base, repo=full,
                              matrix_view=matrix_view(grid, link_base), review=self._summary(stored),
                              base_short=base[:12], tree_url=f"{self.repo_url(full)}/tree/{quote(base)}",
                              viewer=viewer)  # fmt: skip
        return self.not_found(viewer)

    # -- helpers ----------------------------------------------------------------------------------
    def repo_url(self, repo: str) -> str:
        """The repository's page on GitHub."""
        return f"{self.web}/{quote(repo)}"

    @staticmethod
    def matrix_path(repo: str) -> str:
        """The dashboard path of a repository's matrix."""
        owner, _, name = repo.partition("/")
        return f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}/matrix"

    def _summary(self, stored: StoredReview) -> dict[str, Any]:
        r = stored.record
        return {"id": stored.id, "path": f"/reviews/{stored.id}", "repo": r.repo, "repo_url": self.repo_url(r.repo),
                "number": r.number, "pr_url": f"{self.repo_url(r.repo)}/pull/{r.number}", "conclusion": r.conclusion,
                "head": r.head_sha, "short": r.head_sha[:12], "when": when(stored.created_at),
                "matrix": self.matrix_path(r.repo)}  # fmt: skip

    def _page(self, status: int, template: str, extra: Mapping[str, str] | None = None, **context: Any) -> Page:
        context = {"viewer": EVERYONE, "signin": False, **context}
        html = render_html(template, css=self.css, say=phrases("dashboard.yml"), **context)
        return Page(status, html, {**self.headers, **(extra or {})})
