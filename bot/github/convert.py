"""Pure conversion of GitHub's GraphQL answers into the shared model (no PyGithub, no network).

Round trip 1 (`queries.PULL_REQUEST`, plus its commit/file pages) becomes `PullRequestData`; `plan_texts`
decides which blobs and issues round trip 2 (`queries.texts_query`) asks for; `build_snapshot` turns both
answers (and texts read from the git mirror when GraphQL could not serve them) into the
`PullRequestSnapshot` the checks read, exactly as bot/localsnapshot.py does for a local repository.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.checks.linked_issue import parse_references
from bot.checks.rules import is_rules_file

# Imported lazily from bot.github (which imports client.py): the names below only need the dataclasses.
from bot.github import CHECK_NAME, COMMENT_MARKER, LEGACY_MARKERS, CommentData, PullRequestData
from bot.models import (
    AgreementFacts,
    ChangedFile,
    Commit,
    Identity,
    IssueFacts,
    LocalVerification,
    PullRequestSnapshot,
    SignatureFacts,
    SignatureKind,
)

MAX_FILES = 3000  # GitHub's PullRequest.files stops here: beyond it the file list comes from git
MAX_ISSUES = 20  # referenced issues looked up in round trip 2 (bounds the query)
TREE_DEPTH = 3  # levels of the head tree round trip 1 lists

KINDS: dict[str, SignatureKind] = {"GpgSignature": "gpg", "SshSignature": "ssh", "SmimeSignature": "x509"}
ARMOR_KINDS: dict[str, SignatureKind] = {
    "-----BEGIN PGP SIGNATURE-----": "gpg",
    "-----BEGIN SSH SIGNATURE-----": "ssh",
    "-----BEGIN SIGNED MESSAGE-----": "x509",
}
CHANGE_TYPES = {"ADDED": "added", "DELETED": "removed", "RENAMED": "renamed", "COPIED": "added"}


def _get(data: Any, *keys: str | int) -> Any:
    """data[k1][k2]... or None when any step is missing or null."""
    for key in keys:
        if data is None:
            return None
        if isinstance(key, int):
            if not isinstance(data, list) or len(data) <= key:
                return None
            data = data[key]
        else:
            if not isinstance(data, dict):
                return None
            data = data.get(key)
    return data


def _nodes(data: Any, *keys: str) -> list[Any]:
    value = _get(data, *keys, "nodes")
    return [n for n in value if n is not None] if isinstance(value, list) else []


def pull_of(data: Mapping[str, Any]) -> dict[str, Any]:
    """The `pullRequest` object of a round-trip-1 answer."""
    pull = _get(data, "repository", "pullRequest")
    if not isinstance(pull, dict):
        raise ValueError("the answer has no pull request")
    return pull


# ---------------------------------------------------------------- round trip 1


def pull_request_data(repo: str, number: int, data: dict[str, Any]) -> PullRequestData:
    """Round trip 1 (with every page merged in) as `PullRequestData`; `raw` keeps the whole answer."""
    repository = data.get("repository") or {}
    pull = pull_of(data)
    policy = repository.get("policy")
    policy_text = None
    if isinstance(policy, dict) and not policy.get("isTruncated") and isinstance(policy.get("text"), str):
        policy_text = policy["text"]
    return PullRequestData(
        repo=str(repository.get("nameWithOwner") or repo),
        number=int(pull.get("number") or number),
        node_id=str(pull.get("id") or ""),
        state=str(pull.get("state") or "OPEN"),
        draft=bool(pull.get("isDraft")),
        title=str(pull.get("title") or ""),
        body=str(pull.get("body") or ""),
        author_login=_get(pull, "author", "login"),
        base_ref=str(pull.get("baseRefName") or ""),
        base_sha=str(pull.get("baseRefOid") or ""),
        head_sha=str(pull.get("headRefOid") or ""),
        default_branch=str(_get(repository, "defaultBranchRef", "name") or pull.get("baseRefName") or ""),
        upstream=_get(repository, "parent", "nameWithOwner"),
        policy_text=policy_text,
        raw=data,
    )


def next_page(data: Mapping[str, Any], connection: str) -> str | None:
    """The cursor of the next page of `commits` or `files`, or None when there is none."""
    info = _get(pull_of(data), connection, "pageInfo")
    if isinstance(info, dict) and info.get("hasNextPage") and info.get("endCursor"):
        return str(info["endCursor"])
    return None


def merge_page(data: dict[str, Any], connection: str, page: Mapping[str, Any]) -> None:
    """Append a page answer (MORE_COMMITS / MORE_FILES) to the round-trip-1 answer, in place."""
    target = pull_of(data).setdefault(connection, {})
    extra = _get(page, "repository", "pullRequest", connection) or {}
    target.setdefault("nodes", []).extend(extra.get("nodes") or [])
    target["pageInfo"] = extra.get("pageInfo") or {"hasNextPage": False, "endCursor": None}


# ---------------------------------------------------------------- commits and signatures


def _identity(actor: Any) -> Identity:
    actor = actor or {}
    return Identity(str(actor.get("name") or ""), str(actor.get("email") or ""), _get(actor, "user", "login"))


def signature_facts(sig: Any) -> SignatureFacts:
    """GitHub's signature object (null when unsigned) as SignatureFacts; the reason is REST's lower-case word."""
    if not isinstance(sig, dict):
        return SignatureFacts("none", False, "unsigned")
    armor = sig.get("signature") or None
    kind = KINDS.get(str(sig.get("__typename")))
    if kind is None:  # UnknownSignature: tell by the armor's first line
        first = armor.strip().splitlines()[0].strip() if armor and armor.strip() else ""
        kind = ARMOR_KINDS.get(first, "gpg" if armor else "none")
    state = sig.get("state")
    return SignatureFacts(
        kind=kind,
        github_verified=bool(sig.get("isValid")),
        github_reason=str(state).lower() if state else None,
        signature_armor=armor,
        signed_payload=(sig.get("payload") or None) if armor else None,
    )


def commit_of(node: Mapping[str, Any]) -> Commit:
    """One `CommitFields` object."""
    return Commit(
        sha=str(node.get("oid") or ""),
        parents=tuple(str(p.get("oid")) for p in _nodes(node, "parents")),
        author=_identity(node.get("author")),
        committer=_identity(node.get("committer")),
        message=str(node.get("message") or ""),
        signature=signature_facts(node.get("signature")),
    )


def commits_of(data: Mapping[str, Any]) -> tuple[Commit, ...]:
    """The pull request's commits, oldest first, from every merged page."""
    return tuple(commit_of(n["commit"]) for n in _nodes(pull_of(data), "commits") if n.get("commit"))


