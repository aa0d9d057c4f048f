"""The GitHub gateway: the only package that imports PyGithub (auth, the two-round-trip fetch, publishing).

Contract used by the rest of the App (bot/jobs.py, bot/commands.py); the implementation lives in
bot/github/client.py and is re-exported here:

    app = GitHubApp(app_id, private_key, api_url="https://api.github.com", app_slug=None, ...)
    app.slug() -> str                                  # the App's slug (GET /app once, cached), for `@slug recheck`
    gh = app.client(installation_id)                   # InstallationClient; tokens cached per installation, thread-safe
    pull = gh.pull_request("owner/repo", 12)           # round trip 1 (GraphQL) -> PullRequestData
    inputs = gh.review_inputs(pull, policy)            # round trip 2 (GraphQL) + authors' GPG keys -> ReviewInputs
    gh.publish(pull, inputs, comment_body, check_output, external_id) -> Published
    gh.publish_check_run(repo, head_sha, check_output, external_id, run_id) -> int  # the check run alone
    gh.publish_failure(repo, head_sha, title, summary, external_id, check_run_id=None) -> int
    gh.collaborator_permission("owner/repo", "login") -> "admin" | "maintain" | "write" | "triage" | "read" | "none"
    gh.react("owner/repo", comment_id, "eyes" | "rocket" | ...)
    gh.reply("owner/repo", number, body) -> int        # a new comment (command replies only)
    gh.minimize(node_id)

    # the dashboard's "Sign in with GitHub" (the App's OAuth web flow, a user-to-server token):
    token = exchange_oauth_code(web_url, client_id, client_secret, code, redirect_uri)
    user_repositories(api_url, token) -> OAuthUser(login, repositories)  # what the user can read, installations

    # `serve`'s /setup (the App manifest flow): the registered App's credentials, for the code GitHub sent back
    create_app_from_manifest(api_url, code) -> ManifestApp(id, slug, name, html_url, owner, pem, webhook_secret, ...)

Every method raises GitHubError (with `transient` True for 5xx, timeouts and rate limits that outlived
the retries) and nothing else from PyGithub or requests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.models import PullRequestSnapshot

POLICY_PATH = ".github/falco-rules-bot.yml"
CHECK_NAME = "falco-rules-bot"
COMMENT_MARKER = "<!-- falco-rules-bot:review -->"
# Markers of comments written by earlier formats of the bot: such comments are minimised, not left around.
LEGACY_MARKERS = ("<!-- falco-rules-bot:findings", "<!-- falco-rules-bot:review v0")


class GitHubError(Exception):
    """A GitHub call that failed after its retries; `transient` says whether trying later may succeed."""

    def __init__(self, message: str, status: int | None = None, transient: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.transient = transient


@dataclass(frozen=True)
class PullRequestData:
    """Round trip 1: the pull request as GitHub sees it now, and the policy file of the default branch."""

    repo: str
    number: int
    node_id: str
    state: str  # OPEN | CLOSED | MERGED
    draft: bool
    title: str
    body: str
    author_login: str | None
    base_ref: str
    base_sha: str
    head_sha: str
    default_branch: str
    upstream: str | None  # the repository this one was forked from
    policy_text: str | None  # .github/falco-rules-bot.yml on the default branch; None when absent
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # the GraphQL answer


@dataclass(frozen=True)
class CommentData:
    """A comment of the pull request's conversation."""

    id: int
    node_id: str
    author: str | None
    body: str
    by_this_app: bool


@dataclass(frozen=True)
class ReviewInputs:
    """Round trip 2: everything the checks look at, and what the bot already published for this PR."""

    snapshot: PullRequestSnapshot
    head_current: bool  # False when a push moved the head since round trip 1: the review is superseded
    comment: CommentData | None  # the bot's marked comment, edited in place
    legacy_comments: tuple[CommentData, ...]  # the bot's comments of an earlier format, to minimise
    check_run_id: int | None  # an existing `falco-rules-bot` run of this App on the head
    comments: tuple[CommentData, ...] = ()  # the last 100 comments (agreement `comment` mode reads them)
    used_git: bool = False  # texts came from the git mirror (GraphQL could not serve them)
    # status of the run `check_run_id` names (queued | in_progress | completed): a completed run of an
    # earlier review is superseded by a new run, since PATCHed annotations would be appended to its own
    check_run_status: str | None = None


@dataclass(frozen=True)
class Published:
    """What publishing left on GitHub."""

    comment_id: int
    check_run_id: int
    comment_created: bool


@dataclass(frozen=True)
class OAuthUser:
    """Who signed in with the App's OAuth flow, and the full names of the repositories of the App's installations
    they can read (exchange_oauth_code, then user_repositories)."""

    login: str
    repositories: tuple[str, ...]


from bot.github.client import (  # noqa: E402
    GitHubApp,
    InstallationClient,
    ManifestApp,
    create_app_from_manifest,
    exchange_oauth_code,
    user_repositories,
)

__all__ = [
    "CHECK_NAME",
    "COMMENT_MARKER",
    "LEGACY_MARKERS",
    "POLICY_PATH",
    "CommentData",
    "GitHubApp",
    "GitHubError",
    "InstallationClient",
    "ManifestApp",
    "OAuthUser",
    "Published",
    "PullRequestData",
    "ReviewInputs",
    "create_app_from_manifest",
    "exchange_oauth_code",
    "user_repositories",
]
