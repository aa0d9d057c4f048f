"""Webhook deliveries: real example payloads (@octokit/webhooks-examples) adjusted to the emulator's state, signed."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import uuid
from functools import cache
from typing import TYPE_CHECKING, Any

from . import specs
from .rest import check_run_fields, pull_fields, rehost, swap
from .state import App, iso, node_id, now

if TYPE_CHECKING:
    from .core import Emulator
    from .state import Issue, Repository

HOOKSHOT = "GitHub-Hookshot/8a6e2c1"


def signature_256(secret: str | bytes, payload: bytes) -> str:
    """The X-Hub-Signature-256 header value of `payload` under `secret`."""
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, payload, hashlib.sha256).hexdigest()


def signature_1(secret: str | bytes, payload: bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha1=" + hmac.new(key, payload, hashlib.sha1).hexdigest()


def schema_errors(event: str, action: str | None, payload: dict[str, Any]) -> list[str]:
    """What the vendored webhooks JSON schema says of `payload` (empty: valid)."""
    import jsonschema  # type: ignore[import-untyped]

    schema = specs.webhooks_schema()
    key = f"{event}${action or 'event'}"
    if key not in schema["definitions"]:
        key = f"{event}_event"
    sub = {"$schema": schema["$schema"], "definitions": schema["definitions"], "$ref": f"#/definitions/{key}"}
    validator = jsonschema.Draft7Validator(sub, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in validator.iter_errors(payload)]


@cache
def _valid_examples(event: str, action: str) -> tuple[int, ...]:
    examples = specs.webhook_examples()[event][action]
    return tuple(
        i for i, e in enumerate(examples) if not schema_errors(event, None if action == "event" else action, e)
    )


def example(event: str, action: str | None) -> dict[str, Any]:
    """The first real example of event/action that its schema accepts (else the first one); for a pull_request
    action without example, the `opened` one with its action replaced."""
    by_action = specs.webhook_examples().get(event)
    if by_action is None:
        raise KeyError(f"no vendored webhook examples of {event}")
    key = action or "event"
    if key not in by_action:
        if event != "pull_request":
            raise KeyError(f"no vendored example of {event}.{key}")
        data = example(event, "opened")
        data["action"] = action
        return data
    valid = _valid_examples(event, key)
    return copy.deepcopy(by_action[key][valid[0] if valid else 0])


# ---- objects -----------------------------------------------------------------------------------------------------


def _user(emu: Emulator, login: str, template: dict[str, Any]) -> dict[str, Any]:
    user = emu.user(login)
    data = swap(template, "/" + template.get("login", "Codertocat"), "/" + user.login)
    data.update(
        login=user.login,
        id=user.id,
        node_id=user.node_id,
        type=user.type,
        site_admin=False,
        avatar_url=f"{emu.url}/avatars/u/{user.id}?v=4",
    )
    if "name" in data:
        data["name"] = user.name
    if "email" in data:
        data["email"] = user.email
    return data


def _repo(emu: Emulator, repo: Repository, template: dict[str, Any]) -> dict[str, Any]:
    data = swap(template, template.get("full_name", "Codertocat/Hello-World"), repo.full_name)
    data.update(
        id=repo.id,
        node_id=repo.node_id,
        name=repo.name,
        full_name=repo.full_name,
        private=repo.private,
        fork=repo.fork_of is not None,
        default_branch=repo.default_branch,
        html_url=f"{emu.url}/{repo.full_name}",
        url=f"{emu.api_url}/repos/{repo.full_name}",
    )
    if "owner" in data:
        data["owner"] = _user(emu, repo.owner, data["owner"])
    for key, value in (
        ("clone_url", f"{emu.url}/{repo.full_name}.git"),
        ("git_url", f"{emu.url}/{repo.full_name}.git"),
        ("svn_url", f"{emu.url}/{repo.full_name}"),
        ("visibility", "private" if repo.private else "public"),
    ):
        if key in data:
            data[key] = value
    return data


def _app(emu: Emulator, app: App, template: dict[str, Any]) -> dict[str, Any]:
    data = dict(template)
    data.update(
        id=app.id,
        slug=app.slug,
        node_id=app.node_id,
        name=app.name,
        description="",
        external_url=f"{emu.url}/{app.owner}",
        html_url=f"{emu.url}/apps/{app.slug}",
        created_at=iso(app.created_at),
        updated_at=iso(app.created_at),
        permissions=dict(app.permissions),
        events=list(app.events),
    )
    if data.get("owner"):
        data["owner"] = _user(emu, app.owner, data["owner"])
    if "client_id" in data:
        data["client_id"] = app.client_id
    return data


def _pull_minimal(emu: Emulator, issue: Issue) -> dict[str, Any]:
    repo = emu.repo(issue.repo)
    ref = {"id": repo.id, "url": f"{emu.api_url}/repos/{repo.full_name}", "name": repo.name}
    return {
        "url": f"{emu.api_url}/repos/{repo.full_name}/pulls/{issue.number}",
        "id": issue.pr_id,
        "number": issue.number,
        "head": {"ref": issue.head_ref, "sha": issue.head_sha, "repo": ref},
        "base": {"ref": issue.base_ref, "sha": emu.base_sha(issue), "repo": ref},
    }


def _pull_request(emu: Emulator, issue: Issue, template: dict[str, Any]) -> dict[str, Any]:
    repo = emu.repo(issue.repo)
    head_repo = emu.repo(issue.head_repo) if issue.head_repo else repo
    api = f"{emu.api_url}/repos/{repo.full_name}"
    html = f"{emu.url}/{repo.full_name}"
    n = issue.number
    stats = emu.pr_stats(issue)
    data = swap(template, template["base"]["repo"]["full_name"], repo.full_name)

    def side(key: str, ref: str, sha: str, side_repo: Repository) -> dict[str, Any]:
        part = dict(data[key])
        part.update(
            label=f"{side_repo.owner}:{ref}",
            ref=ref,
            sha=sha,
            user=_user(emu, side_repo.owner, part["user"]),
            repo=_repo(emu, side_repo, part["repo"]),
        )
        return part

    from .rest import author_association

    data.update(pull_fields(emu, issue))
    data.update(
        user=_user(emu, issue.author, data["user"]),
        body=issue.body or None,
        labels=[],
        milestone=None,
        head=side("head", issue.head_ref, issue.head_sha, head_repo),
        base=side("base", issue.base_ref, emu.base_sha(issue), repo),
        author_association=author_association(emu, repo, issue.author),
        draft=issue.draft,
        merged=issue.merged,
        mergeable=None,
        rebaseable=None,
        mergeable_state="unknown",
        merged_by=None,
        comments=len(emu.comment_list(repo.full_name, n)),
        review_comments=0,
        commits=stats["commits"],
        additions=stats["additions"],
        deletions=stats["deletions"],
        changed_files=stats["changed_files"],
    )
    if "auto_merge" in data:
        data["auto_merge"] = None
    if "active_lock_reason" in data:
        data["active_lock_reason"] = None
    data["_links"] = {
        "self": {"href": f"{api}/pulls/{n}"},
        "html": {"href": f"{html}/pull/{n}"},
        "issue": {"href": f"{api}/issues/{n}"},
        "comments": {"href": f"{api}/issues/{n}/comments"},
        "review_comments": {"href": f"{api}/pulls/{n}/comments"},
        "review_comment": {"href": f"{api}/pulls/comments{{/number}}"},
        "commits": {"href": f"{api}/pulls/{n}/commits"},
        "statuses": {"href": f"{api}/statuses/{issue.head_sha}"},
    }
    return data


def _issue(emu: Emulator, issue: Issue, template: dict[str, Any]) -> dict[str, Any]:
    from .rest import author_association

    repo = emu.repo(issue.repo)
    api = f"{emu.api_url}/repos/{repo.full_name}"
    html = f"{emu.url}/{repo.full_name}"
    data = swap(template, template["repository_url"].split("/repos/")[1], repo.full_name)
    data.update(
        url=f"{api}/issues/{issue.number}",
        repository_url=api,
        labels_url=f"{api}/issues/{issue.number}/labels{{/name}}",
        comments_url=f"{api}/issues/{issue.number}/comments",
        events_url=f"{api}/issues/{issue.number}/events",
        html_url=f"{html}/{'pull' if issue.is_pr else 'issues'}/{issue.number}",
        id=issue.id,
        node_id=issue.node_id,
        number=issue.number,
        title=issue.title,
        user=_user(emu, issue.author, data["user"]),
        labels=[],
        state=issue.state,
        locked=False,
        assignee=None,
        assignees=[],
        milestone=None,
        comments=len(emu.comment_list(repo.full_name, issue.number)),
        created_at=iso(issue.created_at),
        updated_at=iso(issue.updated_at),
        closed_at=iso(issue.closed_at),
        author_association=author_association(emu, repo, issue.author),
        body=issue.body or None,
    )
    if "timeline_url" in data:
        data["timeline_url"] = f"{api}/issues/{issue.number}/timeline"
    if "state_reason" in data:
        data["state_reason"] = "completed" if issue.state == "closed" else None
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


def _installation_lite(emu: Emulator, installation_id: int) -> dict[str, Any]:
    return {"id": installation_id, "node_id": node_id("IntegrationInstallation", installation_id)}


def _installation(emu: Emulator, installation_id: int, template: dict[str, Any]) -> dict[str, Any]:
    inst = emu.installations[installation_id]
    app = emu.apps[inst.app_id]
    account = emu.user(inst.account)
    data = dict(template)
    data.update(
        id=inst.id,
        account=_user(emu, inst.account, template["account"]),
        repository_selection="selected",
        access_tokens_url=f"{emu.api_url}/app/installations/{inst.id}/access_tokens",
        repositories_url=f"{emu.api_url}/installation/repositories",
        html_url=f"{emu.url}/settings/installations/{inst.id}",
        app_id=app.id,
        target_id=account.id,
        target_type="Organization" if account.type == "Organization" else "User",
        permissions=dict(app.permissions),
        events=list(app.events),
    )
    for key in ("created_at", "updated_at"):
        if key in data:
            data[key] = int(inst.created_at.timestamp()) if isinstance(data[key], int) else iso(inst.created_at)
    if "app_slug" in data:
        data["app_slug"] = app.slug
    if "client_id" in data:
        data["client_id"] = app.client_id
    return data


def _repo_ref(emu: Emulator, full_name: str) -> dict[str, Any]:
    repo = emu.repo(full_name)
    return {
        "id": repo.id,
        "node_id": repo.node_id,
        "name": repo.name,
        "full_name": repo.full_name,
        "private": repo.private,
    }


# ---- build -------------------------------------------------------------------------------------------------------


def build(
    emu: Emulator,
    event: str,
    action: str | None = None,
    *,
    repo: str | None = None,
    number: int | None = None,
    installation: int | None = None,
    app: App | None = None,
    comment_id: int | None = None,
    check_run_id: int | None = None,
    head_sha: str | None = None,
    sender: str | None = None,
    changes: dict[str, Any] | None = None,
    before: str | None = None,
    repositories: list[str] | None = None,
    delivery: str | None = None,
    hook_id: int = 4242,
    target_url: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a delivery of `event` (`action`), signed with the App's webhook secret.

    `repo`, `number` (pull_request, issue_comment), `comment_id` (issue_comment), `check_run_id` (check_run),
    `head_sha` (check_suite), `repositories` (installation*, default: the installation's), `sender` (default: the
    natural actor), `changes` (edited), `before` (synchronize, default: the previous head), `delivery` (reuse a
    GUID, as a redelivery does)."""
    with emu.lock:
        if repo is None and comment_id is not None and event == "issue_comment":
            repo = emu.comments_by_id[comment_id].repo
        if repo is None and check_run_id is not None and event == "check_run":
            repo = emu.check_run_map[check_run_id].repo
        if app is None:
            found = emu.installation_for(repo) if installation is None and repo is not None else None
            if found is not None:
                installation = found.id
            if installation is not None:
                app = emu.apps[emu.installations[installation].app_id]
            elif len(emu.apps) == 1:
                app = next(iter(emu.apps.values()))
            else:
                raise ValueError("say which app the delivery is for (app=...)")
        if installation is None and repo is not None:
            inst = emu.installation_for(repo, app)
            installation = inst.id if inst else None
        if installation is None and event in ("installation", "installation_repositories"):
            installation = next((i.id for i in emu.installations.values() if i.app_id == app.id), None)
        payload = rehost(emu, example(event, action))
        repository = emu.repo(repo) if repo else None
        natural_sender: str | None = None

        if event == "pull_request":
            assert repository is not None and number is not None, "pull_request needs repo= and number="
            issue = emu.issue(repository.full_name, number)
            payload["number"] = number
            payload["pull_request"] = _pull_request(emu, issue, payload["pull_request"])
            natural_sender = issue.author
            if action == "synchronize":
                history = issue.head_history
                payload["before"] = before or (history[-2] if len(history) > 1 else history[-1])
                payload["after"] = issue.head_sha
            if action == "edited":
                payload["changes"] = changes or {}
        elif event == "issue_comment":
            if comment_id is None:
                raise ValueError("issue_comment needs comment_id=")
            comment = emu.comments_by_id[comment_id]
            issue = emu.issue(comment.repo, comment.number)
            payload["issue"] = _issue(emu, issue, payload["issue"])
            from .rest import comment_json

            template = payload["comment"]
            made = comment_json(emu, comment)
            made["user"] = _user(emu, comment.author, template["user"])
            if "reactions" in template:
                made["reactions"] = dict(
                    template["reactions"],
                    url=f"{made['url']}/reactions",
                    total_count=0,
                    **{k: 0 for k in ("+1", "-1", "laugh", "hooray", "confused", "heart", "rocket", "eyes")},
                )
            made.pop("pin", None)
            made.pop("minimized", None)
            if comment.app_id:
                made["performed_via_github_app"] = _app(emu, emu.apps[comment.app_id], _app_template())
            payload["comment"] = {k: made.get(k, v) for k, v in template.items()} | {
                k: v for k, v in made.items() if k in ("performed_via_github_app",)
            }
            natural_sender = comment.author
            if action == "edited":
                payload["changes"] = changes or {"body": {"from": comment.body}}
        elif event == "check_run":
            if check_run_id is None:
                raise ValueError("check_run needs check_run_id=")
            run = emu.check_run_map[check_run_id]
            repository = emu.repo(run.repo)
            payload["check_run"] = _check_run(emu, run, payload["check_run"])
            natural_sender = repository.owner
        elif event == "check_suite":
            assert repository is not None and head_sha is not None, "check_suite needs repo= and head_sha="
            suite = emu.suite_for(repository.full_name, head_sha, app.id)
            payload["check_suite"] = _check_suite(emu, suite, payload["check_suite"])
            natural_sender = repository.owner
        elif event in ("installation", "installation_repositories"):
            assert installation is not None, f"{event} needs an installation"
            inst = emu.installations[installation]
            payload["installation"] = _installation(emu, installation, payload["installation"])
            names = repositories if repositories is not None else inst.repositories
            if event == "installation":
                payload["repositories"] = [_repo_ref(emu, r) for r in names]
            else:
                payload["repositories_added"] = [_repo_ref(emu, r) for r in names] if action == "added" else []
                payload["repositories_removed"] = [_repo_ref(emu, r) for r in names] if action == "removed" else []
                payload["repository_selection"] = "selected"
                if "requester" in payload:
                    payload["requester"] = None
            natural_sender = inst.account
        elif event == "ping":
            candidates = specs.webhook_examples()["ping"]["event"]
            base = next((e for e in candidates if "app_id" in e["hook"]), candidates[0])
            payload = rehost(emu, copy.deepcopy(base))
            payload["hook_id"] = hook_id
            hook = payload["hook"]
            hook.update(
                type="App",
                id=hook_id,
                app_id=app.id,
                events=list(app.events),
                created_at=iso(now()),
                updated_at=iso(now()),
            )
            hook["config"] = {"content_type": "json", "insecure_ssl": "0", "url": target_url or "https://example.com/"}
            hook.pop("test_url", None)
            hook.update(
                url=f"{emu.api_url}/app/hook",
                ping_url=f"{emu.api_url}/app/hook/pings",
                deliveries_url=f"{emu.api_url}/app/hook/deliveries",
            )
            if repository is None:
                payload.pop("repository", None)
                payload.pop("organization", None)
            natural_sender = app.owner
        else:
            raise KeyError(f"the emulator does not build {event} deliveries")

        if repository is not None and "repository" in payload:
            payload["repository"] = _repo(emu, repository, payload["repository"])
        elif repository is not None and event not in ("installation", "installation_repositories", "ping"):
            payload["repository"] = _repo(emu, repository, example("pull_request", "opened")["repository"])
        if "organization" in payload:
            owner = emu.find_user(repository.owner) if repository else None
            if owner is not None and owner.type == "Organization":
                payload["organization"] = swap(payload["organization"], payload["organization"]["login"], owner.login)
                payload["organization"].update(login=owner.login, id=owner.id, node_id=owner.node_id)
            else:
                payload.pop("organization")
        if event not in ("installation", "installation_repositories", "ping"):
            if installation is not None:
                payload["installation"] = _installation_lite(emu, installation)
            else:
                payload.pop("installation", None)
        payload["sender"] = _user(emu, sender or natural_sender or app.owner, payload["sender"])

    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {
        "Accept": "*/*",
        "Content-Type": "application/json",
        "User-Agent": HOOKSHOT,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-GitHub-Event": event,
        "X-GitHub-Hook-ID": str(hook_id),
        "X-GitHub-Hook-Installation-Target-ID": str(app.id),
        "X-GitHub-Hook-Installation-Target-Type": "integration",
        "X-Hub-Signature": signature_1(app.webhook_secret, body),
        "X-Hub-Signature-256": signature_256(app.webhook_secret, body),
    }
    return body, headers


