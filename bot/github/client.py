"""The GitHub gateway's network side: App auth, the two-round-trip fetch, publishing (the only PyGithub user).

Reads (GET, and the GraphQL POST, which reads) are retried by urllib3 on 429/5xx and rate limits with a
backoff that honours `Retry-After` / `x-ratelimit-reset` up to `max_wait` seconds. Writes are never retried
blindly: a 5xx or a lost connection after a POST may mean GitHub applied it, so the gateway first looks for
what the write would have left (the marked comment, the check run by `external_id`, the annotation count)
and only then tries again. A rate-limit answer (403/429) means nothing was applied, so writes wait and retry
like reads.
"""

from __future__ import annotations

import email.utils
import logging
import math
import os
import re
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, TypeVar

import requests
from github import Auth, Github, GithubException, GithubRetry
from github.GithubException import RateLimitExceededExceedsMaxWait
from github.Requester import Requester
from urllib3 import Retry
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.util.util import reraise

from bot import metrics
from bot.checkrun import CheckRunOutput
from bot.github import (
    CHECK_NAME,
    POLICY_PATH,
    CommentData,
    GitHubError,
    OAuthUser,
    Published,
    PullRequestData,
    ReviewInputs,
    convert,
    queries,
)
from bot.gitrepo import GitError, Mirror
from bot.gpg import verify_signature
from bot.models import Commit
from bot.policy import Policy

log = logging.getLogger(__name__)

T = TypeVar("T")
RETRY_STATUSES = (429, 500, 502, 503, 504)
TOKEN_REFRESH = timedelta(seconds=60)  # a token is renewed this long before it expires
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\[bot\])?$")
_REF = re.compile(r"^(?!-)(?!.*\.\.)[A-Za-z0-9._/+-]+$")
PERMISSIONS = ("admin", "maintain", "write", "triage", "read", "none")


def _safe_retry(method: str | None, url: str | None) -> bool:
    """Requests urllib3 may repeat after an ambiguous failure: reads, GraphQL (queries; minimising is
    idempotent) and minting an installation token."""
    if (method or "GET").upper() in ("GET", "HEAD", "OPTIONS"):
        return True
    path = urllib.parse.urlsplit(url or "").path
    return path.endswith("/graphql") or path.endswith("/access_tokens")