def signed_by_github(data: Mapping[str, Any]) -> frozenset[str]:
    """Commits GitHub signed itself (web edits, merges): no contributor key can verify them."""
    return frozenset(
        str(n["commit"].get("oid"))
        for n in _nodes(pull_of(data), "commits")
        if _get(n, "commit", "signature", "wasSignedByGitHub")
    )


def gpg_key_logins(commits: Iterable[Commit], github_signed: frozenset[str] = frozenset()) -> list[str]:
    """Distinct GitHub logins whose public GPG keys can verify the GPG-signed commits (authors, committers)."""
    out: list[str] = []
    for c in commits:
        if c.signature.kind != "gpg" or not c.signature.signature_armor or c.sha in github_signed:
            continue
        for who in (c.author, c.committer):
            if who.login and who.login.lower() not in {o.lower() for o in out}:
                out.append(who.login)
    return out


def armored_keys(answer: Any) -> list[str]:
    """Armored public keys of a `GET /users/{login}/gpg_keys` answer (`raw_key`, as the user uploaded it)."""
    if not isinstance(answer, list):
        return []
    return [str(k["raw_key"]) for k in answer if isinstance(k, dict) and k.get("raw_key")]


def with_local(commit: Commit, local: LocalVerification | None) -> Commit:
    """The commit with our own verification of its signature."""
    if local is None:
        return commit
    sig = commit.signature
    return Commit(commit.sha, commit.parents, commit.author, commit.committer, commit.message,
                  SignatureFacts(sig.kind, sig.github_verified, sig.github_reason, sig.signature_armor,
                                 sig.signed_payload, local))  # fmt: skip


# ---------------------------------------------------------------- files, tree and round trip 2's plan


