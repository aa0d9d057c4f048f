"""REST handlers: GitHub's answers built from the OpenAPI examples, filled with the emulator's state."""

from __future__ import annotations

import base64
import math
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import quote, urlencode

from . import specs
from .state import CheckRun, Comment, Issue, Reaction, Repository, Token, iso, node_id, now

if TYPE_CHECKING:
    from .core import Emulator
    from .state import App, GpgKey, Installation

T = TypeVar("T")
DOCS = "https://docs.github.com/rest"
MAX_COMMENT = 65536
MAX_ANNOTATIONS = 50


@dataclass
class Resp:
    status: int
    body: Any = None  # JSON-able, or bytes (sent as is)
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"


@dataclass
class Auth:
    kind: str  # jwt | installation | user | anonymous
    app: App | None = None
    installation: Installation | None = None
    token: Token | None = None
    user: str | None = None  # the login a user-to-server token acts for (tests/emulator/oauth.py)


@dataclass
class Ctx:
    emu: Emulator
    route: specs.Route
    params: dict[str, str]
    query: dict[str, list[str]]
    body: Any
    headers: dict[str, str]
    auth: Auth
    path: str
    repo: Repository | None = None

    def q(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def qint(self, name: str, default: int) -> int:
        value = self.q(name)
        return int(value) if value and value.isdigit() else default


def error(status: int, message: str, doc: str = DOCS, **extra: Any) -> Resp:
    return Resp(status, {"message": message, "documentation_url": doc, "status": str(status), **extra})


def not_found(doc: str = DOCS) -> Resp:
    return error(404, "Not Found", doc)


# ---- templates ---------------------------------------------------------------------------------------------------


def rehost(emu: Emulator, value: T) -> T:
    """An example with GitHub's hosts replaced by the emulator's (PyGithub refuses foreign hosts)."""
    result: Any = value
    if isinstance(value, str):
        result = (
            value.replace("https://api.github.com", emu.api_url)
            .replace("https://uploads.github.com", emu.url + "/api/uploads")
            .replace("https://github.com", emu.url)
        )
    elif isinstance(value, dict):
        result = {k: rehost(emu, v) for k, v in value.items()}
    elif isinstance(value, list):
        result = [rehost(emu, v) for v in value]
    return cast(T, result)


def swap(value: T, old: str, new: str) -> T:
    """`value` with `old` replaced by `new` in every string inside it."""
    result: Any = value
    if isinstance(value, str):
        result = value.replace(old, new)
    elif isinstance(value, dict):
        result = {k: swap(v, old, new) for k, v in value.items()}
    elif isinstance(value, list):
        result = [swap(v, old, new) for v in value]
    return cast(T, result)


def template(emu: Emulator, name: str) -> dict[str, Any]:
    """The named OpenAPI example (an object), its GitHub hosts replaced by the emulator's."""
    data: dict[str, Any] = rehost(emu, specs.example(name))
    return data


def user_json(emu: Emulator, login: str) -> dict[str, Any]:
    user = emu.user(login)
    data: dict[str, Any] = swap(template(emu, "issue-comment")["user"], "octocat_happy", "identicon")
    data = swap(data, "/octocat", "/" + quote(user.login))
    data.update(login=user.login, id=user.id, node_id=user.node_id, type=user.type, site_admin=False)
    if user.type == "Bot" and user.app_id is not None:
        data["html_url"] = f"{emu.url}/apps/{emu.apps[user.app_id].slug}"
    data["avatar_url"] = f"{emu.url}/avatars/u/{user.id}?v=4"
    return data


def integration_json(emu: Emulator, app: App) -> dict[str, Any]:
    data = template(emu, "integration")
    data.update(
        id=app.id,
        slug=app.slug,
        client_id=app.client_id,
        node_id=app.node_id,
        owner=user_json(emu, app.owner),
        name=app.name,
        description="",
        external_url=f"{emu.url}/{app.owner}",
        html_url=f"{emu.url}/apps/{app.slug}",
        created_at=iso(app.created_at),
        updated_at=iso(app.created_at),
        permissions=dict(app.permissions),
        events=list(app.events),
    )
    return data


def installation_json(emu: Emulator, inst: Installation) -> dict[str, Any]:
    app = emu.apps[inst.app_id]
    account = emu.user(inst.account)
    data = template(emu, "installation")
    data.update(
        id=inst.id,
        account=user_json(emu, inst.account),
        repository_selection="selected",
        access_tokens_url=f"{emu.api_url}/app/installations/{inst.id}/access_tokens",
        repositories_url=f"{emu.api_url}/installation/repositories",
        html_url=f"{emu.url}/settings/installations/{inst.id}",
        app_id=app.id,
        app_slug=app.slug,
        client_id=app.client_id,
        target_id=account.id,
        target_type=account.type if account.type == "Organization" else "User",
        permissions=dict(app.permissions),
        events=list(app.events),
        created_at=iso(inst.created_at),
        updated_at=iso(inst.created_at),
    )
    return data


def repo_json(emu: Emulator, repo: Repository, example: str = "full-repository-default-response") -> dict[str, Any]:
    if example == "full-repository-default-response":
        data = template(emu, example)
    else:  # the `repository` shape, as in a pull request's head and base
        data = template(emu, "pull-request")["base"]["repo"]
    data = swap(data, "octocat/Hello-World", repo.full_name)
    data.update(
        id=repo.id,
        node_id=repo.node_id,
        name=repo.name,
        full_name=repo.full_name,
        owner=user_json(emu, repo.owner),
        private=repo.private,
        visibility="private" if repo.private else "public",
        fork=repo.fork_of is not None,
        default_branch=repo.default_branch,
        description=None,
        homepage=None,
        html_url=f"{emu.url}/{repo.full_name}",
        url=f"{emu.api_url}/repos/{repo.full_name}",
        clone_url=f"{emu.url}/{repo.full_name}.git",
        git_url=f"{emu.url}/{repo.full_name}.git",
        ssh_url=f"git@127.0.0.1:{repo.full_name}.git",
        svn_url=f"{emu.url}/{repo.full_name}",
        mirror_url=None,
        language=None,
        created_at=iso(repo.created_at),
        updated_at=iso(repo.created_at),
        pushed_at=iso(repo.created_at),
    )
    for key in ("parent", "source", "template_repository", "organization", "license"):
        if key in data:
            data[key] = None
    if "organization" in data:
        owner = emu.user(repo.owner)
        data["organization"] = user_json(emu, repo.owner) if owner.type == "Organization" else None
    for key in ("parent", "source"):
        if key in data and repo.fork_of:
            data[key] = repo_json(emu, emu.repo(repo.fork_of), "repository")
        elif key in data:
            del data[key]
    if example == "full-repository-default-response" and data.get("template_repository") is None:
        data.pop("template_repository", None)
    return data


def author_association(emu: Emulator, repo: Repository, login: str) -> str:
    if login.lower() == repo.owner.lower():
        return "OWNER"
    if repo.permissions.get(login.lower()) in ("admin", "maintain", "write", "triage"):
        return "COLLABORATOR"
    return "NONE"


def label_json(emu: Emulator, repo: Repository, name: str) -> dict[str, Any]:
    label_id = emu.label_id(repo.full_name, name)
    return {
        "id": label_id,
        "node_id": node_id("Label", label_id),
        "url": f"{emu.api_url}/repos/{repo.full_name}/labels/{quote(name)}",
        "name": name,
        "description": None,
        "color": "ededed",
        "default": False,
    }


def issue_json(emu: Emulator, issue: Issue) -> dict[str, Any]:
    repo = emu.repo(issue.repo)
    api = f"{emu.api_url}/repos/{repo.full_name}"
    html = f"{emu.url}/{repo.full_name}"
    data = template(emu, "issue")
    data.update(
        id=issue.id,
        node_id=issue.node_id,
        url=f"{api}/issues/{issue.number}",
        repository_url=api,
        labels_url=f"{api}/issues/{issue.number}/labels{{/name}}",
        comments_url=f"{api}/issues/{issue.number}/comments",
        events_url=f"{api}/issues/{issue.number}/events",
        html_url=f"{html}/{'pull' if issue.is_pr else 'issues'}/{issue.number}",
        number=issue.number,
        state=issue.state,
        state_reason=("completed" if issue.state == "closed" else None),
        title=issue.title,
        body=issue.body or None,
        user=user_json(emu, issue.author),
        labels=[label_json(emu, repo, name) for name in issue.labels],
        assignee=None,
        assignees=[],
        milestone=None,
        locked=False,
        active_lock_reason=None,
        comments=len(emu.comment_list(repo.full_name, issue.number)),
        closed_at=iso(issue.closed_at),
        created_at=iso(issue.created_at),
        updated_at=iso(issue.updated_at),
        closed_by=None,
        author_association=author_association(emu, repo, issue.author),
        pinned_comment=None,
    )
    data.pop("repository", None)
    if data["state_reason"] is None:
        # GitHub sends null for open issues; the description's enum (nullable) lacks null, and the key is optional.
        del data["state_reason"]
    if issue.is_pr:
        data["pull_request"] = {
            "url": f"{api}/pulls/{issue.number}",
            "html_url": f"{html}/pull/{issue.number}",
            "diff_url": f"{html}/pull/{issue.number}.diff",
            "patch_url": f"{html}/pull/{issue.number}.patch",
            "merged_at": iso(issue.closed_at) if issue.merged else None,
        }
        data["draft"] = issue.draft
    else:
        data.pop("pull_request", None)
    return data


def pull_fields(emu: Emulator, issue: Issue) -> dict[str, Any]:
    """The fields of a pull request that the REST answer and the webhook payloads share."""
    full = emu.repo(issue.repo).full_name
    api, html, n = f"{emu.api_url}/repos/{full}", f"{emu.url}/{full}", issue.number
    return {
        "url": f"{api}/pulls/{n}",
        "id": issue.pr_id,
        "node_id": issue.pr_node_id,
        "html_url": f"{html}/pull/{n}",
        "diff_url": f"{html}/pull/{n}.diff",
        "patch_url": f"{html}/pull/{n}.patch",
        "issue_url": f"{api}/issues/{n}",
        "commits_url": f"{api}/pulls/{n}/commits",
        "review_comments_url": f"{api}/pulls/{n}/comments",
        "review_comment_url": f"{api}/pulls/comments{{/number}}",
        "comments_url": f"{api}/issues/{n}/comments",
        "statuses_url": f"{api}/statuses/{issue.head_sha}",
        "number": n,
        "state": issue.state,
        "locked": False,
        "title": issue.title,
        "created_at": iso(issue.created_at),
        "updated_at": iso(issue.updated_at),
        "closed_at": iso(issue.closed_at),
        "merged_at": iso(issue.closed_at) if issue.merged else None,
        "merge_commit_sha": None,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
    }


def pr_json(emu: Emulator, issue: Issue) -> dict[str, Any]:
    repo = emu.repo(issue.repo)
    api = f"{emu.api_url}/repos/{repo.full_name}"
    html = f"{emu.url}/{repo.full_name}"
    n = issue.number
    data = template(emu, "pull-request")
    head_repo = emu.repo(issue.head_repo) if issue.head_repo else repo
    base_sha = emu.base_sha(issue)
    stats = emu.pr_stats(issue)

    def side(ref: str, sha: str, side_repo: Repository) -> dict[str, Any]:
        return {
            "label": f"{side_repo.owner}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": user_json(emu, side_repo.owner),
            "repo": repo_json(emu, side_repo, "repository"),
        }

    data.update(pull_fields(emu, issue))
    data.update(
        user=user_json(emu, issue.author),
        body=issue.body or None,
        labels=[label_json(emu, repo, name) for name in issue.labels],
        milestone=None,
        active_lock_reason=None,
        head=side(issue.head_ref, issue.head_sha, head_repo),
        base=side(issue.base_ref, base_sha, repo),
        _links={
            "self": {"href": f"{api}/pulls/{n}"},
            "html": {"href": f"{html}/pull/{n}"},
            "issue": {"href": f"{api}/issues/{n}"},
            "comments": {"href": f"{api}/issues/{n}/comments"},
            "review_comments": {"href": f"{api}/pulls/{n}/comments"},
            "review_comment": {"href": f"{api}/pulls/comments{{/number}}"},
            "commits": {"href": f"{api}/pulls/{n}/commits"},
            "statuses": {"href": f"{api}/statuses/{issue.head_sha}"},
        },
        author_association=author_association(emu, repo, issue.author),
        auto_merge=None,
        draft=issue.draft,
        merged=issue.merged,
        mergeable=None if issue.state == "closed" else True,
        rebaseable=None if issue.state == "closed" else True,
        mergeable_state="clean",
        merged_by=None,
        comments=len(emu.comment_list(repo.full_name, n)),
        review_comments=0,
        maintainer_can_modify=False,
        commits=stats["commits"],
        additions=stats["additions"],
        deletions=stats["deletions"],
        changed_files=stats["changed_files"],
    )
    return data


def comment_json(emu: Emulator, comment: Comment) -> dict[str, Any]:
    repo = emu.repo(comment.repo)
    issue = emu.issue(repo.full_name, comment.number)
    api = f"{emu.api_url}/repos/{repo.full_name}"
    data = template(emu, "issue-comment")
    data.update(
        id=comment.id,
        node_id=comment.node_id,
        url=f"{api}/issues/comments/{comment.id}",
        html_url=f"{emu.url}/{repo.full_name}/{'pull' if issue.is_pr else 'issues'}/{comment.number}"
        f"#issuecomment-{comment.id}",
        body=comment.body,
        user=user_json(emu, comment.author),
        created_at=iso(comment.created_at),
        updated_at=iso(comment.updated_at),
        issue_url=f"{api}/issues/{comment.number}",
        author_association=author_association(emu, repo, comment.author),
        pin=None,
        minimized={"reason": (comment.minimized_reason or "outdated").lower()} if comment.minimized else None,
        performed_via_github_app=integration_json(emu, emu.apps[comment.app_id]) if comment.app_id else None,
    )
    return data


def reaction_json(emu: Emulator, reaction: Reaction) -> dict[str, Any]:
    data = template(emu, "reaction")
    data.update(
        id=reaction.id,
        node_id=reaction.node_id,
        user=user_json(emu, reaction.user),
        content=reaction.content,
        created_at=iso(reaction.created_at),
    )
    return data


def check_run_fields(emu: Emulator, run: CheckRun) -> dict[str, Any]:
    """The fields of a check run that the REST answer and the webhook payload share."""
    repo = emu.repo(run.repo)
    api = f"{emu.api_url}/repos/{repo.full_name}"
    page = f"{emu.url}/{repo.full_name}/runs/{run.id}"
    return {
        "id": run.id,
        "head_sha": run.head_sha,
        "node_id": run.node_id,
        "external_id": run.external_id,
        "url": f"{api}/check-runs/{run.id}",
        "html_url": page,
        "details_url": run.details_url or page,
        "status": run.status,
        "conclusion": run.conclusion,
        "started_at": iso(run.started_at),
        "completed_at": iso(run.completed_at),
        "name": run.name,
        "output": {
            "title": run.title,
            "summary": run.summary,
            "text": run.text,
            "annotations_count": len(run.annotations),
            "annotations_url": f"{api}/check-runs/{run.id}/annotations",
        },
    }


def check_run_json(emu: Emulator, run: CheckRun) -> dict[str, Any]:
    repo = emu.repo(run.repo)
    api = f"{emu.api_url}/repos/{repo.full_name}"
    data = template(emu, "check-run")
    pulls = []
    for issue in emu.pulls_with_head(repo.full_name, run.head_sha):
        pulls.append(
            {
                "id": issue.pr_id,
                "number": issue.number,
                "url": f"{api}/pulls/{issue.number}",
                "head": {
                    "ref": issue.head_ref,
                    "sha": issue.head_sha,
                    "repo": {"id": repo.id, "url": api, "name": repo.name},
                },
                "base": {
                    "ref": issue.base_ref,
                    "sha": emu.base_sha(issue),
                    "repo": {"id": repo.id, "url": api, "name": repo.name},
                },
            }
        )
    data.update(check_run_fields(emu, run))
    data.update(
        check_suite={"id": run.suite_id},
        app=integration_json(emu, emu.apps[run.app_id]),
        pull_requests=pulls,
    )
    data.pop("deployment", None)
    return data


def _armor_body(armored: str) -> str:
    lines = armored.strip().splitlines()
    body = [line for line in lines[1:-1] if line and ":" not in line and not line.startswith("=")]
    return "".join(body)


def gpg_key_json(emu: Emulator, key: GpgKey, emails: list[str]) -> dict[str, Any]:
    info = key.info
    verified = {e.lower() for e in emails}
    public = _armor_body(info.armored)

    def caps(k: Any) -> dict[str, Any]:
        return {
            "can_sign": k.can_sign,
            "can_encrypt_comms": k.can_encrypt,
            "can_encrypt_storage": k.can_encrypt,
            "can_certify": k.can_certify,
            "created_at": iso(k.created),
            "expires_at": iso(k.expires),
            "revoked": k.revoked,
        }

    return {
        "id": key.id,
        "name": None,
        "primary_key_id": None,
        "key_id": info.key_id,
        "public_key": public,
        "emails": [{"email": e, "verified": e.lower() in verified} for e in info.emails],
        "subkeys": [
            {
                "id": sub_id,
                "primary_key_id": key.id,
                "key_id": sub.key_id,
                "public_key": public,
                "emails": [],
                "subkeys": [],
                "raw_key": None,
                **caps(sub),
            }
            for sub_id, sub in zip(key.subkey_ids, info.subkeys, strict=False)
        ],
        **caps(info),
        "raw_key": info.armored,
    }


def paginate(ctx: Ctx, items: list[Any], default: int = 30) -> tuple[list[Any], dict[str, str]]:
    per_page = max(1, min(ctx.qint("per_page", default), 100))
    page = max(1, ctx.qint("page", 1))
    last = max(1, math.ceil(len(items) / per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    links = []
    base = f"{ctx.emu.api_url}{ctx.path}"
    others = [(k, v) for k, vs in ctx.query.items() if k not in ("page", "per_page") for v in vs]

    def link(n: int, rel: str) -> str:
        return f'<{base}?{urlencode([*others, ("per_page", per_page), ("page", n)])}>; rel="{rel}"'

    if page > 1:
        links += [link(page - 1, "prev"), link(1, "first")]
    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    return chunk, ({"Link": ", ".join(links)} if links else {})


# ---- handlers ----------------------------------------------------------------------------------------------------


def get_authenticated(ctx: Ctx) -> Resp:
    assert ctx.auth.app
    return Resp(200, integration_json(ctx.emu, ctx.auth.app))


def create_installation_token(ctx: Ctx) -> Resp:
    emu = ctx.emu
    inst = emu.installations.get(int(ctx.params["installation_id"]))
    if inst is None or ctx.auth.app is None or inst.app_id != ctx.auth.app.id:
        return not_found("https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app")
    repos = list(inst.repositories)
    body = ctx.body or {}
    wanted = [f"{inst.account}/{name}" if "/" not in name else name for name in body.get("repositories") or []]
    wanted += [r.full_name for r in emu.repos.values() if r.id in set(body.get("repository_ids") or [])]
    if wanted:
        allowed = {r.lower() for r in repos}
        missing = [w for w in wanted if w.lower() not in allowed]
        if missing:
            return error(
                422,
                "There is at least one repository that does not exist or is not accessible to the parent installation.",
            )
        repos = [emu.repo(w).full_name for w in wanted]
    token = Token(
        "ghs_" + secrets.token_urlsafe(27).replace("-", "a").replace("_", "b")[:36],
        inst.id,
        time.time() + emu.token_ttl,
        repos,
    )
    emu.tokens[token.token] = token
    app = emu.apps[inst.app_id]
    return Resp(
        201,
        {
            "token": token.token,
            "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(token.expires_at)),
            "permissions": dict(body.get("permissions") or app.permissions),
            "repository_selection": "selected",
            "repositories": [repo_json(emu, emu.repo(r), "repository") for r in repos],
        },
    )


def get_repo_installation(ctx: Ctx) -> Resp:
    assert ctx.repo and ctx.auth.app
    for inst in ctx.emu.installations.values():
        if inst.app_id == ctx.auth.app.id and ctx.repo.full_name in inst.repositories:
            return Resp(200, installation_json(ctx.emu, inst))
    return not_found()


def get_repo(ctx: Ctx) -> Resp:
    assert ctx.repo
    return Resp(200, repo_json(ctx.emu, ctx.repo))


def list_gpg_keys(ctx: Ctx) -> Resp:
    user = ctx.emu.find_user(ctx.params["username"])
    if user is None:
        return not_found()
    items, headers = paginate(ctx, [gpg_key_json(ctx.emu, k, user.emails) for k in user.gpg_keys])
    return Resp(200, items, headers)


ROLE_TO_PERMISSION = {"admin": "admin", "maintain": "write", "write": "write", "triage": "read", "read": "read"}


def collaborator_permission(ctx: Ctx) -> Resp:
    assert ctx.repo
    user = ctx.emu.find_user(ctx.params["username"])
    if user is None:
        return error(404, f"{ctx.params['username']} is not a user")
    role = ctx.emu.role(ctx.repo, user.login)
    data: dict[str, Any] = {
        "permission": ROLE_TO_PERMISSION.get(role, "none"),
        "role_name": role,
        "user": user_json(ctx.emu, user.login),
    }
    data["user"]["permissions"] = {
        "admin": role == "admin",
        "maintain": role in ("admin", "maintain"),
        "push": role in ("admin", "maintain", "write"),
        "triage": role in ("admin", "maintain", "write", "triage"),
        "pull": role != "none",
    }
    data["user"]["role_name"] = role
    return Resp(200, data)


def _issue(ctx: Ctx, number: str) -> Issue | None:
    assert ctx.repo
    try:
        return ctx.emu.issues.get((ctx.repo.full_name.lower(), int(number)))
    except ValueError:
        return None


def get_issue(ctx: Ctx) -> Resp:
    issue = _issue(ctx, ctx.params["issue_number"])
    if issue is None:
        return not_found("https://docs.github.com/rest/issues/issues#get-an-issue")
    return Resp(200, issue_json(ctx.emu, issue))


def get_pull(ctx: Ctx) -> Resp:
    issue = _issue(ctx, ctx.params["pull_number"])
    if issue is None or not issue.is_pr:
        return not_found("https://docs.github.com/rest/pulls/pulls#get-a-pull-request")
    return Resp(200, pr_json(ctx.emu, issue))


def list_comments(ctx: Ctx) -> Resp:
    assert ctx.repo
    issue = _issue(ctx, ctx.params["issue_number"])
    if issue is None:
        return not_found("https://docs.github.com/rest/issues/comments#list-issue-comments")
    comments = ctx.emu.comment_list(ctx.repo.full_name, issue.number)
    since = ctx.q("since")
    if since:
        comments = [c for c in comments if (iso(c.updated_at) or "") >= since]
    items, headers = paginate(ctx, [comment_json(ctx.emu, c) for c in comments])
    return Resp(200, items, headers)


def _too_long(doc: str) -> Resp:
    return error(
        422,
        "Validation Failed",
        doc,
        errors=[
            {
                "resource": "IssueComment",
                "code": "unprocessable",
                "field": "data",
                "message": f"Body is too long (maximum is {MAX_COMMENT} characters)",
            }
        ],
    )


def _actor(ctx: Ctx) -> tuple[str, int | None] | None:
    """(login, app id) of whoever acts with this request's credentials."""
    if ctx.auth.kind == "installation" and ctx.auth.installation:
        app = ctx.emu.apps[ctx.auth.installation.app_id]
        return app.bot_login, app.id
    return None


def create_comment(ctx: Ctx) -> Resp:
    assert ctx.repo
    doc = "https://docs.github.com/rest/issues/comments#create-an-issue-comment"
    issue = _issue(ctx, ctx.params["issue_number"])
    if issue is None:
        return not_found(doc)
    actor = _actor(ctx)
    if actor is None:
        return error(401, "Requires authentication", doc)
    body = ctx.body["body"]
    if len(body) > MAX_COMMENT:
        return _too_long(doc)
    comment = ctx.emu.new_comment(ctx.repo.full_name, issue.number, actor[0], body, actor[1])
    data = comment_json(ctx.emu, comment)
    return Resp(201, data, {"Location": data["url"]})


def _comment(ctx: Ctx) -> Comment | None:
    assert ctx.repo
    comment = ctx.emu.comments_by_id.get(int(ctx.params["comment_id"]))
    if comment is None or comment.repo.lower() != ctx.repo.full_name.lower():
        return None
    return comment


def update_comment(ctx: Ctx) -> Resp:
    doc = "https://docs.github.com/rest/issues/comments#update-an-issue-comment"
    comment = _comment(ctx)
    if comment is None:
        return not_found(doc)
    if _actor(ctx) is None:
        return error(401, "Requires authentication", doc)
    body = ctx.body["body"]
    if len(body) > MAX_COMMENT:
        return _too_long(doc)
    comment.body = body
    comment.history.append(body)
    comment.updated_at = now()
    return Resp(200, comment_json(ctx.emu, comment))


def create_reaction(ctx: Ctx) -> Resp:
    comment = _comment(ctx)
    if comment is None:
        return not_found("https://docs.github.com/rest/reactions/reactions#create-reaction-for-an-issue-comment")
    actor = _actor(ctx)
    if actor is None:
        return error(401, "Requires authentication")
    content = ctx.body["content"]
    for reaction in ctx.emu.reaction_list:
        if reaction.comment_id == comment.id and reaction.user == actor[0] and reaction.content == content:
            return Resp(200, reaction_json(ctx.emu, reaction))
    rid = ctx.emu.next_id()
    reaction = Reaction(rid, node_id("Reaction", rid), comment.id, content, actor[0])
    ctx.emu.reaction_list.append(reaction)
    return Resp(201, reaction_json(ctx.emu, reaction))


def _apply_run(ctx: Ctx, run: CheckRun, body: dict[str, Any]) -> None:
    from datetime import datetime

    def when(text: str) -> Any:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    for key in ("name", "external_id", "details_url"):
        if key in body:
            setattr(run, key, body[key])
    if "status" in body:
        run.status = body["status"]
        if run.status == "in_progress" and run.started_at is None:
            run.started_at = now()
    if body.get("started_at"):
        run.started_at = when(body["started_at"])
    if body.get("conclusion"):
        run.conclusion = body["conclusion"]
        run.status = "completed"
    if body.get("completed_at"):
        run.completed_at = when(body["completed_at"])
    if run.status == "completed" and run.completed_at is None:
        run.completed_at = now()
    if run.status == "completed" and not run.conclusion:
        run.conclusion = "neutral"  # GitHub would have refused; stays defined
    output = body.get("output")
    if output:
        run.title = output.get("title", run.title)
        run.summary = output.get("summary", run.summary)
        if "text" in output:
            run.text = output["text"]
        for annotation in output.get("annotations") or []:
            run.annotations.append(
                {
                    "path": annotation["path"],
                    "start_line": annotation["start_line"],
                    "end_line": annotation["end_line"],
                    "start_column": annotation.get("start_column"),
                    "end_column": annotation.get("end_column"),
                    "annotation_level": annotation["annotation_level"],
                    "title": annotation.get("title"),
                    "message": annotation["message"],
                    "raw_details": annotation.get("raw_details"),
                    "blob_href": f"{ctx.emu.url}/{run.repo}/blob/{run.head_sha}/{annotation['path']}",
                }
            )
    if "actions" in body:
        run.actions = list(body["actions"] or [])


def _run_checks(body: dict[str, Any]) -> Resp | None:
    if body.get("status") == "completed" and not body.get("conclusion"):
        return error(
            422,
            'Invalid request.\n\n`conclusion` is required when `status` is "completed".',
            "https://docs.github.com/rest/checks/runs",
        )
    annotations = (body.get("output") or {}).get("annotations") or []
    if len(annotations) > MAX_ANNOTATIONS:
        return error(
            422,
            f"Invalid request.\n\nNo more than {MAX_ANNOTATIONS} items are allowed; {len(annotations)} were supplied.",
            "https://docs.github.com/rest/checks/runs",
        )
    return None


def create_check_run(ctx: Ctx) -> Resp:
    emu = ctx.emu
    assert ctx.repo
    if ctx.auth.kind != "installation" or ctx.auth.installation is None:
        return error(403, "You must authenticate via a GitHub App.", "https://docs.github.com/rest/checks/runs")
    body = ctx.body
    refused = _run_checks(body)
    if refused:
        return refused
    sha = body["head_sha"]
    if ctx.repo.git.info(sha) is None or len(sha) != 40:
        return error(
            422,
            "Validation Failed",
            "https://docs.github.com/rest/checks/runs#create-a-check-run",
            errors=[{"resource": "CheckRun", "code": "invalid", "field": "head_sha"}],
        )
    app_id = ctx.auth.installation.app_id
    suite = emu.suite_for(ctx.repo.full_name, sha, app_id)
    rid = emu.next_id()
    run = CheckRun(rid, node_id("CheckRun", rid), ctx.repo.full_name, sha, body["name"], suite.id, app_id)
    run.started_at = now()
    _apply_run(ctx, run, body)
    emu.check_run_map[rid] = run
    return Resp(201, check_run_json(emu, run))


def update_check_run(ctx: Ctx) -> Resp:
    emu = ctx.emu
    assert ctx.repo
    run = emu.check_run_map.get(int(ctx.params["check_run_id"]))
    if run is None or run.repo.lower() != ctx.repo.full_name.lower():
        return not_found("https://docs.github.com/rest/checks/runs#update-a-check-run")
    if ctx.auth.installation is None or ctx.auth.installation.app_id != run.app_id:
        return error(403, "Invalid app_id - check run can only be modified by the GitHub App that created it.")
    refused = _run_checks(ctx.body)
    if refused:
        return refused
    _apply_run(ctx, run, ctx.body)
    return Resp(200, check_run_json(emu, run))


def list_check_runs(ctx: Ctx) -> Resp:
    emu = ctx.emu
    assert ctx.repo
    ref = ctx.params["ref"]
    sha = ctx.repo.git.rev_parse(ref)
    if sha is None:
        return error(422, f"No commit found for SHA: {ref}", "https://docs.github.com/rest/checks/runs")
    runs = [r for r in emu.check_run_map.values() if r.repo.lower() == ctx.repo.full_name.lower() and r.head_sha == sha]
    if ctx.q("check_name"):
        runs = [r for r in runs if r.name == ctx.q("check_name")]
    if ctx.q("status"):
        runs = [r for r in runs if r.status == ctx.q("status")]
    if ctx.q("app_id"):
        runs = [r for r in runs if str(r.app_id) == ctx.q("app_id")]
    runs.sort(key=lambda r: r.id, reverse=True)
    if ctx.q("filter", "latest") == "latest":
        seen: set[tuple[int, str]] = set()
        latest = []
        for run in runs:
            if (run.app_id, run.name) not in seen:
                seen.add((run.app_id, run.name))
                latest.append(run)
        runs = latest
    items, headers = paginate(ctx, runs)
    return Resp(200, {"total_count": len(runs), "check_runs": [check_run_json(emu, r) for r in items]}, headers)


def get_content(ctx: Ctx) -> Resp:
    emu = ctx.emu
    repo = ctx.repo
    assert repo
    doc = "https://docs.github.com/rest/repos/contents#get-repository-content"
    path = ctx.params.get("path", "").strip("/")
    ref = ctx.q("ref") or repo.default_branch
    sha = repo.git.rev_parse(ref)
    if sha is None:
        return error(404, f"No commit found for the ref {ref}", doc)
    info = repo.git.info(f"{sha}:{path}")
    if info is None:
        return not_found(doc)
    api = f"{emu.api_url}/repos/{repo.full_name}"

    def entry(p: str, oid: str, kind: str, size: int) -> dict[str, Any]:
        html_kind = "tree" if kind == "dir" else "blob"
        data = {
            "name": p.rsplit("/", 1)[-1],
            "path": p,
            "sha": oid,
            "size": size,
            "url": f"{api}/contents/{quote(p)}?ref={quote(ref)}",
            "html_url": f"{emu.url}/{repo.full_name}/{html_kind}/{ref}/{p}",
            "git_url": f"{api}/git/{'trees' if kind == 'dir' else 'blobs'}/{oid}",
            "download_url": f"{emu.url}/{repo.full_name}/raw/{ref}/{p}" if kind == "file" else None,
            "type": kind,
        }
        data["_links"] = {"self": data["url"], "git": data["git_url"], "html": data["html_url"]}
        return data

    if info.type == "tree":
        items = []
        for e in repo.git.tree(info.oid):
            kind = {"blob": "file", "tree": "dir", "commit": "submodule"}[e.type]
            if e.mode == "120000":
                kind = "symlink"
            size = repo.git.info(e.oid).size if e.type == "blob" else 0  # type: ignore[union-attr]
            items.append(entry(f"{path}/{e.name}" if path else e.name, e.oid, kind, size))
        return Resp(200, items)
    content = repo.git.blob(info.oid)
    accept = ctx.headers.get("accept", "")
    if "application/vnd.github.raw" in accept or "application/vnd.github.v3.raw" in accept:
        return Resp(200, content, content_type="application/vnd.github.raw; charset=utf-8")
    data = entry(path, info.oid, "file", info.size)
    encoded = base64.b64encode(content).decode() if info.size <= 1024 * 1024 else ""
    data["content"] = "\n".join(encoded[i : i + 60] for i in range(0, len(encoded), 60)) + ("\n" if encoded else "")
    data["encoding"] = "base64" if encoded else "none"
    return Resp(200, data)


HANDLERS: dict[str, Callable[[Ctx], Resp]] = {
    "apps/get-authenticated": get_authenticated,
    "apps/create-installation-access-token": create_installation_token,
    "apps/get-repo-installation": get_repo_installation,
    "repos/get": get_repo,
    "users/list-gpg-keys-for-user": list_gpg_keys,
    "repos/get-collaborator-permission-level": collaborator_permission,
    "issues/get": get_issue,
    "pulls/get": get_pull,
    "issues/list-comments": list_comments,
    "issues/create-comment": create_comment,
    "issues/update-comment": update_comment,
    "reactions/create-for-issue-comment": create_reaction,
    "checks/create": create_check_run,
    "checks/update": update_check_run,
    "checks/list-for-ref": list_check_runs,
    "repos/get-content": get_content,
}

JWT_OPERATIONS = {"apps/get-authenticated", "apps/create-installation-access-token", "apps/get-repo-installation"}
WRITE_METHODS = {"POST", "PATCH", "PUT", "DELETE"}
_SHA = re.compile(r"^[0-9a-f]{40}$")