class GatewayRetry(GithubRetry):
    """urllib3 retry policy: reads and rate limits retried with capped, header-honouring waits; writes not."""

    def __init__(
        self,
        *,
        max_wait: float = 60.0,
        secondary_rate_wait: float = 60.0,
        max_rate_limit_wait: float | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("status_forcelist", list(RETRY_STATUSES))
        kwargs.setdefault("allowed_methods", frozenset({"GET", "HEAD", "OPTIONS", "POST", "PATCH", "PUT", "DELETE"}))
        kwargs.setdefault("raise_on_status", False)
        kwargs.setdefault("backoff_max", max_wait)
        super().__init__(
            secondary_rate_wait=secondary_rate_wait,
            max_rate_limit_wait=max_wait if max_rate_limit_wait is None else max_rate_limit_wait,
            **kwargs,
        )
        self.max_wait = max_wait

    def new(self, **kw: Any) -> GatewayRetry:
        kw["max_wait"] = self.max_wait
        out = super().new(**kw)
        assert isinstance(out, GatewayRetry)
        return out

    def increment(  # type: ignore[override]
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: TracebackType | None = None,
    ) -> Retry:
        if response is not None and response.status in (403, 429):
            return self._rate_limited(method, url, response, error, _pool, _stacktrace)
        if not _safe_retry(method, url):
            if response is not None:  # a 5xx on a write: maybe applied; the gateway decides
                raise MaxRetryError(_pool, url, ResponseError(f"{response.status} on {method}"))
            if error is not None and not self._is_connection_error(error):
                reraise(type(error), error, _stacktrace)
        return Retry.increment(self, method, url, response, error, _pool, _stacktrace)

    def _rate_limited(
        self, method: str | None, url: str | None, response: Any, error: Exception | None, pool: Any,
        stacktrace: TracebackType | None,
    ) -> Retry:  # fmt: skip
        headers = response.headers
        content: Any = {"message": "rate limited"}
        retry_after = headers.get("Retry-After")
        reset = str(headers.get("X-RateLimit-Reset") or "")
        wait: float
        if retry_after:
            wait = _retry_after_seconds(str(retry_after))
        elif str(headers.get("X-RateLimit-Remaining")) == "0" and reset.isdigit():
            wait = max(0.0, int(reset) - time.time()) + 1
        else:
            try:
                content = __import__("json").loads(self.get_content(response, url or ""))
            except Exception:
                content = {"message": str(response.reason)}
            message = str(content.get("message") or "") if isinstance(content, dict) else ""
            if response.status == 403 and not Requester.isRateLimitError(message):
                raise Requester.createException(response.status, dict(headers), content)
            wait = self.secondary_rate_wait
        if wait > self.max_wait:
            raise RateLimitExceededExceedsMaxWait(response.status, content, dict(headers), wait=wait)
        try:
            retry = Retry.increment(self, method, url, response, error, pool, stacktrace)
        except MaxRetryError:
            raise Requester.createException(response.status, dict(headers), content) from None
        retry.get_backoff_time = lambda: wait  # type: ignore[method-assign]
        return retry


def _retry_after_seconds(value: str) -> float:
    """A Retry-After header in seconds (delta-seconds or an HTTP date); unparsable: a minute."""
    if value.strip().isdigit():
        return float(value.strip())
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return 60.0


TOKEN_ROUTE = "/app/installations/{id}/access_tokens"


class _InstallationAuth(Auth.AppInstallationAuth):
    """PyGithub's installation auth with the token cache behind a lock, and a way to drop a refused token."""

    def __init__(self, app_auth: Auth.AppAuth, installation_id: int) -> None:
        self._token_lock = threading.Lock()
        self._authorization: Any = None
        self._renew_at = datetime.now(UTC)
        super().__init__(app_auth, installation_id)

    @property
    def token(self) -> str:
        with self._token_lock:
            auth = self._authorization
            if auth is None or datetime.now(UTC) >= self._renew_at:
                fetched = datetime.now(UTC)
                try:  # PyGithub asks for it on a connection of its own: counted here
                    auth = self._authorization = self._get_installation_authorization()
                except GithubException as exc:
                    metrics.github_call("POST", TOKEN_ROUTE, exc.status, dict(exc.headers or {}))
                    raise
                except Exception:
                    metrics.github_call("POST", TOKEN_ROUTE, None)
                    raise
                metrics.github_call("POST", TOKEN_ROUTE, 201)
                lifetime = auth.expires_at - fetched
                self._renew_at = auth.expires_at - min(TOKEN_REFRESH, lifetime / 4)
            return str(auth.token)

    def invalidate(self) -> None:
        with self._token_lock:
            self._authorization = None


def _watch(requester: Requester, seen: dict[str, Any]) -> None:
    """Have `requester` note the status and headers of each answer in `seen`: PyGithub hands every response to its
    DEBUG_ON_RESPONSE hook (which does its own work too: kept)."""
    original = requester.DEBUG_ON_RESPONSE

    def on_response(status: int, headers: dict[str, Any], data: str) -> None:
        seen["status"], seen["headers"] = status, headers
        original(status, headers, data)

    requester.DEBUG_ON_RESPONSE = on_response  # type: ignore[method-assign,assignment]


def key_problem(private_key: str) -> str | None:
    """Why this private key cannot sign the App's JWT (an RSA key in PEM, RS256), or None when it can."""
    try:
        Auth.AppAuth(1, private_key).create_jwt()
    except Exception as exc:  # PyJWT and cryptography say why in their own words (never the key's content)
        return (str(exc).splitlines() or [type(exc).__name__])[0][:300] or type(exc).__name__
    return None


def _message(exc: GithubException) -> str:
    data = exc.data
    if isinstance(data, dict):
        text = data.get("message") or ""
        errors = data.get("errors")
        if errors:
            text = f"{text} {errors}".strip()
        return str(text) or str(exc.status)
    return str(data or exc.status)


def map_error(exc: BaseException, what: str) -> GitHubError:
    """Any PyGithub / requests / urllib3 failure as GitHubError (transient: trying later may succeed)."""
    if isinstance(exc, GitHubError):
        return exc
    if isinstance(exc, GithubException):
        status = int(exc.status) if isinstance(exc.status, int) else None
        limited = (
            isinstance(exc, RateLimitExceededExceedsMaxWait)
            or status == 429
            or (status == 403 and Requester.isRateLimitError(_message(exc)))
        )
        transient = limited or (status is not None and status >= 500)
        return GitHubError(f"{what}: {status} {_message(exc)}", status, transient)
    if isinstance(exc, (requests.RequestException, MaxRetryError, OSError)):
        return GitHubError(f"{what}: {type(exc).__name__}: {exc}", None, True)
    return GitHubError(f"{what}: {type(exc).__name__}: {exc}", None, False)


def _ambiguous(err: GitHubError) -> bool:
    """A write that may or may not have been applied (server error, lost connection, timeout)."""
    return (err.status is None and err.transient) or (err.status is not None and err.status >= 500)


def _repo(repo: str) -> str:
    if not _REPO.match(repo) or any(p in (".", "..") for p in repo.split("/")):
        raise GitHubError(f"not a repository name: {repo!r}")
    return repo


def _login(login: str) -> str:
    if not _LOGIN.match(login):
        raise GitHubError(f"not a GitHub login: {login!r}")
    return login


class GitHubApp:
    """A GitHub App: its JWT, its installations' clients (one per installation, shared by all threads)."""

    def __init__(
        self,
        app_id: int,
        private_key: str,
        api_url: str = "https://api.github.com",
        app_slug: str | None = None,
        git_url: str | None = None,
        allowed_git_urls: tuple[str, ...] | list[str] = (),
        mirror_dir: str | None = None,
        timeout: float = 15.0,
        retry_total: int = 6,
        per_page: int = 100,
        *,
        max_wait: float = 60.0,
        secondary_rate_wait: float = 60.0,
        backoff_factor: float = 0.5,
        read_pacing: float = 0.0,
        write_pacing: float = 1.0,
        write_attempts: int = 3,
        user_agent: str = "falco-rules-bot",
        jwt_expiry: int = 540,
    ) -> None:
        self.app_id = int(app_id)
        self.api_url = api_url.rstrip("/")
        parts = urllib.parse.urlsplit(self.api_url)
        if git_url is None:
            host = "github.com" if parts.netloc == "api.github.com" else parts.netloc
            git_url = f"{parts.scheme}://{host}"
        self.git_url = git_url.rstrip("/")
        self.allowed_git_urls = tuple(allowed_git_urls)
        self.mirror_dir = mirror_dir or os.path.join(tempfile.gettempdir(), "falco-rules-bot-mirrors")
        self.timeout = max(1, math.ceil(timeout))
        self.per_page = per_page
        self.read_pacing = read_pacing
        self.write_pacing = write_pacing
        self.write_attempts = max(1, write_attempts)
        self.max_wait = max_wait
        self.backoff_factor = backoff_factor
        self.user_agent = user_agent
        self.retry = GatewayRetry(total=retry_total, backoff_factor=backoff_factor, max_wait=max_wait,
                                  secondary_rate_wait=secondary_rate_wait)  # fmt: skip
        self.auth = Auth.AppAuth(self.app_id, private_key, jwt_expiry=jwt_expiry, jwt_issued_at=-60)
        self._slug = app_slug
        self._lock = threading.Lock()
        self._clients: dict[int, InstallationClient] = {}

    def _github(self, auth: Auth.Auth) -> Github:
        return Github(auth=auth, base_url=self.api_url, timeout=self.timeout, per_page=self.per_page,
                      retry=self.retry, seconds_between_requests=self.read_pacing or None,
                      seconds_between_writes=None, lazy=True, user_agent=self.user_agent)  # fmt: skip

    def slug(self) -> str:
        """The App's slug (configured, or `GET /app` with the JWT once)."""
        with self._lock:
            if self._slug is None:
                self._slug = str(self.app_info()["slug"])
            return self._slug

    def app_info(self) -> dict[str, Any]:
        """`GET /app` with the App's JWT: the App as GitHub knows it (`doctor` checks the credentials with it)."""
        requester = self._github(self.auth).requester
        seen: dict[str, Any] = {}
        _watch(requester, seen)
        try:
            _, data = requester.requestJsonAndCheck("GET", "/app")
        except Exception as exc:
            raise map_error(exc, "GET /app") from exc
        finally:
            metrics.github_call("GET", "/app", seen.get("status"), seen.get("headers"))
        if not isinstance(data, dict) or "slug" not in data:
            raise GitHubError("GET /app: unexpected answer", 200)
        return data

    def route(self, url: str) -> str:
        """A request's URL as a route template for the metrics (`/repos/{owner}/{repo}/check-runs`)."""
        path = urllib.parse.urlsplit(url).path
        if path.endswith("/graphql"):
            return "/graphql"
        prefix = urllib.parse.urlsplit(self.api_url).path.rstrip("/")
        if prefix and path.startswith(prefix + "/"):
            path = path[len(prefix) :]
        return metrics.route_of(path)

    def known_slug(self) -> str | None:
        """The slug when configured or already fetched (GraphQL's viewerDidAuthor needs no slug)."""
        return self._slug

    def client(self, installation_id: int) -> InstallationClient:
        """The client of one installation (created once; its token cache is shared by every caller)."""
        with self._lock:
            found = self._clients.get(int(installation_id))
            if found is None:
                found = self._clients[int(installation_id)] = InstallationClient(self, int(installation_id))
            return found


class InstallationClient:
    """Calls made as one installation of the App. Thread-safe: HTTP calls are serialised per installation."""

    def __init__(self, app: GitHubApp, installation_id: int) -> None:
        self.app = app
        self.installation_id = installation_id
        self._auth = _InstallationAuth(app.auth, installation_id)
        self._gh = app._github(self._auth)
        self._requester = self._gh.requester
        self._lock = threading.RLock()
        self._last_write = 0.0
        self._seen: dict[str, Any] = {}  # the status and headers of the last answer (metrics)
        _watch(self._requester, self._seen)

    # ------------------------------------------------------------ plumbing

    def _request(self, verb: str, url: str, what: str, **kwargs: Any) -> Any:
        """One REST or GraphQL request; a refused token is dropped and the request tried once more."""
        with self._lock:
            if verb != "GET" and not url.endswith("/graphql"):
                wait = self._last_write + self.app.write_pacing - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            for attempt in (1, 2):
                self._seen.clear()
                try:
                    _, data = self._requester.requestJsonAndCheck(verb, url, **kwargs)
                    return data
                except GithubException as exc:
                    if exc.status == 401 and attempt == 1:
                        self._auth.invalidate()
                        continue
                    raise map_error(exc, what) from exc
                except Exception as exc:
                    raise map_error(exc, what) from exc
                finally:
                    metrics.github_call(verb, self.app.route(url), self._seen.get("status"), self._seen.get("headers"))
                    if verb != "GET" and not url.endswith("/graphql"):
                        self._last_write = time.monotonic()
            raise GitHubError(f"{what}: unreachable")  # pragma: no cover

    def graphql(self, query: str, variables: dict[str, Any], missing_ok: tuple[str, ...] = ()) -> dict[str, Any]:
        """A GraphQL document's `data`; NOT_FOUND errors under an alias in `missing_ok` are expected (null).

        GitHub answers a query that timed out on its side with 200 and an error without a type ("Something went
        wrong while executing your query"): such answers are tried again, like a 502 (the documents are reads,
        or the idempotent minimise mutation).
        """
        for attempt in range(1, self.app.write_attempts + 1):
            try:
                return self._graphql_once(query, variables, missing_ok)
            except GitHubError as err:
                if not (err.transient and err.status == 200) or attempt == self.app.write_attempts:
                    raise
                log.warning("GraphQL answer without data (%s), attempt %d", err, attempt)
                time.sleep(min(self.app.max_wait, self.app.backoff_factor * 2 ** (attempt - 1)))
        raise GitHubError("GraphQL: no attempt made")  # pragma: no cover

    def _graphql_once(self, query: str, variables: dict[str, Any], missing_ok: tuple[str, ...]) -> dict[str, Any]:
        body = {"query": query, "variables": variables}
        answer = self._request("POST", self._requester.graphql_url, "GraphQL", input=body)
        if not isinstance(answer, dict):
            raise GitHubError("GraphQL: not a JSON object", 200, True)
        errors = [e for e in (answer.get("errors") or []) if isinstance(e, dict)]
        data = answer.get("data")
        unexpected = [e for e in errors
                      if not (e.get("type") == "NOT_FOUND" and (e.get("path") or [None])[0] in missing_ok)]  # fmt: skip
        if unexpected or not isinstance(data, dict):
            first = unexpected[0] if unexpected else (errors[0] if errors else {})
            kind = str(first.get("type") or "")
            message = "; ".join(str(e.get("message")) for e in (unexpected or errors)) or "no data"
            if kind == "NOT_FOUND":
                raise GitHubError(f"GraphQL: {message}", 404)
            if kind == "RATE_LIMITED":  # the hourly points are spent: the queue waits, not the worker
                raise GitHubError(f"GraphQL: {message}", 403, True)
            invalid = isinstance(first.get("extensions"), dict) and first["extensions"].get("code")
            if (not kind and not invalid) or kind in ("SERVICE_UNAVAILABLE", "TIMEOUT", "INTERNAL"):
                raise GitHubError(f"GraphQL: {message}", 200, True)
            raise GitHubError(f"GraphQL: {message}")
        return data

    def _write(self, do: Callable[[], T], refind: Callable[[], T | None] | None = None) -> T:
        """A write tried up to `write_attempts` times; after an ambiguous failure `refind` may show it applied."""
        for attempt in range(1, self.app.write_attempts + 1):
            try:
                return do()
            except GitHubError as err:
                if not _ambiguous(err) or attempt == self.app.write_attempts:
                    raise
                log.warning("write failed (%s), attempt %d", err, attempt)
                time.sleep(min(self.app.max_wait, self.app.backoff_factor * 2 ** (attempt - 1)))
                if refind is not None:
                    try:
                        found = refind()
                    except GitHubError as again:  # cannot tell whether it was applied: never risk a duplicate
                        raise err from again
                    if found is not None:
                        return found
        raise GitHubError("write: no attempt made")  # pragma: no cover

    def token(self) -> str:
        """The installation token (cached; renewed shortly before it expires)."""
        with self._lock:
            try:
                return self._auth.token
            except Exception as exc:
                raise map_error(exc, "installation token") from exc

    # ------------------------------------------------------------ round trip 1

    def pull_request(self, repo: str, number: int) -> PullRequestData:
        """The pull request, its commits, files, closing issues, head checks and tree, and the policy file."""
        owner, name = _repo(repo).split("/")
        variables = {"owner": owner, "name": name, "number": int(number), "policyPath": f"HEAD:{POLICY_PATH}"}
        data = self.graphql(queries.PULL_REQUEST, variables)
        if not isinstance((data.get("repository") or {}).get("pullRequest"), dict):
            raise GitHubError(f"{repo}#{number}: no such pull request", 404)
        for connection, document in (("commits", queries.MORE_COMMITS), ("files", queries.MORE_FILES)):
            cursor = convert.next_page(data, connection)
            while cursor is not None:
                page = self.graphql(document, {"owner": owner, "name": name, "number": int(number), "after": cursor})
                convert.merge_page(data, connection, page)
                cursor = convert.next_page(data, connection)
        return convert.pull_request_data(repo, int(number), data)

    # ------------------------------------------------------------ round trip 2

    def review_inputs(self, pull: PullRequestData, policy: Policy) -> ReviewInputs:
        """Texts of the rules files, referenced issues, authors' GPG verdicts, the bot's comment and run."""
        patterns = list(policy.get("rules_files.patterns"))
        plan = convert.plan_texts(pull, patterns)
        mirror: Mirror | None = None
        if plan.git_reasons:  # GraphQL cannot list everything: the git mirror supplies files and texts
            mirror = self._mirror(pull)
            try:
                files = mirror.changed(plan.base_sha, pull.head_sha) if "files" in plan.git_reasons else None
                tree = mirror.files(pull.head_sha) if "tree" in plan.git_reasons else None
            except GitError as exc:
                raise GitHubError(f"git mirror of {pull.repo}: {exc}", None, True) from exc
            plan = convert.plan_texts(pull, patterns, changed=files, tree_files=tree)
        owner, name = pull.repo.split("/")
        blobs = {} if mirror is not None else plan.blobs
        variables = {"owner": owner, "name": name, "number": pull.number}
        answer = self.graphql(queries.texts_query(blobs, plan.issues), variables, missing_ok=tuple(plan.issues))
        texts = convert.blob_texts(answer, plan) if mirror is None else None
        if texts is not None and texts.unserved:
            mirror = self._mirror(pull)
        text_map: dict[tuple[str, str], str | None]
        if mirror is not None:
            text_map = {key: mirror.text(plan.head_sha if key[0] == "head" else plan.base_sha, key[1])
                        for key in plan.wanted.values()}  # fmt: skip
        else:
            assert texts is not None
            text_map = texts.texts
        commits = self._verified_commits(pull)
        comments = convert.comments_of(answer, self.app.known_slug())
        run = convert.own_check_run(pull.raw, self.app.app_id)
        sentence = str(policy.get("checks.agreement.comment_sentence") or "")
        snapshot = convert.build_snapshot(
            pull, plan, text_map, commits, convert.issue_facts(answer, plan),
            convert.head_statuses(pull.raw, self.app.app_id), convert.agreement_signers(comments, sentence),
        )  # fmt: skip
        head = ((answer.get("repository") or {}).get("pullRequest") or {}).get("headRefOid")
        return ReviewInputs(
            snapshot=snapshot,
            head_current=head == pull.head_sha,
            comment=convert.own_comment(comments),
            legacy_comments=convert.legacy_comments(comments, convert.minimized_ids(answer)),
            check_run_id=run[0] if run else None,
            comments=comments,
            used_git=mirror is not None,
            check_run_status=run[1] if run else None,
        )

    def _mirror(self, pull: PullRequestData) -> Mirror:
        """The repository's bare mirror with the pull request's head and base fetched."""
        if not _REF.match(pull.base_ref):
            raise GitHubError(f"unusual base branch name {pull.base_ref!r}")
        try:
            mirror = Mirror(self.app.mirror_dir, pull.repo, self.app.git_url, self.app.allowed_git_urls)
        except GitError as exc:  # a configuration that will not work later either
            raise GitHubError(f"git mirror of {pull.repo}: {exc}") from exc
        try:
            token = self.token()
            with mirror.lock:
                mirror.fetch(token, [f"+refs/pull/{pull.number}/head:refs/pull/{pull.number}/head",
                                     f"+refs/heads/{pull.base_ref}:refs/heads/{pull.base_ref}"])  # fmt: skip
        except GitError as exc:
            raise GitHubError(f"git mirror of {pull.repo}: {exc}", None, True) from exc
        return mirror

    def _verified_commits(self, pull: PullRequestData) -> tuple[Commit, ...]:
        """Commits with each GPG signature verified against its author's / committer's GitHub keys."""
        commits = convert.commits_of(pull.raw)
        github_signed = convert.signed_by_github(pull.raw)
        keys: dict[str, list[str]] = {}
        for login in convert.gpg_key_logins(commits, github_signed):
            keys[login.lower()] = self.gpg_keys(login)
        out: list[Commit] = []
        for c in commits:
            sig = c.signature
            if sig.kind == "gpg" and sig.signature_armor and sig.signed_payload and c.sha not in github_signed:
                candidates = [
                    k for who in (c.author, c.committer) if who.login for k in keys.get(who.login.lower(), [])
                ]
                if candidates:
                    c = convert.with_local(c, verify_signature(sig.signature_armor, sig.signed_payload,
                                                               public_keys=candidates))  # fmt: skip
            out.append(c)
        return tuple(out)

    def gpg_keys(self, login: str) -> list[str]:
        """A user's armored public GPG keys (none when the user is unknown)."""
        try:
            answer = self._request("GET", f"/users/{_login(login)}/gpg_keys", f"GET gpg_keys of {login}",
                                   parameters={"per_page": "100"})  # fmt: skip
        except GitHubError as err:
            if err.status == 404:
                return []
            raise
        return convert.armored_keys(answer)

    # ------------------------------------------------------------ publishing

    def publish(self, pull: PullRequestData, inputs: ReviewInputs, comment_body: str, check_output: CheckRunOutput,
                external_id: str) -> Published:  # fmt: skip
        """Upsert the marked comment, write the check run (annotations in batches of 50), minimise legacy comments."""
        comment_id, created = self._upsert_comment(pull, inputs.comment, comment_body)
        reuse = inputs.check_run_id if inputs.check_run_status not in ("completed",) else None
        run_id = self.publish_check_run(pull.repo, pull.head_sha, check_output, external_id, reuse)
        for old in inputs.legacy_comments:
            if old.id == comment_id:
                continue
            try:
                self.minimize(old.node_id)
            except GitHubError as err:  # a comment left visible is not worth failing the review for
                log.warning("could not minimise comment %s: %s", old.id, err)
        return Published(comment_id, run_id, created)

    def _upsert_comment(self, pull: PullRequestData, existing: CommentData | None, body: str) -> tuple[int, bool]:
        repo = _repo(pull.repo)
        if existing is not None:
            if existing.body == body:
                return existing.id, False
            try:
                self._write(lambda: self._patch_comment(repo, existing.id, body))
                return existing.id, False
            except GitHubError as err:
                if err.status != 404:  # deleted meanwhile: post a new one
                    raise

        def create() -> tuple[int, bool]:
            data = self._request("POST", f"/repos/{repo}/issues/{pull.number}/comments", "POST comment",
                                 input={"body": body})  # fmt: skip
            return int(data["id"]), True

        def refind() -> tuple[int, bool] | None:
            found = self.find_comment(pull)
            if found is None:
                return None
            if found.body != body:
                self._patch_comment(repo, found.id, body)
            return found.id, False

        return self._write(create, refind)

    def _patch_comment(self, repo: str, comment_id: int, body: str) -> None:
        self._request("PATCH", f"/repos/{repo}/issues/comments/{int(comment_id)}", "PATCH comment",
                      input={"body": body})  # fmt: skip

    def find_comment(self, pull: PullRequestData) -> CommentData | None:
        """This App's marked comment on the pull request now (one GraphQL call)."""
        owner, name = _repo(pull.repo).split("/")
        answer = self.graphql(queries.texts_query({}, {}), {"owner": owner, "name": name, "number": pull.number})
        return convert.own_comment(convert.comments_of(answer, self.app.known_slug()))

    def find_check_run(self, repo: str, head_sha: str, external_id: str) -> int | None:
        """This App's `falco-rules-bot` run on `head_sha` carrying `external_id`, if any."""
        found = [
            int(r["id"])
            for r in self._runs(repo, head_sha)
            if r.get("external_id") == external_id and (r.get("app") or {}).get("id") == self.app.app_id
        ]
        return max(found) if found else None

    def _runs(self, repo: str, head_sha: str) -> list[dict[str, Any]]:
        """Every `falco-rules-bot` run of any App on `head_sha` (one page of 100, newest first)."""
        data = self._request("GET", f"/repos/{_repo(repo)}/commits/{head_sha}/check-runs", "GET check runs",
                             parameters={"check_name": CHECK_NAME, "filter": "all", "per_page": "100"})  # fmt: skip
        runs = (data or {}).get("check_runs") if isinstance(data, dict) else None
        return [r for r in runs or [] if isinstance(r, dict)]

    def _annotation_count(self, repo: str, head_sha: str, run_id: int) -> int | None:
        for run in self._runs(repo, head_sha):
            if run.get("id") == run_id:
                count = (run.get("output") or {}).get("annotations_count")
                return count if isinstance(count, int) else None
        return None

    def publish_check_run(self, repo: str, head_sha: str, output: CheckRunOutput, external_id: str,
                          run_id: int | None) -> int:  # fmt: skip
        """The check run alone (no comment): PATCH `run_id`, else create it; every annotation batch sent."""
        repo = _repo(repo)
        batches = output.annotation_batches or [[]]
        first = {"status": "completed", "conclusion": output.conclusion, "external_id": external_id,
                 "completed_at": _now(),
                 "output": {"title": output.title, "summary": output.summary, "annotations": batches[0]}}  # fmt: skip
        known = 0  # annotations the run is known to have before our batches
        if run_id is not None:
            existing = run_id
            self._write(lambda: self._request("PATCH", f"/repos/{repo}/check-runs/{existing}", "PATCH check run",
                                              input=first))  # fmt: skip
            known = -1  # unknown: earlier annotations may exist
        else:

            def create() -> int:
                data = self._request("POST", f"/repos/{repo}/check-runs", "POST check run",
                                     input={"name": CHECK_NAME, "head_sha": head_sha, **first})  # fmt: skip
                return int(data["id"])

            run_id = self._write(create, lambda: self.find_check_run(repo, head_sha, external_id))
        sent = len(batches[0])
        for batch in batches[1:]:
            sent += len(batch)
            self._annotate(repo, head_sha, run_id, output, batch, sent if known == 0 else None)
        return run_id

    def _annotate(self, repo: str, head_sha: str, run_id: int, output: CheckRunOutput, batch: list[dict[str, Any]],
                  total: int | None) -> None:  # fmt: skip
        body = {"output": {"title": output.title, "summary": output.summary, "annotations": batch}}

        def refind() -> bool | None:
            if total is None:
                return None
            count = self._annotation_count(repo, head_sha, run_id)
            return True if count is not None and count >= total else None

        self._write(lambda: bool(self._request("PATCH", f"/repos/{repo}/check-runs/{run_id}", "PATCH check run",
                                               input=body)) or True, refind)  # fmt: skip

    def publish_failure(self, repo: str, head_sha: str, title: str, summary: str, external_id: str,
                        check_run_id: int | None = None) -> int:  # fmt: skip
        """A completed `failure` run saying the review could not finish."""
        output = CheckRunOutput("failure", title, summary, [])
        return self.publish_check_run(repo, head_sha, output, external_id, check_run_id)

    def collaborator_permission(self, repo: str, login: str) -> str:
        """admin | maintain | write | triage | read | none (a user GitHub does not know: none)."""
        try:
            data = self._request("GET", f"/repos/{_repo(repo)}/collaborators/{_login(login)}/permission",
                                 "GET permission")  # fmt: skip
        except GitHubError as err:
            if err.status == 404:
                return "none"
            raise
        role = str((data or {}).get("role_name") or "").lower()
        if role in PERMISSIONS:
            return role
        permission = str((data or {}).get("permission") or "none").lower()
        return permission if permission in PERMISSIONS else "none"

    def react(self, repo: str, comment_id: int, content: str) -> None:
        """A reaction on an issue comment (GitHub answers the existing one when repeated, so retrying is safe)."""
        url = f"/repos/{_repo(repo)}/issues/comments/{int(comment_id)}/reactions"
        self._write(lambda: self._request("POST", url, "POST reaction", input={"content": content}))

    def reply(self, repo: str, number: int, body: str) -> int:
        """A new comment on the pull request (command replies)."""
        data = self._request("POST", f"/repos/{_repo(repo)}/issues/{int(number)}/comments", "POST comment",
                             input={"body": body})  # fmt: skip
        return int(data["id"])

    def minimize(self, node_id: str) -> None:
        """Hide a comment as outdated."""
        self.graphql(queries.MINIMIZE, {"id": node_id})


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# -- the App's OAuth web flow (dashboard sign-in): a user-to-server token, and what its user may read ------------
_OAUTH_PAGES = 50  # at most 50 pages (of installations, or of the repositories of one installation)
_OAUTH_PER_PAGE = 100


def exchange_oauth_code(web_url: str, client_id: str, client_secret: str, code: str, redirect_uri: str,
                        timeout: float = 15.0) -> str:  # fmt: skip
    """The user-to-server token GitHub gives for an authorization `code` (POST {web}/login/oauth/access_token)."""
    try:
        response = requests.post(f"{web_url.rstrip('/')}/login/oauth/access_token", timeout=timeout,
                                 headers={"Accept": "application/json", "User-Agent": "falco-rules-bot"},
                                 data={"client_id": client_id, "client_secret": client_secret, "code": code,
                                       "redirect_uri": redirect_uri})  # fmt: skip
    except requests.RequestException as exc:
        raise GitHubError(f"OAuth code exchange: {type(exc).__name__}", transient=True) from None
    if response.status_code != 200:
        raise GitHubError(f"OAuth code exchange: HTTP {response.status_code}", response.status_code,
                          response.status_code >= 500)  # fmt: skip
    try:
        data = response.json()
    except ValueError:
        raise GitHubError("OAuth code exchange: the answer is not JSON", response.status_code) from None
    token = data.get("access_token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token:
        error = data.get("error") if isinstance(data, dict) else None
        raise GitHubError(f"OAuth code exchange refused: {error or 'no access_token'}", 401)
    return token


def user_repositories(api_url: str, token: str, timeout: float = 15.0) -> OAuthUser:
    """The token's user (GET /user) and the repositories they can read in the App's installations
    (GET /user/installations, GET /user/installations/{id}/repositories, every page)."""
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
                            "X-GitHub-Api-Version": "2022-11-28", "User-Agent": "falco-rules-bot"})  # fmt: skip
    base = api_url.rstrip("/")
    try:
        login = str(_oauth_get(session, f"{base}/user", timeout)[0]["login"])
        names: list[str] = []
        for installation in _oauth_pages(session, f"{base}/user/installations", "installations", timeout):
            url = f"{base}/user/installations/{int(installation['id'])}/repositories"
            names += [str(r["full_name"]) for r in _oauth_pages(session, url, "repositories", timeout)]
    except (KeyError, TypeError, ValueError) as exc:
        raise GitHubError(f"OAuth user repositories: unexpected answer ({exc})") from None
    finally:
        session.close()
    return OAuthUser(login, tuple(dict.fromkeys(names)))


