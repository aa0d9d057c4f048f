"""The Emulator: GitHub's state, the test-facing API, and the HTTP server on 127.0.0.1."""

from __future__ import annotations

import itertools
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from . import gitstore
from .state import (
    App,
    CheckRun,
    CheckSuite,
    Comment,
    GpgKey,
    Installation,
    Issue,
    Reaction,
    Repository,
    Token,
    User,
    iso,
    node_id,
    now,
)

PERMISSIONS = ("admin", "maintain", "write", "triage", "read", "none")
STATUS_STATES = ("success", "failure", "pending", "error")


@dataclass(frozen=True)
class Call:
    """One request the emulator answered."""

    method: str
    path: str
    route: str | None
    status: int
    graphql_operation: str | None
    auth_kind: str  # jwt | installation | anonymous | invalid
    query: str = ""
    seq: int = 0
    at: float = field(default_factory=time.monotonic)  # when it was answered
    installation: int | None = None  # whose installation token made the call


@dataclass
class Fault:
    route: str
    status: int | None
    times: int | None
    every: int | None
    retry_after: int | float | None
    secondary_rate_limit: bool
    delay: float
    message: str | None = None  # the answer's message, instead of the usual one for the status
    seen: int = 0
    fired: int = 0

    def matches(self, route: str) -> bool:
        return self.route in ("*", route)

    def fire(self) -> bool:
        """Count one matching call; True when this one fails."""
        if self.times is not None and self.fired >= self.times:
            return False
        self.seen += 1
        if self.every is not None and self.seen % self.every != 0:
            return False
        self.fired += 1
        return True


@dataclass
class Faults:
    """Failures injected into upcoming calls: `add(route, status=502, times=1, ...)`."""

    items: list[Fault] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(
        self,
        route: str = "*",
        status: int | None = 502,
        times: int | None = 1,
        every: int | None = None,
        retry_after: int | float | None = None,
        secondary_rate_limit: bool = False,
        delay: float = 0.0,
        message: str | None = None,
    ) -> Fault:
        """`route` is "METHOD /template" (as in Call.route), "POST /graphql" or "*"; `status=None` with `delay`
        only slows the call down. `times` failures (None: unlimited); with `every=N` only each N-th matching call
        fails. `secondary_rate_limit` answers 403 with GitHub's secondary-rate-limit message."""
        fault = Fault(
            route,
            403 if secondary_rate_limit else status,
            times,
            every,
            retry_after,
            secondary_rate_limit,
            delay,
            message,
        )
        with self.lock:
            self.items.append(fault)
        return fault

    def clear(self) -> None:
        with self.lock:
            self.items.clear()

    def take(self, route: str) -> Fault | None:
        with self.lock:
            for fault in self.items:
                if fault.matches(route) and fault.fire():
                    return fault
        return None


_APP_KEYS: list[tuple[str, str]] = []
_APP_KEYS_LOCK = threading.Lock()


def _app_key(index: int) -> tuple[str, str]:
    """The index-th RSA key pair (PEM private, PEM public) of this process: App keys are costly to make, and one
    emulator's Apps must differ, not every emulator's."""
    with _APP_KEYS_LOCK:
        while len(_APP_KEYS) <= index:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
            ).decode()
            public = (
                key.public_key()
                .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
                .decode()
            )
            _APP_KEYS.append((pem, public))
        return _APP_KEYS[index]


