"""The GitHub gateway (bot/github) against the project's GitHub emulator: real git, real GnuPG, real HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.checkrun import CheckRunOutput
from bot.github import COMMENT_MARKER, GitHubApp, GitHubError, InstallationClient
from bot.gitrepo import GitError, Mirror, check_mirror_url
from bot.gpg import gpg_available
from bot.policy import resolve_policy
from tests.gitrepos import ALICE, BASE_RULES, RULE, Repo
from tests.gpgkeys import Key, make_key

emulator = pytest.importorskip("tests.emulator", reason="the GitHub emulator is not available")
pytestmark = pytest.mark.skipif(not gpg_available(), reason="gpg is not installed")

REPO = "alice/rules"
CHECK_ROUTE = "POST /repos/{owner}/{repo}/check-runs"
PATCH_RUN_ROUTE = "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}"
COMMENT_ROUTE = "POST /repos/{owner}/{repo}/issues/{issue_number}/comments"


@pytest.fixture(scope="module")
def alice_key(tmp_path_factory: pytest.TempPathFactory) -> Key:
    return make_key(tmp_path_factory.mktemp("keys"), "Alice Doe <alice@example.com>")


@pytest.fixture
def emu() -> Iterator[Any]:
    e = emulator.Emulator()
    e.start()
    try:
        yield e
        assert e.schema_violations == []
        assert e.graphql_rejections == []
    finally:
        e.stop()


@dataclass
class World:
    emu: Any
    app: Any
    installation: int
    repo: Repo
    number: int
    tmp: Path

    def github(self, **kwargs: Any) -> GitHubApp:
        options: dict[str, Any] = {"allowed_git_urls": (self.emu.url,), "mirror_dir": str(self.tmp / "mirrors"),
                                   "timeout": 5, "max_wait": 5.0, "secondary_rate_wait": 0.2, "backoff_factor": 0.05,
                                   "write_pacing": 0.0}  # fmt: skip
        options.update(kwargs)
        return GitHubApp(self.app.id, self.app.private_key_pem, api_url=self.emu.api_url, **options)

    def client(self, **kwargs: Any) -> InstallationClient:
        return self.github(**kwargs).client(self.installation)

    def calls(self, mark: int) -> list[str]:
        return [f"{c.route}" + (f" {c.graphql_operation}" if c.graphql_operation else "")
                for c in self.emu.calls_since(mark)]  # fmt: skip


def output(annotations: int = 0, conclusion: str = "success") -> CheckRunOutput:
    notes = [{"path": "rules/falco_rules.yaml", "start_line": i + 1, "end_line": i + 1, "annotation_level": "warning",
              "title": "Rules: LOAD_NO_EVTTYPE", "message": f"finding {i}"} for i in range(annotations)]  # fmt: skip
    return CheckRunOutput(
        conclusion, "All checks passed", "Summary", [notes[i : i + 50] for i in range(0, len(notes), 50)]
    )


def make_world(emu: Any, tmp_path: Path, key: Key, body: str = "Fixes #1", commits: int = 1) -> World:
    repo = Repo(tmp_path / "src")
    emu.add_user("alice", name="Alice Doe", email="alice@example.com", gpg_public_keys=(key.public,))
    emu.add_repository(REPO, source=repo.path, default_branch="main")
    app = emu.create_app(slug="falco-rules-bot")
    installation = emu.install(app, account="alice", repositories=[REPO])
    emu.add_issue(REPO, "Detect new shells", author="alice")
    for i in range(commits):
        repo.write("rules/falco_rules.yaml", BASE_RULES + RULE.format(name=f"New {i}", cond="evt.type = execve"))
        repo.commit(f"Add rule {i}", ALICE, key, ALICE)
    number = emu.open_pull_request(REPO, source=repo.path, head_ref="feature", base="main", title="Add a rule",
                                   body=body, author="alice")  # fmt: skip
    return World(emu, app, installation, repo, number, tmp_path)


def test_fetch_and_publish_within_the_call_budget(emu: Any, tmp_path: Path, alice_key: Key) -> None:
    world = make_world(emu, tmp_path, alice_key)
    policy, _ = resolve_policy(None)
    gh = world.client()
    pull = gh.pull_request(REPO, world.number)
    assert (pull.state, pull.repo, pull.number, pull.base_ref, pull.default_branch) == ("OPEN", REPO, world.number,
                                                                                        "main", "main")  # fmt: skip
    inputs = gh.review_inputs(pull, policy)
    snap = inputs.snapshot
    assert inputs.head_current and inputs.comment is None and inputs.check_run_id is None and not inputs.used_git
    assert [f.path for f in snap.files] == ["rules/falco_rules.yaml"]
    assert snap.files[0].base_text == BASE_RULES and "New 0" in (snap.files[0].head_text or "")
    assert [f.path for f in snap.rules_files_at_head] == ["rules/falco_rules.yaml"]
    (commit,) = snap.commits
    assert commit.author.login == "alice" and commit.signature.kind == "gpg"
    assert commit.signature.github_verified is True and commit.signature.github_reason == "valid"
    assert commit.signature.local is not None and commit.signature.local.status == "valid"
    assert [(i.number, i.exists, i.state) for i in snap.linked_issues] == [(1, True, "open")]
    first = gh.publish(pull, inputs, f"{COMMENT_MARKER}\nfirst", output(), "review-1")
    assert first.comment_created

    # A new push; a new process (no cached token); the marked comment exists: at most 6 calls in all.
    world.repo.write("rules/falco_rules.yaml", BASE_RULES + RULE.format(name="Newer", cond="evt.type = execve"))
    world.repo.commit("Change rule", ALICE, alice_key, ALICE)
    emu.push_pull_request(REPO, world.number, source=world.repo.path, head_ref="feature")
    mark = emu.mark()
    gh2 = world.client()
    pull2 = gh2.pull_request(REPO, world.number)
    inputs2 = gh2.review_inputs(pull2, policy)
    assert inputs2.comment is not None and inputs2.comment.id == first.comment_id
    assert len(inputs2.snapshot.commits) == 2
    second = gh2.publish(pull2, inputs2, f"{COMMENT_MARKER}\nsecond", output(), "review-2")
    calls = world.calls(mark)
    assert len(calls) <= 6, calls
    assert not second.comment_created and second.comment_id == first.comment_id
    assert [c["body"] for c in emu.comments(REPO, world.number)] == [f"{COMMENT_MARKER}\nsecond"]
    assert len(emu.check_runs(REPO, pull2.head_sha)) == 1


def test_comment_edited_in_place_and_unchanged_body_not_sent(emu: Any, tmp_path: Path, alice_key: Key) -> None:
    world = make_world(emu, tmp_path, alice_key)
    policy, _ = resolve_policy(None)
    gh = world.client()
    pull = gh.pull_request(REPO, world.number)
    first = gh.publish(pull, gh.review_inputs(pull, policy), f"{COMMENT_MARKER}\none", output(), "r1")
    pull = gh.pull_request(REPO, world.number)  # round trip 1 sees the run now
    inputs = gh.review_inputs(pull, policy)
    assert inputs.check_run_id == first.check_run_id and inputs.check_run_status == "completed"
    second = gh.publish(pull, inputs, f"{COMMENT_MARKER}\ntwo", output(), "r2")
    assert second.comment_id == first.comment_id and not second.comment_created
    mark = emu.mark()
    gh.publish(pull, gh.review_inputs(pull, policy), f"{COMMENT_MARKER}\ntwo", output(), "r3")
    assert not any(c.startswith("PATCH /repos/{owner}/{repo}/issues/comments") for c in world.calls(mark))
    assert [c["body"] for c in emu.comments(REPO, world.number)] == [f"{COMMENT_MARKER}\ntwo"]


def test_spoofed_marker_is_never_taken(emu: Any, tmp_path: Path, alice_key: Key) -> None:
    world = make_world(emu, tmp_path, alice_key)
    spoof = emu.add_comment(REPO, world.number, author="mallory", body=f"{COMMENT_MARKER}\nAll checks passed!")
    policy, _ = resolve_policy(None)
    gh = world.client()
    pull = gh.pull_request(REPO, world.number)
    inputs = gh.review_inputs(pull, policy)
    assert inputs.comment is None
    published = gh.publish(pull, inputs, f"{COMMENT_MARKER}\nreal", output(), "r1")
    assert published.comment_created and published.comment_id != spoof
    bodies = {c["id"]: c["body"] for c in emu.comments(REPO, world.number)}
    assert bodies[spoof] == f"{COMMENT_MARKER}\nAll checks passed!"
    assert bodies[published.comment_id] == f"{COMMENT_MARKER}\nreal"


def test_legacy_comments_are_minimised(emu: Any, tmp_path: Path, alice_key: Key) -> None:
    world = make_world(emu, tmp_path, alice_key)
    old = emu.add_comment(REPO, world.number, author=world.app.bot_login, body="<!-- falco-rules-bot:findings -->\nold")
    user = emu.add_comment(REPO, world.number, author="bob", body="<!-- falco-rules-bot:findings -->\nquote")
    policy, _ = resolve_policy(None)
    gh = world.client()
    pull = gh.pull_request(REPO, world.number)
    inputs = gh.review_inputs(pull, policy)
    assert [c.id for c in inputs.legacy_comments] == [old]
    gh.publish(pull, inputs, f"{COMMENT_MARKER}\nnew", output(), "r1")
    minimized = {c["id"]: c["minimized"] for c in emu.comments(REPO, world.number)}
    assert minimized[old] is True and minimized[user] is False


def test_annotations_beyond_fifty_are_all_sent(emu: Any, tmp_path: Path, alice_key: Key) -> None:
    world = make_world(emu, tmp_path, alice_key)
    gh = world.client()
    pull = gh.pull_request(REPO, world.number)
    inputs = gh.review_inputs(pull, resolve_policy(None)[0])
    mark = emu.mark()
    published = gh.publish(pull, inputs, f"{COMMENT_MARKER}\nx", output(annotations=123, conclusion="failure"), "r1")
    calls = world.calls(mark)
    assert calls.count("POST /repos/{owner}/{repo}/check-runs") == 1
    assert calls.count("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}") == 2
    (run,) = emu.check_runs(REPO, pull.head_sha)
    assert run["id"] == published.check_run_id and run["conclusion"] == "failure" and run["status"] == "completed"
    assert [a["message"] for a in run["annotations"]] == [f"finding {i}" for i in range(123)]
    assert run["external_id"] == "r1"


def test_graphql_502_storm_and_secondary_rate_limit_are_survived(emu: Any, tmp_path: Path, alice_key: Key) -> None:
    world = make_world(emu, tmp_path, alice_key)
    gh = world.client()
    emu.faults.add(route="POST /graphql", status=502, times=3)
    pull = gh.pull_request(REPO, world.number)
    assert pull.head_sha
    emu.faults.add(route="POST /graphql", status=200, times=2)  # 200 without `data`, as GitHub's query timeouts
    assert gh.pull_request(REPO, world.number).head_sha == pull.head_sha
    emu.faults.add(route="POST /graphql", secondary_rate_limit=True, retry_after=1, times=1)
    start = time.monotonic()
    inputs = gh.review_inputs(pull, resolve_policy(None)[0])
    assert time.monotonic() - start >= 1.0
    assert inputs.head_current
    emu.faults.add(route="GET /users/{username}/gpg_keys", secondary_rate_limit=True, times=1)  # no Retry-After
    assert gh.gpg_keys("alice")
    emu.faults.add(route="POST /graphql", status=502, times=None)
    with pytest.raises(GitHubError) as failed:
        gh.pull_request(REPO, world.number)
    assert failed.value.transient and failed.value.status == 502
    emu.faults.clear()
    emu.faults.add(route="POST /graphql", status=429, retry_after=3600, times=1)
    with pytest.raises(GitHubError) as limited:
        gh.pull_request(REPO, world.number)
    assert limited.value.transient  # waiting an hour is the queue's business, not the worker's


def test_a_write_github_applied_before_failing_is_not_repeated(emu: Any, tmp_path: Path, alice_key: Key) -> None:
    world = make_world(emu, tmp_path, alice_key)
    gh = world.client(timeout=1, backoff_factor=1.5)
    pull = gh.pull_request(REPO, world.number)
    inputs = gh.review_inputs(pull, resolve_policy(None)[0])
    # The answers come too late (the client gives up after 1 s) but GitHub applies both writes.
    emu.faults.add(route=CHECK_ROUTE, status=None, delay=1.5, times=1)
    emu.faults.add(route=COMMENT_ROUTE, status=None, delay=1.5, times=1)
    emu.faults.add(route=PATCH_RUN_ROUTE, status=None, delay=1.5, times=1)
    published = gh.publish(pull, inputs, f"{COMMENT_MARKER}\nonce", output(annotations=60), "review-9")
    runs = emu.check_runs(REPO, pull.head_sha)
    assert [r["id"] for r in runs] == [published.check_run_id]
    assert len(runs[0]["annotations"]) == 60
    assert [c["id"] for c in emu.comments(REPO, world.number)] == [published.comment_id]
    # A 502 that GitHub did not apply: the re-find finds nothing and the write is made once.
    emu.faults.add(route=CHECK_ROUTE, status=502, times=1)
    mark = emu.mark()
    run_id = gh.publish_failure(REPO, pull.head_sha, "Could not finish", "details", "review-10")
    assert [(c.route, c.status) for c in emu.calls_since(mark)] == [
        (CHECK_ROUTE, 502),
        ("GET /repos/{owner}/{repo}/commits/{ref}/check-runs", 200),
        (CHECK_ROUTE, 201),
    ]
    assert [r["id"] for r in emu.check_runs(REPO, pull.head_sha)] == [published.check_run_id, run_id]
    assert emu.check_runs(REPO, pull.head_sha)[1]["conclusion"] == "failure"


def test_expired_tokens_are_renewed(emu: Any, tmp_path: Path, alice_key: Key) -> None:
    world = make_world(emu, tmp_path, alice_key)
    emu.token_ttl = 2
    gh = world.client()
    mark = emu.mark()
    pull = gh.pull_request(REPO, world.number)
    time.sleep(2.2)
    gh.review_inputs(pull, resolve_policy(None)[0])
    tokens = [c for c in world.calls(mark) if "access_tokens" in c]
    assert len(tokens) == 2
    emu.token_ttl = 3600
    gh.token()
    emu.expire_tokens()  # GitHub refuses a token the client still believes in: it is dropped and renewed
    assert gh.collaborator_permission(REPO, "alice") == "admin"


def test_git_fallback_for_truncated_blobs(emu: Any, tmp_path: Path, alice_key: Key) -> None:
    world = make_world(emu, tmp_path, alice_key)
    emu.blob_truncate_bytes = 10
    gh = world.client()
    pull = gh.pull_request(REPO, world.number)
    inputs = gh.review_inputs(pull, resolve_policy(None)[0])
    assert inputs.used_git
    (changed,) = inputs.snapshot.files
    assert changed.base_text == BASE_RULES and "New 0" in (changed.head_text or "")
    config = (tmp_path / "mirrors" / "alice" / "rules.git" / "config").read_text()
    assert "extraheader" not in config.lower() and "x-access-token" not in config
    # A git host that is not the configured one (or plain http not explicitly allowed) is refused.
    other = world.client(git_url="http://127.0.0.1:9", mirror_dir=str(tmp_path / "m2"))
    with pytest.raises(GitHubError) as refused:
        other.review_inputs(pull, resolve_policy(None)[0])
    assert not refused.value.transient and not (tmp_path / "m2").exists()
    with pytest.raises(GitError):
        check_mirror_url(f"{emu.url}/alice/rules.git", "https://github.example", REPO)
    with pytest.raises(GitError):
        Mirror(str(tmp_path / "m3"), REPO, emu.url)  # http without allowed_git_urls
    with pytest.raises(GitError):
        Mirror(str(tmp_path / "m3"), "../etc", emu.url, (emu.url,))


def test_more_than_a_hundred_commits(emu: Any, tmp_path: Path, alice_key: Key) -> None:
    repo = Repo(tmp_path / "src")
    emu.add_user("alice", name="Alice Doe", email="alice@example.com", gpg_public_keys=(alice_key.public,))
    emu.add_repository(REPO, source=repo.path, default_branch="main")
    app = emu.create_app(slug="falco-rules-bot")
    installation = emu.install(app, account="alice", repositories=[REPO])
    for i in range(103):
        repo.write("rules/falco_rules.yaml", BASE_RULES + RULE.format(name=f"New {i}", cond="evt.type = execve"))
        repo.commit(f"Add rule {i}", ALICE, alice_key if i >= 100 else None, ALICE)
    number = emu.open_pull_request(REPO, source=repo.path, head_ref="feature", base="main", body="Fixes #99")
    world = World(emu, app, installation, repo, number, tmp_path)
    mark = emu.mark()
    gh = world.client()
    pull = gh.pull_request(REPO, number)
    inputs = gh.review_inputs(pull, resolve_policy(None)[0])
    gh.publish(pull, inputs, f"{COMMENT_MARKER}\nmany", output(), "r1")
    calls = world.calls(mark)
    assert len(inputs.snapshot.commits) == 103
    assert [c.signature.kind for c in inputs.snapshot.commits[-3:]] == ["gpg"] * 3
    assert [i.exists for i in inputs.snapshot.linked_issues] == [False]
    assert len(calls) <= 7, calls  # 6 + the second page of commits


def test_permission_reaction_and_reply(emu: Any, tmp_path: Path, alice_key: Key) -> None:
    world = make_world(emu, tmp_path, alice_key)
    emu.set_permission(REPO, "bob", "write")
    emu.set_permission(REPO, "carol", "maintain")
    gh = world.client()
    assert gh.collaborator_permission(REPO, "bob") == "write"
    assert gh.collaborator_permission(REPO, "carol") == "maintain"
    assert gh.collaborator_permission(REPO, "alice") == "admin"
    assert gh.collaborator_permission(REPO, "nobody-at-all") in ("read", "none")
    command = emu.add_comment(REPO, world.number, author="bob", body="@falco-rules-bot recheck")
    gh.react(REPO, command, "eyes")
    assert emu.reactions(command) == ["eyes"]
    reply = gh.reply(REPO, world.number, "Only maintainers can ask for a re-check.")
    assert reply in [c["id"] for c in emu.comments(REPO, world.number)]
    assert world.github().slug() == "falco-rules-bot"
    with pytest.raises(GitHubError) as missing:
        gh.pull_request(REPO, 999)
    assert missing.value.status == 404 and not missing.value.transient


def test_git_fallback_for_a_tree_deeper_than_graphql_lists(emu: Any, tmp_path: Path, alice_key: Key) -> None:
    repo = Repo(tmp_path / "src")
    (repo.path / "rules" / "a" / "b" / "c").mkdir(parents=True)
    repo.write("rules/a/b/c/deep_rules.yaml", BASE_RULES)
    repo.write("rules/a/b/c/notes.txt", "not rules\n")
    repo.git("add", ".")
    repo.git(
        "commit",
        "-q",
        "-m",
        "Deep rules",
        env={
            "GIT_AUTHOR_NAME": ALICE[0],
            "GIT_AUTHOR_EMAIL": ALICE[1],
            "GIT_COMMITTER_NAME": ALICE[0],
            "GIT_COMMITTER_EMAIL": ALICE[1],
        },
    )
    repo.git("branch", "-f", "main", "HEAD")
    emu.add_repository(REPO, source=repo.path, default_branch="main")
    app = emu.create_app(slug="falco-rules-bot")
    installation = emu.install(app, account="alice", repositories=[REPO])
    repo.write("rules/falco_rules.yaml", BASE_RULES + RULE.format(name="New", cond="evt.type = execve"))
    repo.commit("Add rule", ALICE, alice_key, ALICE)
    number = emu.open_pull_request(REPO, source=repo.path, head_ref="feature", base="main", body="Fixes #99")
    world = World(emu, app, installation, repo, number, tmp_path)
    gh = world.client()
    pull = gh.pull_request(REPO, number)
    inputs = gh.review_inputs(pull, resolve_policy(None)[0])
    assert inputs.used_git
    at_head = {f.path: f for f in inputs.snapshot.rules_files_at_head}
    assert sorted(at_head) == ["rules/a/b/c/deep_rules.yaml", "rules/falco_rules.yaml"]
    assert at_head["rules/a/b/c/deep_rules.yaml"].head_text == BASE_RULES
    assert at_head["rules/falco_rules.yaml"].base_text == BASE_RULES
    shallow = gh.review_inputs(pull, resolve_policy("rules_files:\n  patterns: ['rules/*.yaml']\n")[0])
    assert not shallow.used_git


def test_threads_share_one_client_and_one_token(emu: Any, tmp_path: Path, alice_key: Key) -> None:
    world = make_world(emu, tmp_path, alice_key)
    app = world.github()
    mark = emu.mark()
    results: list[str] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            gh = app.client(world.installation)
            results.append(gh.pull_request(REPO, world.number).head_sha)
            results.append(gh.collaborator_permission(REPO, "alice"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(results) == 12
    assert [c for c in world.calls(mark) if "access_tokens" in c] == [
        "POST /app/installations/{installation_id}/access_tokens"
    ]