def _oauth_get(session: requests.Session, url: str, timeout: float,
               params: dict[str, Any] | None = None) -> tuple[Any, str | None]:  # fmt: skip
    """The JSON of a GET, and the next page's URL (Link rel=next)."""
    try:
        response = session.get(url, params=params, timeout=timeout)
    except requests.RequestException as exc:
        raise GitHubError(f"GET {url}: {type(exc).__name__}", transient=True) from None
    if response.status_code != 200:
        status = response.status_code
        raise GitHubError(f"GET {url}: HTTP {status}", status, status >= 500 or status == 429)
    following = response.links.get("next", {}).get("url")
    return response.json(), following


def _oauth_pages(session: requests.Session, url: str, key: str, timeout: float) -> list[dict[str, Any]]:
    """Every item under `key` of a paginated listing."""
    items: list[dict[str, Any]] = []
    data, following = _oauth_get(session, url, timeout, {"per_page": _OAUTH_PER_PAGE})
    items += data[key]
    for _ in range(_OAUTH_PAGES - 1):
        if not following:
            break
        data, following = _oauth_get(session, following, timeout)
        items += data[key]
    return items


# -- the App manifest flow (`serve`'s /setup): the App GitHub registered from a manifest, with its secrets --------
@dataclass(frozen=True)
class ManifestApp:
    """What POST /app-manifests/{code}/conversions gives once: the App's identity and its credentials."""

    id: int
    slug: str
    name: str
    html_url: str
    owner: str
    pem: str = field(repr=False)
    webhook_secret: str | None = field(repr=False)
    client_id: str
    client_secret: str = field(repr=False)


