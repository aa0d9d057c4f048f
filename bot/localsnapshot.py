"""A pull request snapshot from a local repository: git for commits and files, GnuPG for signatures."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace

from bot.checks.rules import is_rules_file
from bot.gitrepo import LocalRepository
from bot.gpg import verify_signature
from bot.models import IssueFacts, PullRequestSnapshot
from bot.policy import Policy

_ISSUE = re.compile(r"^(?:(?P<repo>[^#\s]+/[^#\s]+))?#(?P<num>[0-9]+)=(?P<state>open|closed|missing|pr)$")


def parse_issue_fact(text: str, repo: str) -> IssueFacts | None:
    """`[owner/repo]#N=open|closed|missing|pr`, what the contributor says about an issue (no GitHub here)."""
    match = _ISSUE.match(text.strip())
    if match is None:
        return None
    state = match.group("state")
    return IssueFacts(
        match.group("repo") or repo,
        int(match.group("num")),
        exists=state != "missing",
        is_pull_request=state == "pr",
        state=state if state in ("open", "closed") else "open",
    )


def local_snapshot(
    path: str,
    base: str,
    head: str,
    policy: Policy,
    title: str = "",
    body: str = "",
    repo_name: str = "local/repository",
    issues: Sequence[IssueFacts] = (),
    gnupghome: str | None = None,
    on_commit: Callable[[int, int], None] | None = None,
) -> PullRequestSnapshot:
    """base..head of the repository at `path`, reviewed as the App would review a pull request; `on_commit` is told
    (done, total) as each commit is read and its signature verified."""
    local = LocalRepository(path)
    base_sha, head_sha = local.resolve(base), local.resolve(head)
    found = list(local.commits(base_sha, head_sha))
    commits = []
    for done, commit in enumerate(found, start=1):
        sig = commit.signature
        if sig.kind == "gpg" and sig.signature_armor and sig.signed_payload:
            verified = verify_signature(sig.signature_armor, sig.signed_payload, gnupghome=gnupghome)
            commit = replace(commit, signature=replace(sig, local=verified))
        commits.append(commit)
        if on_commit is not None:
            on_commit(done, len(found))
    patterns = policy.get("rules_files.patterns")
    every_rules_file = tuple(f for f in local.files_at(head_sha) if is_rules_file(f.path, patterns))
    changed = local.changed_files(base_sha, head_sha)
    changed_paths = {f.path for f in changed}
    at_head = tuple(f for f in changed if is_rules_file(f.path, patterns)) + tuple(
        f for f in every_rules_file if f.path not in changed_paths
    )
    return PullRequestSnapshot(
        repo=repo_name, number=None, title=title, body=body, author=None, base_ref=base,
        default_branch=base, base_sha=base_sha, head_sha=head_sha, commits=tuple(commits), files=changed,
        linked_issues=tuple(issues), rules_files_at_head=at_head,
    )  # fmt: skip