def changed_files(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(path, status) of every changed file GraphQL listed (status as ChangedFile.status)."""
    out: list[tuple[str, str]] = []
    for node in _nodes(pull_of(data), "files"):
        path = node.get("path")
        if path:
            out.append((str(path), CHANGE_TYPES.get(str(node.get("changeType")), "modified")))
    return out


def head_tree(data: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(blob paths, directories round trip 1 could not list) of the head tree, three levels deep."""
    head = _get(pull_of(data), "head", "nodes", 0, "commit")
    files: list[str] = []
    deeper: list[str] = []

    def walk(entries: Any, depth: int) -> None:
        for entry in entries or []:
            if not isinstance(entry, dict) or not entry.get("path"):
                continue
            kind = entry.get("type")
            if kind == "blob":
                files.append(str(entry["path"]))
            elif kind == "tree":
                sub = _get(entry, "object", "entries")
                if depth >= TREE_DEPTH or sub is None:
                    deeper.append(str(entry["path"]))
                else:
                    walk(sub, depth + 1)

    walk(_get(head, "tree", "entries"), 1)
    return files, deeper


def could_hold_rules(directory: str, patterns: Sequence[str]) -> bool:
    """Whether some rules-file pattern can match a path below `directory`."""
    parts = directory.strip("/").split("/")
    for pattern in patterns:
        segs = pattern.split("/")
        ok = True
        for i, part in enumerate(parts):
            if i >= len(segs) - 1:  # the pattern's last segment names a file, not this directory
                ok = False
                break
            if "**" in segs[i]:
                break  # `**` spans any number of directories
            if not fnmatch.fnmatchcase(part, segs[i]):
                ok = False
                break
        if ok:
            return True
    return False


def base_of(data: Mapping[str, Any]) -> str:
    """Where the pull request's changes start: the first parent of its oldest commit, else the base branch tip."""
    nodes = _nodes(pull_of(data), "commits")
    if nodes:
        parents = _nodes(nodes[0].get("commit") or {}, "parents")
        if parents and parents[0].get("oid"):
            return str(parents[0]["oid"])
    return str(pull_of(data).get("baseRefOid") or "")


@dataclass(frozen=True)
class TextPlan:
    """What round trip 2 asks for and why."""

    head_sha: str
    base_sha: str  # the commit base texts are read at
    changed: tuple[tuple[str, str], ...]  # every changed file (path, status)
    rules_changed: tuple[tuple[str, str], ...]  # the changed rules files
    rules_unchanged: tuple[str, ...]  # rules files at the head the PR does not touch
    blobs: dict[str, str] = field(default_factory=dict)  # alias -> "<oid>:<path>"
    wanted: dict[str, tuple[str, str]] = field(default_factory=dict)  # alias -> ("head" | "base", path)
    issues: dict[str, tuple[str, str, int]] = field(default_factory=dict)  # alias -> (owner, name, number)
    git_reasons: tuple[str, ...] = ()  # why the git mirror is needed before round trip 2 ("tree", "files")


def plan_texts(
    pull: PullRequestData,
    patterns: Sequence[str],
    changed: Sequence[tuple[str, str]] | None = None,
    tree_files: Sequence[str] | None = None,
) -> TextPlan:
    """Which blobs (every rules file at the head, the base text of changed ones) and issues round trip 2 needs.

    `changed` and `tree_files` come from the git mirror when GraphQL could not list them (`git_reasons`).
    """
    data = pull.raw
    patterns = list(patterns)
    reasons: list[str] = []
    if changed is None:
        changed = changed_files(data)
        if int(pull_of(data).get("changedFiles") or 0) > MAX_FILES:
            reasons.append("files")
    if tree_files is None:
        tree_files, deeper = head_tree(data)
        if any(could_hold_rules(d, patterns) for d in deeper):
            reasons.append("tree")
    changed_paths = {p for p, _ in changed}
    rules_changed = tuple((p, s) for p, s in changed if is_rules_file(p, patterns))
    rules_unchanged = tuple(p for p in tree_files if p not in changed_paths and is_rules_file(p, patterns))
    base = base_of(data)
    blobs: dict[str, str] = {}
    wanted: dict[str, tuple[str, str]] = {}

    def want(side: str, oid: str, path: str) -> None:
        alias = f"t{len(blobs)}"
        blobs[alias] = f"{oid}:{path}"
        wanted[alias] = (side, path)

    for path, status in rules_changed:
        if status != "removed":
            want("head", pull.head_sha, path)
        if status != "added" and base:
            want("base", base, path)
    for path in rules_unchanged:
        want("head", pull.head_sha, path)
    return TextPlan(pull.head_sha, base, tuple(changed), rules_changed, rules_unchanged, blobs, wanted,
                    issues_to_fetch(pull), tuple(reasons))  # fmt: skip


def _issue(repo: str, number: int, node: Mapping[str, Any]) -> IssueFacts:
    labels = tuple(str(n.get("name")) for n in _nodes(node, "labels"))
    state = str(node.get("state") or "").lower() or None
    return IssueFacts(repo, number, True, False, state, labels, node.get("title"))


def closing_issues(data: Mapping[str, Any]) -> list[IssueFacts]:
    """The issues GitHub says this pull request closes."""
    out: list[IssueFacts] = []
    for node in _nodes(pull_of(data), "closingIssuesReferences"):
        repo = _get(node, "repository", "nameWithOwner")
        if not repo or node.get("number") is None:
            continue
        out.append(_issue(str(repo), int(node["number"]), node))
    return out


def issues_to_fetch(pull: PullRequestData) -> dict[str, tuple[str, str, int]]:
    """References in the title and body that GitHub did not resolve as closing issues."""
    known = {(f.repository.lower(), f.number) for f in closing_issues(pull.raw)}
    out: dict[str, tuple[str, str, int]] = {}
    for ref in parse_references(pull.title, pull.body, pull.repo):
        if (ref.repository.lower(), ref.number) in known or "/" not in ref.repository:
            continue
        owner, name = ref.repository.split("/", 1)
        out[f"i{len(out)}"] = (owner, name, ref.number)
        if len(out) >= MAX_ISSUES:
            break
    return out


def issue_facts(answer: Mapping[str, Any], plan: TextPlan) -> list[IssueFacts]:
    """The fetched references: missing ones (no repository, no such number) have exists=False."""
    out: list[IssueFacts] = []
    for alias, (owner, name, number) in plan.issues.items():
        node = _get(answer, alias, "issueOrPullRequest")
        repo = f"{owner}/{name}"
        if not isinstance(node, dict):
            out.append(IssueFacts(repo, number, False))
        elif node.get("__typename") == "PullRequest":
            state = str(node.get("prState") or "").lower()
            out.append(IssueFacts(repo, number, True, True, "open" if state == "open" else "closed",
                                  title=node.get("title")))  # fmt: skip
        else:
            out.append(_issue(repo, number, node))
    return out


@dataclass(frozen=True)
class Texts:
    """Round trip 2's blob answers: texts by (side, path), and the aliases GraphQL could not serve."""

    texts: dict[tuple[str, str], str | None]
    unserved: tuple[str, ...]  # truncated blobs, or null text of a non-binary blob


def blob_texts(answer: Mapping[str, Any], plan: TextPlan) -> Texts:
    """Texts of the planned blobs; a null object is a path absent at that commit (None)."""
    repository = answer.get("repository") or {}
    texts: dict[tuple[str, str], str | None] = {}
    unserved: list[str] = []
    for alias, key in plan.wanted.items():
        blob = repository.get(alias)
        if not isinstance(blob, dict) or not blob:
            texts[key] = None  # no such path there (or not a blob)
        elif blob.get("isTruncated") or (blob.get("text") is None and not blob.get("isBinary")):
            texts[key] = None
            unserved.append(alias)
        else:
            text = blob.get("text")
            texts[key] = text if isinstance(text, str) else None
    return Texts(texts, tuple(unserved))


# ---------------------------------------------------------------- comments, check runs, statuses


def comments_of(answer: Mapping[str, Any], slug: str | None) -> tuple[CommentData, ...]:
    """The last 100 comments of round trip 2, oldest first; by_this_app only for the App's own."""
    bot_login = f"{slug}[bot]".lower() if slug else None
    out: list[CommentData] = []
    for node in _nodes(answer, "repository", "pullRequest", "comments"):
        if node.get("databaseId") is None:
            continue
        author = _get(node, "author", "login")
        mine = bool(node.get("viewerDidAuthor")) or (bot_login is not None and str(author or "").lower() == bot_login)
        out.append(CommentData(int(node["databaseId"]), str(node.get("id") or ""), author, str(node.get("body") or ""),
                               mine))  # fmt: skip
    return tuple(out)


def minimized_ids(answer: Mapping[str, Any]) -> frozenset[int]:
    """Comments already minimised."""
    return frozenset(
        int(n["databaseId"])
        for n in _nodes(answer, "repository", "pullRequest", "comments")
        if n.get("isMinimized") and n.get("databaseId") is not None
    )


def own_comment(comments: Sequence[CommentData]) -> CommentData | None:
    """The newest comment by this App carrying the marker; a marker in anyone else's comment is ignored."""
    for comment in reversed(comments):
        if comment.by_this_app and COMMENT_MARKER in comment.body:
            return comment
    return None


def legacy_comments(
    comments: Sequence[CommentData], minimized: frozenset[int] = frozenset()
) -> tuple[CommentData, ...]:
    """This App's comments to minimise: earlier formats, and older duplicates of the marked comment."""
    current = own_comment(comments)
    out: list[CommentData] = []
    for comment in comments:
        if not comment.by_this_app or comment.id in minimized or (current is not None and comment.id == current.id):
            continue
        if COMMENT_MARKER in comment.body or any(m in comment.body for m in LEGACY_MARKERS):
            out.append(comment)
    return tuple(out)


def agreement_signers(comments: Sequence[CommentData], sentence: str) -> tuple[str, ...]:
    """Logins that wrote the agreement sentence in a comment (agreement `comment` mode)."""
    wanted = " ".join(sentence.split()).lower()
    out: list[str] = []
    for c in comments:
        signed = c.author and not c.by_this_app and wanted and wanted in " ".join(c.body.split()).lower()
        if signed and c.author and c.author not in out:
            out.append(c.author)
    return tuple(out)


def _head_commit(data: Mapping[str, Any]) -> Any:
    return _get(pull_of(data), "head", "nodes", 0, "commit")


def own_check_run(data: Mapping[str, Any], app_id: int) -> tuple[int, str] | None:
    """(id, status) of this App's newest `falco-rules-bot` run on the head commit."""
    best: tuple[int, str] | None = None
    for suite in _nodes(_head_commit(data), "checkSuites"):
        if _get(suite, "app", "databaseId") != app_id:
            continue
        for run in _nodes(suite, "checkRuns"):
            run_id = run.get("databaseId")
            if run.get("name") == CHECK_NAME and run_id is not None and (best is None or int(run_id) > best[0]):
                best = (int(run_id), str(run.get("status") or "").lower())
    return best


def head_statuses(data: Mapping[str, Any], app_id: int) -> tuple[tuple[str, str], ...]:
    """(context or check name, state) on the head commit: commit statuses and other Apps' check runs."""
    head = _head_commit(data)
    out = [(str(c.get("context")), str(c.get("state") or "").lower()) for c in (_get(head, "status", "contexts") or [])
           if isinstance(c, dict) and c.get("context")]  # fmt: skip
    for suite in _nodes(head, "checkSuites"):
        if _get(suite, "app", "databaseId") == app_id:
            continue
        for run in _nodes(suite, "checkRuns"):
            if run.get("name"):
                out.append((str(run["name"]), str(run.get("conclusion") or run.get("status") or "").lower()))
    return tuple(out)


# ---------------------------------------------------------------- the snapshot


def build_snapshot(
    pull: PullRequestData,
    plan: TextPlan,
    texts: Mapping[tuple[str, str], str | None],
    commits: Sequence[Commit],
    issues: Sequence[IssueFacts],
    statuses: Sequence[tuple[str, str]] = (),
    signers: Sequence[str] = (),
) -> PullRequestSnapshot:
    """The snapshot the checks read, shaped as bot/localsnapshot.py shapes it for the CLI."""
    files: list[ChangedFile] = []
    rules = {p for p, _ in plan.rules_changed}
    for path, status in plan.changed:
        if path in rules:
            files.append(ChangedFile(path, status, texts.get(("base", path)), texts.get(("head", path))))
        else:
            files.append(ChangedFile(path, status))
    changed_rules = tuple(f for f in files if f.path in rules)
    unchanged = tuple(ChangedFile(p, "unchanged", texts.get(("head", p)), texts.get(("head", p)))
                      for p in plan.rules_unchanged)  # fmt: skip
    linked: list[IssueFacts] = []
    seen: set[tuple[str, int]] = set()
    for facts in [*closing_issues(pull.raw), *issues]:
        key = (facts.repository.lower(), facts.number)
        if key not in seen:
            seen.add(key)
            linked.append(facts)
    author = None
    if pull.author_login:
        author = Identity(pull.author_login, "", pull.author_login)
    return PullRequestSnapshot(
        repo=pull.repo, number=pull.number, title=pull.title, body=pull.body, author=author,
        base_ref=pull.base_ref, default_branch=pull.default_branch, base_sha=pull.base_sha, head_sha=pull.head_sha,
        commits=tuple(commits), files=tuple(files), linked_issues=tuple(linked),
        agreement_facts=AgreementFacts(statuses=tuple(statuses), signed=tuple(signers)),
        upstream=pull.upstream, draft=pull.draft, rules_files_at_head=changed_rules + unchanged,
    )  # fmt: skip