class Emulator:
    """GitHub (REST under /api/v3, GraphQL at /api/graphql, git smart HTTP) with state, on 127.0.0.1."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._tmp = Path(tempfile.mkdtemp(prefix="github-emulator-"))
        self.repos_root = self._tmp / "repos"
        self.repos_root.mkdir()
        self._ids = itertools.count(1000)
        self._app_ids = itertools.count(101)
        self._inst_ids = itertools.count(5001)
        self._seq = itertools.count(1)
        self.apps: dict[int, App] = {}
        self.users: dict[str, User] = {}
        self.installations: dict[int, Installation] = {}
        self.tokens: dict[str, Token] = {}
        self.repos: dict[str, Repository] = {}
        self.issues: dict[tuple[str, int], Issue] = {}
        self._numbers: dict[str, int] = {}
        self.comments_by_id: dict[int, Comment] = {}
        self.reaction_list: list[Reaction] = []
        self.suites: dict[int, CheckSuite] = {}
        self.check_run_map: dict[int, CheckRun] = {}
        self._labels: dict[tuple[str, str], int] = {}
        self._stats: dict[tuple[str, str, str], dict[str, int]] = {}
        self._verdicts: dict[tuple[Any, ...], Any] = {}
        self.calls: list[Call] = []
        self.schema_violations: list[str] = []
        self.graphql_rejections: list[str] = []
        self.faults = Faults()
        self.token_ttl: float = 3600
        self.blob_truncate_bytes: int = 10_000_000
        self.rate_limit = 5000
        self.oauth_user: str | None = None  # who signs in at GET /login/oauth/authorize (tests/emulator/oauth.py)
        self.oauth_codes: dict[str, Any] = {}
        self.manifest_codes: dict[str, Any] = {}  # App manifest flow codes (tests/emulator/manifest.py)
        self.user_tokens: dict[str, Any] = {}
        self._rate: dict[str, list[int]] = {}
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # ---- lifecycle -----------------------------------------------------------------------------------------------

    def start(self) -> Emulator:
        from .server import make_server

        self._server = make_server(self)
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="github-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v3"

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/api/graphql"

    def next_id(self) -> int:
        return next(self._ids)

    # ---- calls -----------------------------------------------------------------------------------------------------

    def record(self, **fields: Any) -> Call:
        with self.lock:
            call = Call(seq=next(self._seq), **fields)
            self.calls.append(call)
            return call

    def reset_calls(self) -> None:
        with self.lock:
            self.calls.clear()

    def mark(self) -> int:
        """A position in the call log, for calls_since."""
        with self.lock:
            return self.calls[-1].seq + 1 if self.calls else next(self._seq)

    def calls_since(self, mark: int) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.seq >= mark]

    # ---- users and apps --------------------------------------------------------------------------------------------

    def add_user(
        self,
        login: str,
        name: str | None = None,
        email: str | None = None,
        emails: tuple[str, ...] | list[str] = (),
        gpg_public_keys: tuple[str, ...] | list[str] = (),
        type: str = "User",
    ) -> User:
        with self.lock:
            uid = self.next_id()
            all_emails = ([email] if email else []) + [e for e in emails if e != email]
            typename = {"User": "User", "Organization": "Organization", "Bot": "Bot"}[type]
            user = User(login, uid, node_id(typename, uid), name, email, all_emails, [], type)
            self.users[login.lower()] = user
        for armored in gpg_public_keys:
            self.add_gpg_key(login, armored)
        return user

    def add_gpg_key(self, login: str, armored: str) -> GpgKey:
        info = gitstore.inspect_key(armored)
        with self.lock:
            key = GpgKey(self.next_id(), info, [self.next_id() for _ in info.subkeys], now())
            self.user(login).gpg_keys.append(key)
            self._verdicts.clear()
            return key

    def find_user(self, login: str) -> User | None:
        return self.users.get(login.lower())

    def user(self, login: str) -> User:
        user = self.find_user(login)
        if user is None:
            user = self.add_user(login)
        return user

    def user_by_email(self, email: str) -> User | None:
        wanted = email.lower()
        for user in self.users.values():
            if any(e.lower() == wanted for e in user.emails):
                return user
        return None

    def create_app(
        self,
        slug: str = "falco-rules-bot",
        name: str | None = None,
        owner: str = "falcosecurity",
        permissions: dict[str, str] | None = None,
        events: list[str] | None = None,
    ) -> App:
        with self.lock:
            pem, public = _app_key(len(self.apps))
            app_id = next(self._app_ids)
            if self.find_user(owner) is None:
                self.add_user(owner, type="Organization")
            app = App(
                id=app_id,
                slug=slug,
                private_key_pem=pem,
                webhook_secret=secrets.token_hex(20),
                bot_login=f"{slug}[bot]",
                name=name or slug,
                owner=owner,
                client_id=f"Iv23li{secrets.token_hex(7)}",
                client_secret=secrets.token_hex(20),
                node_id=node_id("Integration", app_id),
                public_key_pem=public,
                permissions=permissions
                or {
                    "checks": "write",
                    "contents": "read",
                    "issues": "write",
                    "metadata": "read",
                    "pull_requests": "write",
                },
                events=events or ["check_run", "check_suite", "issue_comment", "pull_request"],
            )
            self.apps[app_id] = app
            bot = self.add_user(app.bot_login, type="Bot")
            bot.app_id = app_id
            app.bot_user_id = bot.id
            return app

    def install(self, app: App, account: str, repositories: list[str] | tuple[str, ...] = ()) -> int:
        with self.lock:
            self.user(account)
            inst = Installation(next(self._inst_ids), app.id, account, [self.repo(r).full_name for r in repositories])
            self.installations[inst.id] = inst
            return inst.id

    def add_installation_repositories(self, installation_id: int, repositories: list[str]) -> None:
        with self.lock:
            inst = self.installations[installation_id]
            inst.repositories += [
                self.repo(r).full_name for r in repositories if self.repo(r).full_name not in inst.repositories
            ]

    def installation_for(self, repo: str, app: App | None = None) -> Installation | None:
        for inst in self.installations.values():
            if (app is None or inst.app_id == app.id) and any(r.lower() == repo.lower() for r in inst.repositories):
                return inst
        return None

    def expire_tokens(self) -> None:
        """Make every installation token minted so far expire now."""
        with self.lock:
            for token in self.tokens.values():
                token.expires_at = 0

    # ---- repositories ----------------------------------------------------------------------------------------------

    def add_repository(
        self,
        full_name: str,
        source: str | Path,
        default_branch: str = "main",
        fork_of: str | None = None,
        private: bool = False,
    ) -> Repository:
        owner, name = full_name.split("/")
        with self.lock:
            self.user(owner)
            rid = self.next_id()
        bare = gitstore.clone_bare(source, self.repos_root / owner / f"{name}.git", default_branch)
        if bare.rev_parse(f"refs/heads/{default_branch}") is None:
            raise ValueError(f"{source} has no branch {default_branch} (the default branch of {full_name})")
        repo = Repository(full_name, rid, node_id("Repository", rid), bare, default_branch, fork_of, private)
        with self.lock:
            self.repos[full_name.lower()] = repo
            self._numbers[full_name.lower()] = 0
        return repo

    def repo(self, full_name: str) -> Repository:
        repo = self.repos.get(full_name.lower())
        if repo is None:
            raise KeyError(f"no repository {full_name} in the emulator")
        return repo

    def push_branch(self, repo: str, source: str | Path, branch: str, source_ref: str | None = None) -> str:
        """Move (or create) a branch of the emulator's repository to `source_ref` (default: `branch`) of source."""
        with self.lock:
            target = self.repo(repo)
            self._stats.clear()
            return gitstore.fetch_ref(target.git, source, source_ref or branch, f"refs/heads/{branch}")

    def set_permission(self, repo: str, login: str, permission: str) -> None:
        assert permission in PERMISSIONS, permission
        with self.lock:
            self.user(login)
            self.repo(repo).permissions[login.lower()] = permission

    def role(self, repo: Repository, login: str) -> str:
        if login.lower() == repo.owner.lower():
            return "admin"
        role = repo.permissions.get(login.lower())
        if role is not None:
            return role
        return "none" if repo.private else "read"

    def label_id(self, repo: str, name: str) -> int:
        with self.lock:
            return self._labels.setdefault((repo.lower(), name), self.next_id())

    # ---- issues and pull requests ----------------------------------------------------------------------------------

    def _new_number(self, repo: str) -> int:
        key = self.repo(repo).full_name.lower()
        self._numbers[key] += 1
        return self._numbers[key]

    def add_issue(
        self,
        repo: str,
        title: str,
        author: str = "octocat",
        state: str = "open",
        labels: tuple[str, ...] | list[str] = (),
        body: str = "",
    ) -> int:
        with self.lock:
            self.user(author)
            number = self._new_number(repo)
            iid = self.next_id()
            issue = Issue(
                self.repo(repo).full_name,
                number,
                iid,
                node_id("Issue", iid),
                title,
                body,
                author,
                state,
                list(labels),
                closed_at=now() if state == "closed" else None,
            )
            self.issues[(repo.lower(), number)] = issue
            return number

    def set_issue_state(self, repo: str, number: int, state: str) -> None:
        with self.lock:
            issue = self.issue(repo, number)
            issue.state = state
            issue.closed_at = now() if state == "closed" else None
            issue.updated_at = now()

    def issue(self, repo: str, number: int) -> Issue:
        issue = self.issues.get((repo.lower(), number))
        if issue is None:
            raise KeyError(f"no issue or pull request {repo}#{number}")
        return issue

    def open_pull_request(
        self,
        repo: str,
        source: str | Path,
        head_ref: str = "feature",
        base: str = "main",
        title: str = "Update rules",
        body: str = "",
        author: str = "octocat",
        draft: bool = False,
        head_repo: str | None = None,
        labels: tuple[str, ...] | list[str] = (),
    ) -> int:
        """A pull request from `head_ref` of the local repository `source` (fetched into refs/pull/N/head);
        `head_repo` names the fork it comes from (a repository added with fork_of), if any."""
        target = self.repo(repo)
        if target.git.rev_parse(f"refs/heads/{base}") is None:
            raise KeyError(f"{repo} has no branch {base}")
        with self.lock:
            self.user(author)
            number = self._new_number(repo)
        sha = gitstore.fetch_ref(target.git, source, head_ref, f"refs/pull/{number}/head")
        with self.lock:
            iid, pid = self.next_id(), self.next_id()
            issue = Issue(
                target.full_name,
                number,
                iid,
                node_id("Issue", iid),
                title,
                body,
                author,
                "open",
                list(labels),
                is_pr=True,
                pr_id=pid,
                pr_node_id=node_id("PullRequest", pid),
                head_ref=head_ref,
                head_sha=sha,
                head_repo=self.repo(head_repo).full_name if head_repo else "",
                base_ref=base,
                draft=draft,
                head_history=[sha],
            )
            self.issues[(repo.lower(), number)] = issue
            return number

    def stage_commits(self, repo: str, source: str | Path, refs: list[str]) -> None:
        """Fetch the commits of `refs` (branches of the local repository `source`) into the repository at once, so
        that pushes of them (`push_pull_request(..., sha=...)`) are a reference update only."""
        target = self.repo(repo)
        gitstore.git(target.git.path, "fetch", "--quiet", "--no-tags", str(source),
                     *[f"+refs/heads/{r}:refs/staged/{r}" for r in refs])  # fmt: skip

    def push_pull_request(self, repo: str, number: int, source: str | Path | None = None, head_ref: str = "feature",
                          sha: str | None = None) -> str:  # fmt: skip
        """A new head for the pull request (what a `synchronize` event announces): `head_ref` of the local
        repository `source`, or the staged commit `sha`; returns its sha."""
        target = self.repo(repo)
        if sha is not None:
            gitstore.git(target.git.path, "update-ref", f"refs/pull/{number}/head", sha)
        else:
            assert source is not None
            sha = gitstore.fetch_ref(target.git, source, head_ref, f"refs/pull/{number}/head")
        with self.lock:
            issue = self.issue(repo, number)
            issue.head_sha = sha
            issue.head_ref = head_ref
            issue.head_history.append(sha)
            issue.updated_at = now()
            return sha

    def edit_pull_request(
        self,
        repo: str,
        number: int,
        title: str | None = None,
        body: str | None = None,
        draft: bool | None = None,
        state: str | None = None,
        base: str | None = None,
    ) -> dict[str, Any]:
        """Change the pull request; `state` is open, closed or merged. Returns the old values (for `changes`)."""
        with self.lock:
            issue = self.issue(repo, number)
            old: dict[str, Any] = {}
            if title is not None:
                old["title"] = {"from": issue.title}
                issue.title = title
            if body is not None:
                old["body"] = {"from": issue.body}
                issue.body = body
            if base is not None:
                old["base"] = {"ref": {"from": issue.base_ref}, "sha": {"from": self.base_sha(issue)}}
                issue.base_ref = base
            if draft is not None:
                issue.draft = draft
            if state is not None:
                issue.merged = state == "merged"
                issue.state = "open" if state == "open" else "closed"
                issue.closed_at = None if state == "open" else now()
            issue.updated_at = now()
            return old

    def link_issue(self, repo: str, number: int, issue_repo: str, issue_number: int) -> None:
        """A manual link (the PR sidebar's "Development"): the issue appears in closingIssuesReferences."""
        with self.lock:
            self.issue(repo, number).manual_closing_refs.append((issue_repo, issue_number))

    def base_sha(self, issue: Issue) -> str:
        repo = self.repo(issue.repo)
        return repo.git.rev_parse(f"refs/heads/{issue.base_ref}") or ""

    def pr_commits(self, issue: Issue) -> list[str]:
        repo = self.repo(issue.repo)
        oids = repo.git.rev_list(self.base_sha(issue), issue.head_sha)
        repo.git.load_commits(oids)
        return oids

    def pr_files(self, issue: Issue) -> list[tuple[str, str, int, int]]:
        repo = self.repo(issue.repo)
        return repo.git.changed_files(self.base_sha(issue), issue.head_sha)

    def pr_stats(self, issue: Issue) -> dict[str, int]:
        key = (issue.repo, self.base_sha(issue), issue.head_sha)
        if key not in self._stats:
            files = self.pr_files(issue)
            self._stats[key] = {
                "commits": len(self.pr_commits(issue)),
                "additions": sum(f[2] for f in files),
                "deletions": sum(f[3] for f in files),
                "changed_files": len(files),
            }
        return self._stats[key]

    def pulls_with_head(self, repo: str, sha: str) -> list[Issue]:
        return [i for i in self.issues.values() if i.is_pr and i.repo.lower() == repo.lower() and i.head_sha == sha]

    def pull_request(self, repo: str, number: int) -> dict[str, Any]:
        with self.lock:
            issue = self.issue(repo, number)
            return {
                "number": issue.number,
                "id": issue.pr_id,
                "node_id": issue.pr_node_id,
                "title": issue.title,
                "body": issue.body,
                "state": issue.state,
                "merged": issue.merged,
                "draft": issue.draft,
                "author": issue.author,
                "head_ref": issue.head_ref,
                "head_sha": issue.head_sha,
                "base_ref": issue.base_ref,
                "base_sha": self.base_sha(issue),
                "head_repo": issue.head_repo or issue.repo,
                "labels": list(issue.labels),
            }

    # ---- comments, reactions, statuses, checks ---------------------------------------------------------------------

    def new_comment(self, repo: str, number: int, author: str, body: str, app_id: int | None = None) -> Comment:
        with self.lock:
            self.user(author)
            cid = self.next_id()
            comment = Comment(
                cid, node_id("IssueComment", cid), self.repo(repo).full_name, number, author, body, app_id
            )
            self.comments_by_id[cid] = comment
            return comment

    def add_comment(self, repo: str, number: int, author: str, body: str) -> int:
        self.issue(repo, number)
        user = self.user(author)
        return self.new_comment(repo, number, author, body, user.app_id).id

    def comment_history(self, comment_id: int) -> list[str]:
        """Every body a comment had, oldest first."""
        with self.lock:
            return list(self.comments_by_id[comment_id].history)

    def comment_list(self, repo: str, number: int) -> list[Comment]:
        key = repo.lower()
        return sorted(
            (c for c in self.comments_by_id.values() if c.repo.lower() == key and c.number == number),
            key=lambda c: c.id,
        )

    def comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        with self.lock:
            return [
                {
                    "id": c.id,
                    "node_id": c.node_id,
                    "user": c.author,
                    "author": c.author,
                    "body": c.body,
                    "minimized": c.minimized,
                    "minimized_reason": c.minimized_reason,
                    "app": self.apps[c.app_id].slug if c.app_id else None,
                    "created_at": iso(c.created_at),
                    "updated_at": iso(c.updated_at),
                }
                for c in self.comment_list(repo, number)
            ]

    def reactions(self, comment_id: int) -> list[str]:
        with self.lock:
            return [r.content for r in self.reaction_list if r.comment_id == comment_id]

    def set_status(
        self,
        repo: str,
        sha: str,
        context: str,
        state: str,
        description: str | None = None,
        target_url: str | None = None,
    ) -> None:
        assert state in STATUS_STATES, state
        with self.lock:
            sid = self.next_id()
            self.repo(repo).statuses.setdefault(sha, []).append(
                {
                    "id": sid,
                    "context": context,
                    "state": state,
                    "description": description,
                    "target_url": target_url,
                    "created_at": now(),
                }
            )

    def statuses(self, repo: str, sha: str) -> list[dict[str, Any]]:
        """The latest status of each context, as GitHub's combined status."""
        latest: dict[str, dict[str, Any]] = {}
        for status in self.repo(repo).statuses.get(sha, []):
            latest[status["context"]] = status
        return list(latest.values())

    def suite_for(self, repo: str, sha: str, app_id: int) -> CheckSuite:
        with self.lock:
            for suite in self.suites.values():
                if suite.repo.lower() == repo.lower() and suite.head_sha == sha and suite.app_id == app_id:
                    return suite
            sid = self.next_id()
            branch = next((i.head_ref for i in self.pulls_with_head(repo, sha)), None)
            suite = CheckSuite(sid, node_id("CheckSuite", sid), self.repo(repo).full_name, sha, app_id, branch)
            self.suites[sid] = suite
            return suite

    def check_runs(self, repo: str, sha: str) -> list[dict[str, Any]]:
        with self.lock:
            return [
                {
                    "id": r.id,
                    "node_id": r.node_id,
                    "name": r.name,
                    "head_sha": r.head_sha,
                    "status": r.status,
                    "conclusion": r.conclusion,
                    "external_id": r.external_id,
                    "details_url": r.details_url,
                    "app_id": r.app_id,
                    "started_at": iso(r.started_at),
                    "completed_at": iso(r.completed_at),
                    "output": {"title": r.title, "summary": r.summary, "text": r.text},
                    "annotations": [dict(a) for a in r.annotations],
                    "actions": list(r.actions),
                }
                for r in sorted(self.check_run_map.values(), key=lambda r: r.id)
                if r.repo.lower() == repo.lower() and r.head_sha == sha
            ]

    # ---- commit signatures -----------------------------------------------------------------------------------------

    def signature_verdict(self, repo: Repository, oid: str) -> dict[str, Any] | None:
        """GitHub's view of a commit's signature, computed with real gpg against the registered keys."""
        commit = repo.git.commit(oid)
        if not commit.signature:
            return None
        email = commit.committer.email
        user = self.user_by_email(email)
        keys = tuple(k.info.armored for k in user.gpg_keys) if user else ()
        cache_key = (oid, user.login if user else None, keys, tuple(user.emails) if user else ())
        if cache_key in self._verdicts:
            return dict(self._verdicts[cache_key])
        signature = commit.signature
        result: dict[str, Any] = {
            "signature": signature,
            "payload": commit.payload,
            "email": email,
            "key_id": None,
            "signer": None,
            "verified_at": None,
        }
        if signature.startswith("-----BEGIN SSH SIGNATURE"):
            result.update(kind="SshSignature", state="UNKNOWN_KEY")
        elif signature.startswith("-----BEGIN PGP SIGNATURE"):
            result["kind"] = "GpgSignature"
            if user is None:
                verdict = gitstore.verify_gpg(signature, commit.payload, [])
                result.update(
                    state="NO_USER" if verdict.state != "MALFORMED_SIG" else "MALFORMED_SIG", key_id=verdict.key_id
                )
            else:
                verdict = gitstore.verify_gpg(signature, commit.payload, list(keys))
                result["key_id"] = verdict.key_id
                state = verdict.state
                key = self._key_of(user, verdict.key_id)
                if key is not None:
                    result["signer"] = user.login
                if state == "VALID" and key is not None:
                    key_emails = {e.lower() for e in key.info.emails}
                    if email.lower() not in key_emails:
                        state = "BAD_EMAIL"
                    elif email.lower() not in {e.lower() for e in user.emails}:
                        state = "UNVERIFIED_EMAIL"
                    elif not (key.info.can_sign or any(s.can_sign for s in key.info.subkeys)):
                        state = "NOT_SIGNING_KEY"
                result["state"] = state
                if state == "VALID":
                    result["verified_at"] = iso(now())
        elif signature.startswith("-----BEGIN SIGNED MESSAGE") or signature.startswith("-----BEGIN PKCS7"):
            result.update(kind="SmimeSignature", state="BAD_CERT")
        else:
            result.update(kind="UnknownSignature", state="UNKNOWN_SIG_TYPE")
        with self.lock:
            self._verdicts[cache_key] = result
        return dict(result)

    @staticmethod
    def _key_of(user: User, key_id: str | None) -> GpgKey | None:
        if not key_id:
            return None
        for key in user.gpg_keys:
            ids = [key.info.key_id, key.info.fingerprint[-16:]] + [s.key_id for s in key.info.subkeys]
            if key_id.upper()[-16:] in {i.upper() for i in ids}:
                return key
        return None

    # ---- rate limits -----------------------------------------------------------------------------------------------

    def charge(self, identity: str, resource: str, cost: int = 1) -> dict[str, str]:
        with self.lock:
            current = int(datetime.now().timestamp())
            used, reset = self._rate.get(f"{identity}:{resource}", [0, current + 3600])
            if current >= reset:
                used, reset = 0, current + 3600
            used += cost
            self._rate[f"{identity}:{resource}"] = [used, reset]
            limit = self.rate_limit if identity != "anonymous" else 60
            return {
                "x-ratelimit-limit": str(limit),
                "x-ratelimit-remaining": str(max(0, limit - used)),
                "x-ratelimit-reset": str(reset),
                "x-ratelimit-used": str(used),
                "x-ratelimit-resource": resource,
            }

    # ---- webhooks --------------------------------------------------------------------------------------------------

    def webhook(self, event: str, action: str | None = None, **kwargs: Any) -> tuple[bytes, dict[str, str]]:
        """A signed delivery of `event`/`action` built from a real example; see webhooks.build."""
        from .webhooks import build

        return build(self, event, action, **kwargs)

    def deliver(self, target_url: str, event: str, action: str | None = None, **kwargs: Any) -> tuple[int, str]:
        """Build, sign and POST a delivery to `target_url`; returns (status, body text)."""
        import httpx

        payload, headers = self.webhook(event, action, **kwargs)
        answer = httpx.post(target_url, content=payload, headers=headers, timeout=30)
        return answer.status_code, answer.text