def create_app_from_manifest(api_url: str, code: str, timeout: float = 15.0) -> ManifestApp:
    """Trade the temporary `code` GitHub sent to the manifest's redirect_url for the new App's credentials (no
    authentication; the code works once and for an hour)."""
    url = f"{api_url.rstrip('/')}/app-manifests/{urllib.parse.quote(code, safe='')}/conversions"
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28",
               "User-Agent": "falco-rules-bot"}  # fmt: skip
    try:
        response = requests.post(url, headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        raise GitHubError(f"App manifest conversion: {type(exc).__name__}", transient=True) from None
    status = response.status_code
    if status != 201:
        raise GitHubError(f"App manifest conversion: HTTP {status}", status, status >= 500 or status == 429)
    try:
        data = response.json()
        owner = data.get("owner") or {}
        return ManifestApp(id=int(data["id"]), slug=str(data["slug"]), name=str(data["name"]),
                           html_url=str(data["html_url"]), owner=str(owner.get("login", "")), pem=str(data["pem"]),
                           webhook_secret=None if data.get("webhook_secret") is None else str(data["webhook_secret"]),
                           client_id=str(data["client_id"]), client_secret=str(data["client_secret"]))  # fmt: skip
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise GitHubError(f"App manifest conversion: unexpected answer ({type(exc).__name__})", status) from None
