"""The emulator's state: users, apps, installations, repositories, issues and pull requests, comments, checks."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .gitstore import BareRepo, GpgKeyInfo


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def node_id(typename: str, database_id: int) -> str:
    """GitHub's legacy global node ID: base64 of `<len>:<Type><id>`."""
    return base64.b64encode(f"{len(typename):03d}:{typename}{database_id}".encode()).decode()


@dataclass
class App:
    """A GitHub App: what the test needs to act as it."""

    id: int
    slug: str
    private_key_pem: str
    webhook_secret: str
    bot_login: str
    name: str = ""
    owner: str = ""
    client_id: str = ""
    client_secret: str = field(default="", repr=False)  # the OAuth web flow's (tests/emulator/oauth.py)
    node_id: str = ""
    public_key_pem: str = field(default="", repr=False)
    bot_user_id: int = 0
    created_at: datetime = field(default_factory=now)
    permissions: dict[str, str] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)  # what it was registered from (tests/emulator/manifest.py)


@dataclass
class GpgKey:
    id: int
    info: GpgKeyInfo
    subkey_ids: list[int]
    created_at: datetime


@dataclass
class User:
    login: str
    id: int
    node_id: str
    name: str | None
    email: str | None
    emails: list[str]
    gpg_keys: list[GpgKey]
    type: str = "User"  # User | Organization | Bot
    app_id: int | None = None  # for the Bot user of an App


@dataclass
class Installation:
    id: int
    app_id: int
    account: str
    repositories: list[str]
    created_at: datetime = field(default_factory=now)


@dataclass
class Token:
    token: str
    installation_id: int
    expires_at: float  # epoch seconds
    repositories: list[str]


@dataclass
class Repository:
    full_name: str
    id: int
    node_id: str
    git: BareRepo
    default_branch: str
    fork_of: str | None
    private: bool
    created_at: datetime = field(default_factory=now)
    permissions: dict[str, str] = field(default_factory=dict)  # login -> admin|maintain|write|triage|read|none
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # sha -> statuses, newest last

    @property
    def owner(self) -> str:
        return self.full_name.split("/")[0]

    @property
    def name(self) -> str:
        return self.full_name.split("/")[1]


@dataclass
class Issue:
    """An issue, or the issue side of a pull request (numbers are shared)."""

    repo: str
    number: int
    id: int
    node_id: str
    title: str
    body: str
    author: str
    state: str  # open | closed
    labels: list[str]
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)
    closed_at: datetime | None = None
    # pull request side (is_pr)
    is_pr: bool = False
    pr_id: int = 0
    pr_node_id: str = ""
    head_ref: str = ""
    head_sha: str = ""
    head_repo: str = ""
    base_ref: str = ""
    draft: bool = False
    merged: bool = False
    head_history: list[str] = field(default_factory=list)
    manual_closing_refs: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class Comment:
    id: int
    node_id: str
    repo: str
    number: int
    author: str
    body: str
    app_id: int | None  # performed via this App (made with an installation token)
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)
    minimized: bool = False
    minimized_reason: str | None = None
    history: list[str] = field(default_factory=list)  # every body the comment had, oldest first (the tests read it)

    def __post_init__(self) -> None:
        self.history.append(self.body)


@dataclass
class Reaction:
    id: int
    node_id: str
    comment_id: int
    content: str
    user: str
    created_at: datetime = field(default_factory=now)


@dataclass
class CheckSuite:
    id: int
    node_id: str
    repo: str
    head_sha: str
    app_id: int
    head_branch: str | None
    created_at: datetime = field(default_factory=now)


@dataclass
class CheckRun:
    id: int
    node_id: str
    repo: str
    head_sha: str
    name: str
    suite_id: int
    app_id: int
    status: str = "queued"
    conclusion: str | None = None
    external_id: str = ""
    details_url: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    title: str | None = None
    summary: str | None = None
    text: str | None = None
    annotations: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