def _app_template() -> dict[str, Any]:
    return copy.deepcopy(specs.webhook_examples()["check_run"]["rerequested"][0]["check_run"]["app"])


def _check_suite(emu: Emulator, suite: Any, template: dict[str, Any]) -> dict[str, Any]:
    repo = emu.repo(suite.repo)
    runs = [r for r in emu.check_run_map.values() if r.suite_id == suite.id]
    done = bool(runs) and all(r.status == "completed" for r in runs)
    data = dict(template)
    commit = repo.git.commit(suite.head_sha)
    data.update(
        id=suite.id,
        node_id=suite.node_id,
        head_branch=suite.head_branch,
        head_sha=suite.head_sha,
        status="completed" if done else "queued",
        conclusion=(runs[-1].conclusion if done else None),
        url=f"{emu.api_url}/repos/{repo.full_name}/check-suites/{suite.id}",
        before=commit.parents[0] if commit.parents else None,
        after=suite.head_sha,
        pull_requests=[_pull_minimal(emu, i) for i in emu.pulls_with_head(repo.full_name, suite.head_sha)],
        app=_app(emu, emu.apps[suite.app_id], template.get("app") or _app_template()),
        created_at=iso(suite.created_at),
        updated_at=iso(now()),
    )
    if "latest_check_runs_count" in data:
        data["latest_check_runs_count"] = len(runs)
    if "check_runs_url" in data:
        data["check_runs_url"] = f"{emu.api_url}/repos/{repo.full_name}/check-suites/{suite.id}/check-runs"
    if "head_commit" in data:
        data["head_commit"] = {
            "id": suite.head_sha,
            "tree_id": commit.tree,
            "message": commit.message,
            "timestamp": iso(commit.committer.date),
            "author": {"name": commit.author.name, "email": commit.author.email},
            "committer": {"name": commit.committer.name, "email": commit.committer.email},
        }
    if "rerun_url" in data:
        data["rerun_url"] = f"{emu.api_url}/repos/{repo.full_name}/check-suites/{suite.id}/rerequest"
    return data


def _check_run(emu: Emulator, run: Any, template: dict[str, Any]) -> dict[str, Any]:
    repo = emu.repo(run.repo)
    data = dict(template)
    data.update(check_run_fields(emu, run))
    data.update(
        check_suite=_check_suite(emu, emu.suites[run.suite_id], template["check_suite"]),
        app=_app(emu, emu.apps[run.app_id], template["app"]),
        pull_requests=[_pull_minimal(emu, i) for i in emu.pulls_with_head(repo.full_name, run.head_sha)],
    )
    return data
