"""Which webhook deliveries become jobs: a pure function of the event name and its payload."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.store import Delivery, InstallationUpdate, NewRequest

PR_ACTIONS = frozenset({"opened", "synchronize", "reopened", "edited", "ready_for_review"})
INSTALLATION_ACTIONS = frozenset({"created", "deleted", "suspend", "unsuspend", "new_permissions_accepted"})


@dataclass(frozen=True)
class Plan:
    """What a delivery asks for: jobs to store, an installation change, PRs to find by their head commit."""

    requests: tuple[NewRequest, ...] = ()
    installation: InstallationUpdate | None = None
    head_lookup: tuple[str, str, int, str] | None = None  # (repo, head sha, installation id, trigger)

    @property
    def relevant(self) -> bool:
        """Whether the delivery matters to the bot."""
        return bool(self.requests or self.installation or self.head_lookup)


def dig(data: Any, *keys: str) -> Any:
    """data[k1][k2]..., or None where a level is missing or not a mapping."""
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def delivery_of(event: str, delivery_id: str, payload: dict[str, Any]) -> Delivery:
    """The delivery's row in the store."""
    action = _str(payload.get("action"))
    return Delivery(delivery_id, event, action, _str(dig(payload, "repository", "full_name")),
                    _int(dig(payload, "installation", "id")))  # fmt: skip


def plan(event: str, payload: dict[str, Any], check_name: str, app_id: int | None = None) -> Plan:
    """The plan for one verified delivery (an empty plan: ignored)."""
    action = _str(payload.get("action"))  # a list or a mapping here must not reach a set lookup below
    repo = _str(dig(payload, "repository", "full_name"))
    installation = _int(dig(payload, "installation", "id"))
    if event in ("installation", "installation_repositories"):
        return Plan(installation=_installation(event, action, payload))
    if repo is None or installation is None:
        return Plan()  # a repository event not delivered to an installation: nothing to act as
    if event == "pull_request" and action in PR_ACTIONS:
        number = _int(dig(payload, "pull_request", "number")) or _int(payload.get("number"))
        if number is None or dig(payload, "pull_request", "state") not in (None, "open"):
            return Plan()
        head = _str(dig(payload, "pull_request", "head", "sha"))
        return Plan((NewRequest(repo, number, installation, f"pull_request.{action}", head_sha=head),))
    if event == "issue_comment" and action == "created":
        return _comment(payload, repo, installation)
    if event in ("check_run", "check_suite") and action == "rerequested":
        run = payload.get(event)
        if event == "check_run" and dig(run, "name") != check_name:
            return Plan()
        if app_id is not None and _int(dig(run, "app", "id")) not in (None, app_id):
            return Plan()
        head = _str(dig(run, "head_sha"))
        pulls = dig(run, "pull_requests")
        numbers = sorted({n for p in (pulls if isinstance(pulls, list) else []) if (n := _int(dig(p, "number")))})
        trigger = f"{event}.rerequested"
        requests = tuple(NewRequest(repo, n, installation, trigger, head_sha=head) for n in numbers)
        return Plan(requests, head_lookup=(repo, head, installation, trigger) if head else None)
    return Plan()


def _comment(payload: dict[str, Any], repo: str, installation: int) -> Plan:
    comment = payload.get("comment")
    number = _int(dig(payload, "issue", "number"))
    if dig(payload, "issue", "pull_request") is None or number is None or not isinstance(comment, dict):
        return Plan()  # a comment on an issue, not on a pull request
    if dig(payload, "sender", "type") == "Bot" or dig(comment, "user", "type") == "Bot":
        return Plan()
    if comment.get("performed_via_github_app"):
        return Plan()
    body, login, comment_id = _str(comment.get("body")), _str(dig(comment, "user", "login")), _int(comment.get("id"))
    if body is None or login is None or comment_id is None:
        return Plan()
    details = {"body": body, "login": login, "url": _str(comment.get("html_url")), "node_id": comment.get("node_id")}
    return Plan((NewRequest(repo, number, installation, "issue_comment", kind="comment",
                            command_comment_id=comment_id, details=details),))  # fmt: skip


def _names(items: Any) -> tuple[str, ...]:
    return tuple(n for item in (items if isinstance(items, list) else []) if (n := _str(dig(item, "full_name"))))


def _installation(event: str, action: Any, payload: dict[str, Any]) -> InstallationUpdate | None:
    number = _int(dig(payload, "installation", "id"))
    if number is None:
        return None
    account = _str(dig(payload, "installation", "account", "login"))
    if event == "installation_repositories":
        if action not in ("added", "removed"):
            return None
        added, removed = _names(payload.get("repositories_added")), _names(payload.get("repositories_removed"))
        return InstallationUpdate(number, account, added=added, removed=removed)
    if action not in INSTALLATION_ACTIONS:
        return None
    repositories = _names(payload.get("repositories")) if isinstance(payload.get("repositories"), list) else None
    suspended = {"suspend": True, "unsuspend": False}.get(str(action))
    if action == "created":
        suspended = False
    return InstallationUpdate(number, account, repositories, suspended=suspended, deleted=action == "deleted")
