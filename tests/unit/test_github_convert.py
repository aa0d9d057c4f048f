"""The gateway's pure conversion of GitHub's GraphQL answers (hand-written after bot/github/queries.py)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bot.github import COMMENT_MARKER, CommentData, convert
from bot.github.queries import texts_query
from bot.models import ChangedFile, LocalVerification
from bot.policy import resolve_policy

HEAD = "h" * 40
BASE_TIP = "b" * 40
PARENT = "p" * 40
PATTERNS = ["**/*_rules.yaml", "rules/**/*.yaml"]
APP_ID = 101


def commit(oid: str, parents: list[str], signature: dict[str, Any] | None = None, login: str | None = "alice",
           committer_login: str | None = "alice") -> dict[str, Any]:  # fmt: skip
    return {"commit": {
        "oid": oid, "message": f"Change {oid[:4]}\n\nSigned-off-by: Alice Doe <alice@example.com>\n",
        "author": {"name": "Alice Doe", "email": "alice@example.com", "user": {"login": login} if login else None},
        "committer": {"name": "Alice Doe", "email": "alice@example.com",
                      "user": {"login": committer_login} if committer_login else None},
        "parents": {"nodes": [{"oid": p} for p in parents]},
        "signature": signature,
    }}  # fmt: skip


def gpg(state: str = "VALID", valid: bool = True, by_github: bool = False) -> dict[str, Any]:
    return {"__typename": "GpgSignature", "isValid": valid, "state": state, "email": "alice@example.com",
            "signature": "-----BEGIN PGP SIGNATURE-----\n\nabc\n-----END PGP SIGNATURE-----\n",
            "payload": "tree t\nauthor a\n\nChange\n", "wasSignedByGitHub": by_github,
            "signer": {"login": "alice"}, "keyId": "ABCD"}  # fmt: skip


def tree(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"entries": list(entries)}


def blob(path: str) -> dict[str, Any]:
    return {"path": path, "type": "blob", "object": {}}


def folder(path: str, *entries: dict[str, Any], listed: bool = True) -> dict[str, Any]:
    return {"path": path, "type": "tree", "object": tree(*entries) if listed else {}}


def answer(
    files: list[tuple[str, str]] | None = None,
    commits: list[dict[str, Any]] | None = None,
    head_tree: dict[str, Any] | None = None,
    title: str = "Add a rule",
    body: str = "Fixes #12",
    closing: list[dict[str, Any]] | None = None,
    suites: list[dict[str, Any]] | None = None,
    changed: int | None = None,
) -> dict[str, Any]:
    files = files if files is not None else [("rules/falco_rules.yaml", "MODIFIED"), ("README.md", "ADDED")]
    commits = commits if commits is not None else [commit(HEAD, [PARENT], gpg())]
    return {
        "rateLimit": {"cost": 1, "remaining": 4999, "resetAt": "2026-01-01T00:00:00Z"},
        "repository": {
            "nameWithOwner": "alice/rules", "isFork": True, "parent": {"nameWithOwner": "falcosecurity/rules"},
            "defaultBranchRef": {"name": "main"},
            "policy": {"text": "checks: {}\n", "isTruncated": False},
            "pullRequest": {
                "id": "PR_1", "number": 7, "title": title, "body": body, "state": "OPEN", "isDraft": False,
                "author": {"login": "alice"}, "baseRefName": "main", "baseRefOid": BASE_TIP,
                "headRefName": "feature", "headRefOid": HEAD, "changedFiles": changed or len(files),
                "closingIssuesReferences": {"nodes": closing or []},
                "files": {"totalCount": len(files), "pageInfo": {"hasNextPage": False, "endCursor": None},
                          "nodes": [{"path": p, "changeType": t} for p, t in files]},
                "commits": {"totalCount": len(commits), "pageInfo": {"hasNextPage": False, "endCursor": None},
                            "nodes": commits},
                "head": {"nodes": [{"commit": {
                    "oid": HEAD,
                    "tree": head_tree if head_tree is not None else tree(
                        blob("README.md"), folder("rules", blob("rules/falco_rules.yaml"),
                                                  blob("rules/falco-incubating_rules.yaml"), blob("rules/notes.txt")),
                        folder(".github", folder(".github/workflows", {"path": ".github/workflows/ci.yaml",
                                                                       "type": "blob"}))),
                    "status": {"contexts": [{"context": "EasyCLA", "state": "SUCCESS"}]},
                    "checkSuites": {"nodes": suites or []},
                }}]},
            },
        },
    }  # fmt: skip


def pull(data: dict[str, Any] | None = None) -> Any:
    return convert.pull_request_data("alice/rules", 7, data if data is not None else answer())


# ---------------------------------------------------------------- round trip 1


def test_pull_request_data() -> None:
    p = pull()
    assert (p.repo, p.number, p.node_id, p.state, p.draft) == ("alice/rules", 7, "PR_1", "OPEN", False)
    assert (p.base_ref, p.base_sha, p.head_sha, p.default_branch) == ("main", BASE_TIP, HEAD, "main")
    assert p.upstream == "falcosecurity/rules"
    assert p.policy_text == "checks: {}\n"
    data = answer()
    data["repository"]["policy"] = None
    assert pull(data).policy_text is None
    data["repository"]["policy"] = {"text": "x" * 10, "isTruncated": True}
    assert pull(data).policy_text is None


def test_pages_are_merged_only_when_there_is_a_next_page() -> None:
    data = answer(commits=[commit("1" * 40, [PARENT])])
    assert convert.next_page(data, "commits") is None
    data["repository"]["pullRequest"]["commits"]["pageInfo"] = {"hasNextPage": True, "endCursor": "c1"}
    assert convert.next_page(data, "commits") == "c1"
    page = {"repository": {"pullRequest": {"commits": {"pageInfo": {"hasNextPage": False, "endCursor": "c2"},
                                                        "nodes": [commit("2" * 40, ["1" * 40])]}}}}  # fmt: skip
    convert.merge_page(data, "commits", page)
    assert convert.next_page(data, "commits") is None
    assert [c.sha for c in convert.commits_of(data)] == ["1" * 40, "2" * 40]


# ---------------------------------------------------------------- signatures and identities


@pytest.mark.parametrize(
    ("sig", "kind", "verified", "reason"),
    [
        (None, "none", False, "unsigned"),
        (gpg(), "gpg", True, "valid"),
        (gpg("UNKNOWN_KEY", False), "gpg", False, "unknown_key"),
        (gpg("EXPIRED_KEY", False), "gpg", False, "expired_key"),
        (gpg("BAD_EMAIL", False), "gpg", False, "bad_email"),
        ({**gpg(), "__typename": "SshSignature", "signature": "-----BEGIN SSH SIGNATURE-----\nx\n"}, "ssh", True,
         "valid"),
        ({**gpg("OCSP_PENDING", False), "__typename": "SmimeSignature",
          "signature": "-----BEGIN SIGNED MESSAGE-----\nx\n"}, "x509", False, "ocsp_pending"),
        ({**gpg("UNKNOWN_SIG_TYPE", False), "__typename": "UnknownSignature",
          "signature": "-----BEGIN SSH SIGNATURE-----\nx\n"}, "ssh", False, "unknown_sig_type"),
    ],
)  # fmt: skip
def test_signature_kinds_and_states(sig: dict[str, Any] | None, kind: str, verified: bool, reason: str) -> None:
    facts = convert.signature_facts(sig)
    assert (facts.kind, facts.github_verified, facts.github_reason) == (kind, verified, reason)
    if sig is None:
        assert facts.signature_armor is None and facts.signed_payload is None
    else:
        assert facts.signature_armor == sig["signature"]
        assert facts.signed_payload == sig["payload"]


def test_identities_logins_and_parents() -> None:
    data = answer(commits=[commit("1" * 40, [PARENT], None, login=None, committer_login="web-flow"),
                           commit("2" * 40, ["1" * 40, BASE_TIP], gpg())])  # fmt: skip
    first, merge = convert.commits_of(data)
    assert first.author.login is None and first.author.email == "alice@example.com"
    assert first.committer.login == "web-flow"
    assert first.parents == (PARENT,) and not first.is_merge
    assert merge.is_merge and merge.author.login == "alice"
    assert "Signed-off-by" in merge.message


def test_gpg_key_logins_once_per_login_and_not_for_github_signed() -> None:
    data = answer(commits=[commit("1" * 40, [PARENT], gpg(), "Alice", "alice"),
                           commit("2" * 40, ["1" * 40], gpg(), "alice", "bob"),
                           commit("3" * 40, ["2" * 40], gpg(by_github=True), "carol", "web-flow"),
                           commit("4" * 40, ["3" * 40], None, "dave", "dave")])  # fmt: skip
    commits = convert.commits_of(data)
    assert convert.gpg_key_logins(commits, convert.signed_by_github(data)) == ["Alice", "bob"]
    keys = [{"raw_key": "-----BEGIN PGP PUBLIC KEY BLOCK-----\nk\n"}, {"raw_key": None, "public_key": "xx"}]
    assert convert.armored_keys(keys) == ["-----BEGIN PGP PUBLIC KEY BLOCK-----\nk\n"]
    assert convert.armored_keys({"message": "Not Found"}) == []
    local = LocalVerification("valid", "ABCD")
    assert convert.with_local(commits[0], local).signature.local == local
    assert convert.with_local(commits[0], local).signature.github_reason == "valid"


# ---------------------------------------------------------------- tree, files and the blobs of round trip 2


def test_tree_listing_and_depth() -> None:
    files, deeper = convert.head_tree(answer())
    assert files == ["README.md", "rules/falco_rules.yaml", "rules/falco-incubating_rules.yaml", "rules/notes.txt",
                     ".github/workflows/ci.yaml"]  # fmt: skip
    assert deeper == []
    deep = answer(head_tree=tree(folder("a", folder("a/b", folder("a/b/c", listed=False)))))
    assert convert.head_tree(deep) == ([], ["a/b/c"])


@pytest.mark.parametrize(
    ("directory", "patterns", "expected"),
    [
        ("build/registry/pkg", ["**/*_rules.yaml"], True),
        ("build/registry/pkg", ["rules/**/*.yaml"], False),
        ("rules/a/b", ["rules/**/*.yaml"], True),
        ("rules/a/b", ["rules/*.yaml"], False),
        ("x/y/z", ["x/y/z/*.yaml"], True),
        ("x/y/q", ["x/y/z/*.yaml"], False),
    ],
)
def test_could_hold_rules(directory: str, patterns: list[str], expected: bool) -> None:
    assert convert.could_hold_rules(directory, patterns) is expected


def test_blob_selection() -> None:
    data = answer(files=[("rules/falco_rules.yaml", "MODIFIED"), ("rules/new_rules.yaml", "ADDED"),
                         ("rules/old_rules.yaml", "DELETED"), ("README.md", "MODIFIED")],
                  commits=[commit("1" * 40, [PARENT]), commit(HEAD, ["1" * 40])])  # fmt: skip
    plan = convert.plan_texts(pull(data), PATTERNS)
    assert plan.base_sha == PARENT  # the first parent of the oldest commit, not the base branch's tip
    assert plan.git_reasons == ()
    wanted = sorted(plan.wanted.values())
    assert wanted == [("base", "rules/falco_rules.yaml"), ("base", "rules/old_rules.yaml"),
                      ("head", "rules/falco-incubating_rules.yaml"), ("head", "rules/falco_rules.yaml"),
                      ("head", "rules/new_rules.yaml")]  # fmt: skip
    for alias, (side, path) in plan.wanted.items():
        assert plan.blobs[alias] == f"{HEAD if side == 'head' else PARENT}:{path}"
    assert plan.rules_unchanged == ("rules/falco-incubating_rules.yaml",)
    assert "rules/notes.txt" not in str(plan.blobs)
    no_commits = convert.plan_texts(pull(answer(commits=[])), PATTERNS)
    assert no_commits.base_sha == BASE_TIP


def test_git_fallback_decisions() -> None:
    deep = answer(head_tree=tree(folder("build", folder("build/a", folder("build/a/b", listed=False)))))
    assert convert.plan_texts(pull(deep), PATTERNS).git_reasons == ("tree",)
    assert convert.plan_texts(pull(deep), ["rules/*.yaml"]).git_reasons == ()
    many = answer(changed=3001)
    assert convert.plan_texts(pull(many), PATTERNS).git_reasons == ("files",)
    plan = convert.plan_texts(pull(), PATTERNS)
    aliases = {v: k for k, v in plan.wanted.items()}
    head, base = aliases[("head", "rules/falco_rules.yaml")], aliases[("base", "rules/falco_rules.yaml")]
    other = aliases[("head", "rules/falco-incubating_rules.yaml")]
    texts = convert.blob_texts({"repository": {
        head: {"text": None, "isTruncated": True, "isBinary": False, "byteSize": 9_000_000},
        base: {"text": None, "isTruncated": False, "isBinary": False, "byteSize": 10},
        other: {"text": "- list: a\n  items: []\n", "isTruncated": False, "isBinary": False, "byteSize": 22},
    }}, plan)  # fmt: skip
    assert sorted(texts.unserved) == sorted([head, base])
    assert texts.texts[("head", "rules/falco-incubating_rules.yaml")] == "- list: a\n  items: []\n"
    empty = {"text": "", "isTruncated": False, "isBinary": False}
    missing = convert.blob_texts({"repository": {head: None, base: None, other: empty}}, plan)
    assert missing.unserved == ()
    assert missing.texts[("head", "rules/falco_rules.yaml")] is None
    binary = convert.blob_texts({"repository": {head: {"text": None, "isBinary": True, "isTruncated": False}}}, plan)
    assert head not in binary.unserved
    overridden = convert.plan_texts(pull(deep), PATTERNS, changed=[("build/a/b/c/x_rules.yaml", "added")],
                                    tree_files=["build/a/b/c/x_rules.yaml", "build/a/b/c/y_rules.yaml"])  # fmt: skip
    assert overridden.git_reasons == ()
    assert sorted(overridden.wanted.values()) == [("head", "build/a/b/c/x_rules.yaml"),
                                                  ("head", "build/a/b/c/y_rules.yaml")]  # fmt: skip


def test_texts_query_is_built_from_the_plan() -> None:
    plan = convert.plan_texts(pull(answer(body="Fixes #12 and see other/repo#3")), PATTERNS)
    query = texts_query(plan.blobs, plan.issues)
    for alias, expression in plan.blobs.items():
        assert f'{alias}: object(expression: "{expression}")' in query
    assert plan.issues == {"i0": ("alice", "rules", 12), "i1": ("other", "repo", 3)}
    assert 'i1: repository(owner: "other", name: "repo")' in query


# ---------------------------------------------------------------- linked issues


def test_linked_issues_resolved_fetched_missing_and_pull_requests() -> None:
    closing = [{"number": 12, "state": "OPEN", "title": "Rule request", "repository": {"nameWithOwner": "alice/rules"},
                "labels": {"nodes": [{"name": "kind/feature"}]}},
               {"number": 40, "state": "CLOSED", "title": "Sidebar link",
                "repository": {"nameWithOwner": "alice/rules"}, "labels": {"nodes": []}}]  # fmt: skip
    data = answer(body="Fixes #12, see #13, #14 and falcosecurity/rules#15 and #16", closing=closing)
    p = pull(data)
    plan = convert.plan_texts(p, PATTERNS)
    assert [v[2] for v in plan.issues.values()] == [13, 14, 15, 16]
    second = {
        "i0": {"issueOrPullRequest": {"__typename": "Issue", "number": 13, "state": "CLOSED", "title": "Old",
                                      "labels": {"nodes": [{"name": "bug"}]}}},
        "i1": {"issueOrPullRequest": None},
        "i2": {"issueOrPullRequest": {"__typename": "PullRequest", "number": 15, "prState": "MERGED", "title": "PR"}},
        "i3": None,
    }  # fmt: skip
    facts = convert.issue_facts(second, plan)
    snap = convert.build_snapshot(p, plan, {}, convert.commits_of(data), facts)
    got = {(f.repository, f.number): f for f in snap.linked_issues}
    assert got[("alice/rules", 12)].exists and got[("alice/rules", 12)].state == "open"
    assert got[("alice/rules", 12)].labels == ("kind/feature",)
    assert got[("alice/rules", 40)].state == "closed"
    assert got[("alice/rules", 13)].labels == ("bug",) and got[("alice/rules", 13)].state == "closed"
    assert not got[("alice/rules", 14)].exists
    assert got[("falcosecurity/rules", 15)].is_pull_request and got[("falcosecurity/rules", 15)].state == "closed"
    assert not got[("alice/rules", 16)].exists


# ---------------------------------------------------------------- comments and check runs


def node(db: int, body: str, mine: bool, login: str | None, minimized: bool = False) -> dict[str, Any]:
    return {"id": f"IC_{db}", "databaseId": db, "body": body, "isMinimized": minimized, "viewerDidAuthor": mine,
            "author": {"login": login} if login else None}  # fmt: skip


def second_answer(*nodes: dict[str, Any], head: str = HEAD) -> dict[str, Any]:
    return {"repository": {"pullRequest": {"headRefOid": head, "state": "OPEN", "comments": {"nodes": list(nodes)}}}}


def test_marker_selection_ignores_spoofed_markers() -> None:
    spoof = node(1, f"{COMMENT_MARKER}\nAll checks passed", False, "mallory")
    spoof_named = node(2, f"{COMMENT_MARKER}\nfake", False, "falco-rules-bot")  # a user named like the App
    ours_old = node(3, f"{COMMENT_MARKER}\nold", True, "falco-rules-bot")
    ours = node(4, f"{COMMENT_MARKER}\nnew", False, "falco-rules-bot[bot]")
    later_spoof = node(5, f"{COMMENT_MARKER}\nlater", False, "mallory")
    comments = convert.comments_of(second_answer(spoof, spoof_named, ours_old, ours, later_spoof), "falco-rules-bot")
    assert [c.by_this_app for c in comments] == [False, False, True, True, False]
    found = convert.own_comment(comments)
    assert found is not None and found.id == 4 and found.node_id == "IC_4"
    assert [c.id for c in convert.legacy_comments(comments)] == [3]  # an older duplicate of ours
    only_spoofed = convert.comments_of(second_answer(spoof, later_spoof), "falco-rules-bot")
    assert convert.own_comment(only_spoofed) is None


def test_legacy_comments() -> None:
    old = node(1, "<!-- falco-rules-bot:findings v1 -->\nold format", True, "falco-rules-bot")
    v0 = node(2, "<!-- falco-rules-bot:review v0 -->\nolder", True, "falco-rules-bot", minimized=True)
    theirs = node(3, "<!-- falco-rules-bot:findings v1 -->\nquoted by a user", False, "bob")
    answer2 = second_answer(old, v0, theirs)
    comments = convert.comments_of(answer2, "falco-rules-bot")
    assert convert.own_comment(comments) is None
    assert [c.id for c in convert.legacy_comments(comments, convert.minimized_ids(answer2))] == [1]
    assert [c.id for c in convert.legacy_comments(comments)] == [1, 2]


def test_agreement_signers_from_comments() -> None:
    sentence = "I have read the CNCF contributor agreement and I agree to it."
    comments = (CommentData(1, "a", "bob", f"Hi!\n{sentence.upper()}", False),
                CommentData(2, "b", "falco-rules-bot[bot]", sentence, True),
                CommentData(3, "c", "carol", "I have read it", False))  # fmt: skip
    assert convert.agreement_signers(comments, sentence) == ("bob",)


def test_check_run_and_statuses() -> None:
    suites = [
        {"app": {"databaseId": APP_ID, "slug": "falco-rules-bot"}, "checkRuns": {"nodes": [
            {"databaseId": 7, "name": "falco-rules-bot", "status": "COMPLETED", "conclusion": "FAILURE",
             "externalId": "x"},
            {"databaseId": 9, "name": "falco-rules-bot", "status": "IN_PROGRESS", "conclusion": None,
             "externalId": "y"},
            {"databaseId": 11, "name": "other", "status": "COMPLETED", "conclusion": "SUCCESS", "externalId": ""}]}},
        {"app": {"databaseId": 999, "slug": "impostor"}, "checkRuns": {"nodes": [
            {"databaseId": 20, "name": "falco-rules-bot", "status": "COMPLETED", "conclusion": "SUCCESS",
             "externalId": "z"},
            {"databaseId": 21, "name": "EasyCLA", "status": "COMPLETED", "conclusion": "SUCCESS", "externalId": ""}]}},
    ]  # fmt: skip
    data = answer(suites=suites)
    assert convert.own_check_run(data, APP_ID) == (9, "in_progress")
    assert convert.own_check_run(data, 5) is None
    assert convert.head_statuses(data, APP_ID) == (("EasyCLA", "success"), ("falco-rules-bot", "success"),
                                                   ("EasyCLA", "success"))  # fmt: skip


# ---------------------------------------------------------------- the snapshot


def test_snapshot_as_the_cli_builds_it() -> None:
    data = answer(files=[("rules/falco_rules.yaml", "MODIFIED"), ("rules/new_rules.yaml", "ADDED"),
                         ("README.md", "MODIFIED")])  # fmt: skip
    p = pull(data)
    policy, _ = resolve_policy(None)
    plan = convert.plan_texts(p, policy.get("rules_files.patterns"))
    incubating = "rules/falco-incubating_rules.yaml"
    texts = {("head", "rules/falco_rules.yaml"): "new", ("base", "rules/falco_rules.yaml"): "old",
             ("head", "rules/new_rules.yaml"): "added", ("head", incubating): "same"}  # fmt: skip
    snap = convert.build_snapshot(p, plan, texts, convert.commits_of(data), [], (("EasyCLA", "success"),), ("bob",))
    assert snap.files == (ChangedFile("rules/falco_rules.yaml", "modified", "old", "new"),
                          ChangedFile("rules/new_rules.yaml", "added", None, "added"),
                          ChangedFile("README.md", "modified"))  # fmt: skip
    unchanged = ChangedFile(incubating, "unchanged", "same", "same")
    assert snap.rules_files_at_head == (snap.files[0], snap.files[1], unchanged)
    assert (snap.repo, snap.number, snap.head_sha, snap.base_sha, snap.upstream) == (
        "alice/rules",
        7,
        HEAD,
        BASE_TIP,
        "falcosecurity/rules",
    )
    assert snap.author is not None and snap.author.login == "alice"
    assert snap.agreement_facts.statuses == (("EasyCLA", "success"),)
    assert snap.agreement_facts.signed == ("bob",)
    assert snap.commits[0].signature.kind == "gpg"
    draft = copy.deepcopy(data)
    draft["repository"]["pullRequest"]["isDraft"] = True
    assert convert.build_snapshot(pull(draft), plan, texts, (), []).draft is True


# ---------------------------------------------------------------- the client's configuration (no network)


def test_hosts_and_urls_derived_from_the_api_url() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from bot.github import GitHubApp
    from bot.github.client import _safe_retry

    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
        .decode()
    )
    dotcom = GitHubApp(1, pem)
    assert dotcom.git_url == "https://github.com"
    assert dotcom.client(5)._requester.graphql_url == "https://api.github.com/graphql"
    assert dotcom.client(5) is dotcom.client(5)
    ghes = GitHubApp(1, pem, api_url="https://ghe.example.com/api/v3", app_slug="bot", timeout=2.5)
    assert ghes.git_url == "https://ghe.example.com" and ghes.slug() == "bot" and ghes.timeout == 3
    assert ghes.client(5)._requester.graphql_url == "https://ghe.example.com/api/graphql"
    assert _safe_retry("GET", "/api/v3/repos/a/b") and _safe_retry("POST", "/api/graphql")
    assert _safe_retry("POST", "/api/v3/app/installations/5/access_tokens")
    assert not _safe_retry("POST", "/api/v3/repos/a/b/check-runs")
    assert not _safe_retry("PATCH", "/api/v3/repos/a/b/issues/comments/1")
