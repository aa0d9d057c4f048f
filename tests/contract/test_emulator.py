"""The GitHub emulator against GitHub's own descriptions, driven by real clients (PyGithub, git, gpg, httpx)."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from github import Auth, Github, GithubException, GithubIntegration

from bot.github import queries
from tests.emulator import App, Emulator, signature_256, webhook_schema_errors
from tests.emulator import specs as emulator_specs
from tests.emulator.webhooks import example as webhook_example
from tests.gpgkeys import Key

from .conftest import GIT_ENV, SourceRepo, git

REPO = "falcosecurity/rules"


@dataclass
class World:
    emu: Emulator
    app: App
    inst: int
    pr: int
    issue: int
    source: SourceRepo

    def github(self, lazy: bool = False) -> Github:
        auth = Auth.AppAuth(self.app.id, self.app.private_key_pem).get_installation_auth(self.inst)
        return Github(
            auth=auth,
            base_url=self.emu.api_url,
            lazy=lazy,
            retry=None,
            seconds_between_requests=None,
            seconds_between_writes=None,
        )

    def token(self) -> str:
        answer = httpx.post(
            f"{self.emu.api_url}/app/installations/{self.inst}/access_tokens",
            headers={"Authorization": f"Bearer {app_jwt(self.app)}", "Accept": "application/vnd.github+json"},
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["token"])

    def graphql(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> Any:
        answer = httpx.post(
            self.emu.graphql_url,
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"bearer {token or self.token()}"},
        )
        assert answer.status_code == 200, answer.text
        return answer.json()


def app_jwt(app: App, iat_shift: int = -30, lifetime: int = 300, key: str | None = None, iss: Any = None) -> str:
    now = int(time.time())
    payload = {"iat": now + iat_shift, "exp": now + iat_shift + lifetime, "iss": str(app.id) if iss is None else iss}
    return jwt.encode(payload, key or app.private_key_pem, algorithm="RS256")


@pytest.fixture
def world(emu: Emulator, source: SourceRepo, keys: dict[str, Key]) -> World:
    emu.add_user(
        "alice",
        name="Alice",
        email="alice@example.com",
        emails=("alice@corp.example",),
        gpg_public_keys=(keys["alice"].public,),
    )
    emu.add_user("bob", name="Bob", email="bob@example.com", gpg_public_keys=(keys["bob_expired"].public,))
    emu.add_user("falcosecurity", type="Organization")
    app = emu.create_app(slug="falco-rules-bot")
    emu.add_repository(REPO, source=source.path, default_branch="main")
    inst = emu.install(app, account="falcosecurity", repositories=[REPO])
    emu.set_permission(REPO, "alice", "write")
    issue = emu.add_issue(REPO, "Rules are missing", author="bob", labels=("kind/feature",))
    pr = emu.open_pull_request(
        REPO,
        source=source.path,
        head_ref="feature",
        base="main",
        title="Add rules",
        body=f"Fixes #{issue}\n\nMore text.",
        author="alice",
    )
    return World(emu, app, inst, pr, issue, source)


# ---- vendored data -------------------------------------------------------------------------------------------------


def test_vendored_specs_are_small_and_complete() -> None:
    spec_dir = emulator_specs.SPEC_DIR
    total = sum(p.stat().st_size for p in spec_dir.iterdir() if p.is_file())
    assert total < 3_000_000
    assert (spec_dir / "PROVENANCE.md").is_file()
    keys = {r.key for r in emulator_specs.routes()}
    for key in (
        "GET /app",
        "POST /app/installations/{installation_id}/access_tokens",
        "POST /graphql",
        "GET /users/{username}/gpg_keys",
        "GET /repos/{owner}/{repo}/collaborators/{username}/permission",
        "GET /repos/{owner}/{repo}/issues/{issue_number}",
        "GET /repos/{owner}/{repo}/pulls/{pull_number}",
        "GET /repos/{owner}/{repo}/issues/{issue_number}/comments",
        "POST /repos/{owner}/{repo}/issues/{issue_number}/comments",
        "PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}",
        "POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
        "POST /repos/{owner}/{repo}/check-runs",
        "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}",
        "GET /repos/{owner}/{repo}/commits/{ref}/check-runs",
        "GET /repos/{owner}/{repo}/contents/{path}",
    ):
        assert key in keys
    assert emulator_specs.graphql_schema().get_type("PullRequest") is not None


# ---- authentication --------------------------------------------------------------------------------------------------


def test_app_jwt_and_installation_token(world: World) -> None:
    integration = GithubIntegration(
        auth=Auth.AppAuth(world.app.id, world.app.private_key_pem), base_url=world.emu.api_url
    )
    assert integration.get_app().slug == "falco-rules-bot"
    token = integration.get_access_token(world.inst)
    assert token.token.startswith("ghs_")
    assert token.expires_at.timestamp() > time.time() + 3000
    assert integration.get_repo_installation("falcosecurity", "rules").id == world.inst
    calls = [c for c in world.emu.calls if c.route and c.route.startswith(("GET /app", "POST /app"))]
    assert {c.auth_kind for c in calls} == {"jwt"}


def test_token_refresh_after_ttl(world: World) -> None:
    world.emu.token_ttl = 1
    token = world.token()
    url = f"{world.emu.api_url}/repos/{REPO}/issues/{world.issue}"
    assert httpx.get(url, headers={"Authorization": f"token {token}"}).status_code == 200
    time.sleep(1.1)
    expired = httpx.get(url, headers={"Authorization": f"token {token}"})
    assert expired.status_code == 401 and expired.json()["message"] == "Bad credentials"
    # PyGithub notices the expiry (its tokens are refreshed before use) and mints a new token.
    gh = world.github(lazy=True)
    mark = world.emu.mark()
    repo = gh.get_repo(REPO)
    assert repo.get_issue(world.issue).title == "Rules are missing"
    time.sleep(1.1)
    assert repo.get_issue(world.issue).title == "Rules are missing"
    minted = [
        c for c in world.emu.calls_since(mark) if c.route == "POST /app/installations/{installation_id}/access_tokens"
    ]
    assert len(minted) == 2
    assert all(c.status == 200 for c in world.emu.calls_since(mark) if c.route.startswith("GET /repos"))  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("foreign_key", "A JSON web token could not be decoded"),
        ("too_long", "'Expiration time' claim ('exp') is too far in the future."),
        ("future_iat", "'Issued at' claim ('iat') must be an Integer"),
        ("expired", "'Expiration time' claim ('exp') must be a numeric value"),
        ("unknown_iss", "'Issuer' claim ('iss')"),
        ("garbage", "A JSON web token could not be decoded"),
    ],
)
def test_rejected_jwt(world: World, emu: Emulator, kind: str, message: str) -> None:
    other = emu.create_app(slug="other-app")
    token = {
        "foreign_key": lambda: app_jwt(world.app, key=other.private_key_pem),
        "too_long": lambda: app_jwt(world.app, lifetime=601),
        "future_iat": lambda: app_jwt(world.app, iat_shift=120),
        "expired": lambda: app_jwt(world.app, iat_shift=-700, lifetime=600),
        "unknown_iss": lambda: app_jwt(world.app, iss="99999"),
        "garbage": lambda: "a.b.c",
    }[kind]()
    answer = httpx.get(f"{emu.api_url}/app", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    assert answer.json()["message"].startswith(message)


def test_token_is_scoped_to_its_installation(world: World, emu: Emulator) -> None:
    emu.add_repository("someone/private", source=world.source.path, private=True)
    emu.add_repository("someone/public", source=world.source.path)
    token = world.token()
    headers = {"Authorization": f"token {token}"}
    assert httpx.get(f"{emu.api_url}/repos/someone/private/issues/1", headers=headers).status_code == 404
    comment = httpx.post(f"{emu.api_url}/repos/someone/public/issues/1/comments", json={"body": "x"}, headers=headers)
    assert comment.status_code == 404
    assert httpx.get(f"{emu.api_url}/repos/{REPO}/issues/1", headers={"Authorization": "token ghs_nope"}).json() == {
        "message": "Bad credentials",
        "documentation_url": "https://docs.github.com/rest",
        "status": "401",
    }


# ---- REST ----------------------------------------------------------------------------------------------------


def test_rest_round_trips_with_pygithub(world: World, emu: Emulator) -> None:
    gh = world.github()
    repo = gh.get_repo(REPO)
    assert repo.default_branch == "main" and repo.full_name == REPO
    pr = repo.get_pull(world.pr)
    state = emu.pull_request(REPO, world.pr)
    assert (pr.head.sha, pr.base.sha, pr.head.ref, pr.base.ref) == (
        state["head_sha"],
        state["base_sha"],
        "feature",
        "main",
    )
    assert pr.user.login == "alice" and pr.commits == 6 and pr.changed_files == 6
    issue = repo.get_issue(world.issue)
    assert issue.title == "Rules are missing" and [lb.name for lb in issue.labels] == ["kind/feature"]
    assert issue.pull_request is None and repo.get_issue(world.pr).pull_request is not None

    emu.add_comment(REPO, world.pr, author="alice", body="please review")
    comment = pr.create_issue_comment("<!-- falco-rules-bot:review -->\nLooks good")
    assert comment.user.login == "falco-rules-bot[bot]" and comment.user.type == "Bot"
    assert comment.raw_data["performed_via_github_app"]["slug"] == "falco-rules-bot"
    comment.edit("<!-- falco-rules-bot:review -->\nStill good")
    comment.create_reaction("eyes")
    assert emu.reactions(comment.id) == ["eyes"]
    listed = list(pr.get_issue_comments())
    assert [c.body for c in listed] == ["please review", "<!-- falco-rules-bot:review -->\nStill good"]
    for i in range(40):
        emu.add_comment(REPO, world.issue, author="bob", body=f"c{i}")
    mark = emu.mark()
    assert [c.body for c in repo.get_issue(world.issue).get_comments()] == [f"c{i}" for i in range(40)]
    pages = [
        c.query for c in emu.calls_since(mark) if c.route == "GET /repos/{owner}/{repo}/issues/{issue_number}/comments"
    ]
    assert len(pages) == 2 and "page=2" in pages[1]  # followed GitHub's Link header
    assert [c["user"] for c in emu.comments(REPO, world.pr)] == ["alice", "falco-rules-bot[bot]"]

    with pytest.raises(GithubException) as too_long:
        pr.create_issue_comment("x" * 65537)
    assert too_long.value.status == 422
    assert "Body is too long (maximum is 65536 characters)" in json.dumps(too_long.value.data)

    assert repo.get_collaborator_permission("alice") == "write"
    assert repo.get_collaborator_permission("bob") == "read"
    emu.set_permission(REPO, "bob", "maintain")
    assert repo.get_collaborator_role_name("bob") == "maintain"
    assert repo.get_collaborator_permission("bob") == "write"

    content = repo.get_contents(".github/falco-rules-bot.yml", ref="main")
    assert not isinstance(content, list) and content.decoded_content == b"checks:\n  dco: true\n"
    listing = repo.get_contents("docs/deep", ref=world.source.shas["base"])
    assert isinstance(listing, list) and [c.path for c in listing] == ["docs/deep/nested"]
    with pytest.raises(GithubException) as missing:
        repo.get_contents("nope.yml", ref="main")
    assert missing.value.status == 404

    _, keys = gh.requester.requestJsonAndCheck("GET", "/users/alice/gpg_keys")
    assert isinstance(keys, list) and keys[0]["emails"] == [{"email": "alice@example.com", "verified": True}]
    assert keys[0]["raw_key"].startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----") and keys[0]["can_sign"]


def test_check_runs(world: World, emu: Emulator) -> None:
    gh = world.github(lazy=True)
    repo = gh.get_repo(REPO)
    head = emu.pull_request(REPO, world.pr)["head_sha"]
    run = repo.create_check_run(
        "falco-rules-bot",
        head,
        status="in_progress",
        external_id="review-1",
        output={"title": "Reviewing", "summary": "..."},
    )
    assert run.status == "in_progress" and run.app.slug == "falco-rules-bot"
    assert [p.number for p in run.pull_requests] == [world.pr]

    def annotations(n: int, start: int = 0) -> list[dict[str, Any]]:
        return [
            {
                "path": "rules/falco_rules.yaml",
                "start_line": i + 1,
                "end_line": i + 1,
                "annotation_level": "warning",
                "message": f"m{i}",
            }
            for i in range(start, start + n)
        ]

    run.edit(output={"title": "Findings", "summary": "s", "annotations": annotations(50)})
    run.edit(
        conclusion="failure",
        output={"title": "Findings", "summary": "s", "text": "t", "annotations": annotations(10, 50)},
    )
    [stored] = emu.check_runs(REPO, head)
    assert stored["status"] == "completed" and stored["conclusion"] == "failure"
    assert len(stored["annotations"]) == 60 and stored["external_id"] == "review-1"
    assert stored["output"] == {"title": "Findings", "summary": "s", "text": "t"}
    repo.create_check_run("other-check", head, conclusion="success")
    commit = repo.get_commit(head)
    names = [r.name for r in commit.get_check_runs(check_name="falco-rules-bot")]
    assert names == ["falco-rules-bot"]
    assert {r.name for r in commit.get_check_runs()} == {"falco-rules-bot", "other-check"}


def test_unserved_operations_are_violations(world: World, emu: Emulator) -> None:
    answer = httpx.get(
        f"{emu.api_url}/repos/{REPO}/pulls/{world.pr}/files", headers={"Authorization": f"token {world.token()}"}
    )
    assert answer.status_code == 404
    assert len(emu.schema_violations) == 1 and emu.schema_violations[0].startswith("unserved GET /api/v3/repos/")
    emu.schema_violations.clear()


def test_requests_that_violate_the_openapi_description_are_refused(world: World, emu: Emulator) -> None:
    token = world.token()
    headers = {"Authorization": f"token {token}"}
    head = emu.pull_request(REPO, world.pr)["head_sha"]
    url = f"{emu.api_url}/repos/{REPO}/check-runs"
    many = [{"path": "a", "start_line": 1, "end_line": 1, "annotation_level": "notice", "message": "m"}] * 51
    answer = httpx.post(
        url,
        json={"name": "x", "head_sha": head, "output": {"title": "t", "summary": "s", "annotations": many}},
        headers=headers,
    )
    assert answer.status_code == 422
    assert "No more than 50 items are allowed; 51 were supplied" in answer.json()["message"]
    bad = httpx.post(url, json={"name": "x", "head_sha": head, "conclusion": "great"}, headers=headers)
    assert bad.status_code == 400 and "great" in bad.json()["message"]
    missing = httpx.post(f"{emu.api_url}/repos/{REPO}/issues/{world.pr}/comments", json={}, headers=headers)
    assert missing.status_code == 400 and "body" in missing.json()["message"]
    assert len(emu.schema_violations) == 3
    assert all(v.startswith("request ") for v in emu.schema_violations)
    emu.schema_violations.clear()
    assert emu.check_runs(REPO, head) == []


# ---- GraphQL ------------------------------------------------------------------------------------------------------


def test_graphql_rejects_what_github_rejects(world: World, emu: Emulator) -> None:
    answer = world.graphql('query Bad { repository(owner: "falcosecurity", name: "rules") { nmeWithOwner } }')
    assert "data" not in answer
    assert answer["errors"][0]["message"] == "Field 'nmeWithOwner' doesn't exist on type 'Repository'"
    assert emu.graphql_rejections == ["Bad: Field 'nmeWithOwner' doesn't exist on type 'Repository'"]
    unpaged = world.graphql(
        '{ repository(owner: "falcosecurity", name: "rules") { pullRequest(number: 2) { commits { totalCount } } } }'
    )
    assert "first" in unpaged["errors"][0]["message"] and unpaged.get("data") is None
    emu.graphql_rejections.clear()
    missing = world.graphql('{ repository(owner: "falcosecurity", name: "rules") { pullRequest(number: 99) { id } } }')
    assert missing["errors"][0]["type"] == "NOT_FOUND" and missing["data"] == {"repository": {"pullRequest": None}}
    assert emu.graphql_rejections == []
    assert next(c.graphql_operation for c in emu.calls if c.route == "POST /graphql") == "Bad"


def gpg_verify(key: Key, signature: str, payload: str, tmp: Path) -> bool:
    (tmp / "sig.asc").write_text(signature)
    proc = subprocess.run(
        ["gpg", "--homedir", str(key.home), "--batch", "--verify", str(tmp / "sig.asc"), "-"],
        input=payload,
        text=True,
        capture_output=True,
        check=False,
    )
    return proc.returncode == 0


def test_pull_request_query(world: World, emu: Emulator, keys: dict[str, Key], tmp_path: Path) -> None:
    emu.set_status(REPO, world.source.shas["unsigned"], "dco", "success")
    head = emu.pull_request(REPO, world.pr)["head_sha"]
    token = world.token()
    httpx.post(
        f"{emu.api_url}/repos/{REPO}/check-runs",
        headers={"Authorization": f"token {token}"},
        json={"name": "falco-rules-bot", "head_sha": head, "external_id": "e1", "status": "in_progress"},
    )
    answer = world.graphql(
        queries.PULL_REQUEST,
        {
            "owner": "falcosecurity",
            "name": "rules",
            "number": world.pr,
            "policyPath": "HEAD:.github/falco-rules-bot.yml",
        },
        token,
    )
    assert "errors" not in answer, answer
    data = answer["data"]
    assert data["rateLimit"]["cost"] == 1 and data["rateLimit"]["remaining"] > 0
    repo = data["repository"]
    assert repo["nameWithOwner"] == REPO and repo["isFork"] is False and repo["parent"] is None
    assert repo["defaultBranchRef"] == {"name": "main"}
    assert repo["policy"] == {"text": "checks:\n  dco: true\n", "isTruncated": False}
    pr = repo["pullRequest"]
    assert pr["number"] == world.pr and pr["state"] == "OPEN" and pr["author"] == {"login": "alice"}
    assert pr["headRefOid"] == head and pr["baseRefOid"] == world.source.shas["base"] and pr["changedFiles"] == 6
    assert pr["closingIssuesReferences"]["nodes"] == [
        {
            "number": world.issue,
            "state": "OPEN",
            "title": "Rules are missing",
            "repository": {"nameWithOwner": REPO},
            "labels": {"nodes": [{"name": "kind/feature"}]},
        }
    ]
    files = {n["path"]: n["changeType"] for n in pr["files"]["nodes"]}
    assert files == {
        "rules/new_rules.yaml": "ADDED",
        "rules/falco_rules.yaml": "MODIFIED",
        "logo.png": "ADDED",
        "README.md": "DELETED",
        "big.txt": "ADDED",
        "rules/extra.yaml": "ADDED",
    }
    assert pr["commits"]["totalCount"] == 6 and pr["commits"]["pageInfo"]["hasNextPage"] is False
    commits = {n["commit"]["oid"]: n["commit"] for n in pr["commits"]["nodes"]}
    shas = world.source.shas
    expected = {
        "valid": "VALID",
        "unknown_key": "UNKNOWN_KEY",
        "bad_email": "BAD_EMAIL",
        "expired": "EXPIRED_KEY",
        "invalid": "INVALID",
    }
    for role, state in expected.items():
        signature = commits[shas[role]]["signature"]
        assert signature["__typename"] == "GpgSignature" and signature["state"] == state, role
        assert signature["isValid"] is (state == "VALID")
        assert signature["payload"] == world.source.payloads[shas[role]]
    assert commits[shas["unsigned"]]["signature"] is None
    valid = commits[shas["valid"]]["signature"]
    assert valid["signer"] == {"login": "alice"} and valid["keyId"] == keys["alice"].fingerprint[-16:]
    # The payload is exactly what was signed: gpg agrees with the verdict.
    assert gpg_verify(keys["alice"], valid["signature"], valid["payload"], tmp_path)
    bad = commits[shas["invalid"]]["signature"]
    assert not gpg_verify(keys["alice"], bad["signature"], bad["payload"], tmp_path)
    assert commits[shas["valid"]]["author"] == {
        "name": "Alice",
        "email": "alice@example.com",
        "user": {"login": "alice"},
    }
    assert commits[shas["unsigned"]]["committer"]["user"] is None
    assert commits[shas["valid"]]["parents"]["nodes"] == [{"oid": shas["base"]}]
    last = pr["head"]["nodes"][0]["commit"]
    assert last["oid"] == head and last["status"]["contexts"] == [{"context": "dco", "state": "SUCCESS"}]
    entries = {e["path"]: e for e in last["tree"]["entries"]}
    assert entries["rules"]["type"] == "tree"
    assert {e["path"] for e in entries["rules"]["object"]["entries"]} == {
        "rules/extra.yaml",
        "rules/falco_rules.yaml",
        "rules/new_rules.yaml",
    }
    deep = entries["docs"]["object"]["entries"][0]["object"]["entries"]
    assert deep == [{"path": "docs/deep/nested", "type": "tree"}]
    [suite] = last["checkSuites"]["nodes"]
    assert suite["app"]["slug"] == "falco-rules-bot" and suite["app"]["databaseId"] == world.app.id
    assert suite["checkRuns"]["nodes"][0]["name"] == "falco-rules-bot"
    assert suite["checkRuns"]["nodes"][0]["status"] == "IN_PROGRESS"
    assert suite["checkRuns"]["nodes"][0]["externalId"] == "e1"


def test_pagination_of_commits_and_files(world: World, emu: Emulator) -> None:
    number = emu.open_pull_request(REPO, source=world.source.path, head_ref="many", title="Many", author="carol")
    token = world.token()
    variables = {
        "owner": "falcosecurity",
        "name": "rules",
        "number": number,
        "policyPath": "HEAD:.github/falco-rules-bot.yml",
    }
    first = world.graphql(queries.PULL_REQUEST, variables, token)["data"]["repository"]["pullRequest"]
    assert first["commits"]["totalCount"] == 120 and len(first["commits"]["nodes"]) == 100
    assert first["files"]["totalCount"] == 120 and first["files"]["pageInfo"]["hasNextPage"] is True
    commits = world.graphql(
        queries.MORE_COMMITS, {**variables, "after": first["commits"]["pageInfo"]["endCursor"]}, token
    )["data"]["repository"]["pullRequest"]["commits"]
    assert len(commits["nodes"]) == 20 and commits["pageInfo"]["hasNextPage"] is False
    oids = [n["commit"]["oid"] for n in first["commits"]["nodes"] + commits["nodes"]]
    assert oids[-1] == world.source.shas["many"] and len(set(oids)) == 120
    assert [n["commit"]["message"] for n in commits["nodes"]][:2] == ["c100", "c101"]
    files = world.graphql(queries.MORE_FILES, {**variables, "after": first["files"]["pageInfo"]["endCursor"]}, token)[
        "data"
    ]["repository"]["pullRequest"]["files"]
    paths = [n["path"] for n in first["files"]["nodes"] + files["nodes"]]
    assert paths == [f"many/f{i:03d}.txt" for i in range(120)]
    assert first["commits"]["nodes"][0]["commit"]["author"]["user"] is None  # carol has no account


def test_texts_query_and_minimize(world: World, emu: Emulator) -> None:
    shas = world.source.shas
    other = emu.add_issue(REPO, "Closed one", author="bob", state="closed")
    own = world.github().get_repo(REPO).get_pull(world.pr).create_issue_comment("<!-- falco-rules-bot:review -->")
    emu.add_comment(REPO, world.pr, author="alice", body="hello")
    emu.blob_truncate_bytes = 4000
    query = queries.texts_query(
        {
            "a": f"{shas['valid']}:rules/new_rules.yaml",
            "b": f"{shas['unsigned']}:logo.png",
            "c": f"{shas['unsigned']}:big.txt",
            "d": f"{shas['base']}:missing.yaml",
        },
        {
            "i1": ("falcosecurity", "rules", other),
            "i2": ("falcosecurity", "rules", world.pr),
            "i3": ("falcosecurity", "rules", 404),
        },
    )
    answer = world.graphql(query, {"owner": "falcosecurity", "name": "rules", "number": world.pr})
    data = answer["data"]
    repo = data["repository"]
    assert repo["a"] == {"text": RULES_NEW, "isTruncated": False, "isBinary": False, "byteSize": len(RULES_NEW)}
    assert repo["b"]["isBinary"] is True and repo["b"]["text"] is None
    assert repo["c"] == {"text": None, "isTruncated": True, "isBinary": False, "byteSize": 5000}
    assert repo["d"] is None
    assert data["i1"]["issueOrPullRequest"] == {
        "__typename": "Issue",
        "number": other,
        "state": "CLOSED",
        "title": "Closed one",
        "labels": {"nodes": []},
    }
    assert data["i2"]["issueOrPullRequest"] == {
        "__typename": "PullRequest",
        "number": world.pr,
        "prState": "OPEN",
        "title": "Add rules",
    }
    assert data["i3"] == {"issueOrPullRequest": None}
    assert [e["type"] for e in answer["errors"]] == ["NOT_FOUND"]
    comments = repo["pullRequest"]["comments"]["nodes"]
    assert [(c["author"]["login"], c["viewerDidAuthor"]) for c in comments] == [
        ("falco-rules-bot", True),
        ("alice", False),
    ]
    assert comments[0]["databaseId"] == own.id
    minimized = world.graphql(queries.MINIMIZE, {"id": comments[0]["id"]})
    assert minimized == {"data": {"minimizeComment": {"minimizedComment": {"isMinimized": True}}}}
    assert emu.comments(REPO, world.pr)[0]["minimized"] is True


RULES_NEW = """- rule: Sh in container
  desc: A shell was spawned in a container
  condition: evt.type = execve and container.id != host and proc.name = bash
  output: Sh (user=%user.name)
  priority: WARNING
"""


def test_closing_issue_references(world: World, emu: Emulator) -> None:
    query = (
        'query($n: Int!) { repository(owner: "falcosecurity", name: "rules") { pullRequest(number: $n) {'
        " closingIssuesReferences(first: 10) { totalCount nodes { number } } } } }"
    )

    def closing(number: int) -> list[int]:
        answer = world.graphql(query, {"n": number})
        return [n["number"] for n in answer["data"]["repository"]["pullRequest"]["closingIssuesReferences"]["nodes"]]

    assert closing(world.pr) == [world.issue]
    second = emu.add_issue(REPO, "Another", author="bob")
    emu.edit_pull_request(REPO, world.pr, body=f"resolves falcosecurity/rules#{second}, closes #{world.pr}, see #1")
    assert closing(world.pr) == [second]
    emu.link_issue(REPO, world.pr, REPO, world.issue)
    assert closing(world.pr) == [world.issue, second]
    git(world.source.path, "branch", "-f", "release", "main")
    emu.push_branch(REPO, world.source.path, "release")
    off_default = emu.open_pull_request(
        REPO, source=world.source.path, head_ref="feature", base="release", body=f"Fixes #{world.issue}", author="alice"
    )
    assert closing(off_default) == []


# ---- faults ---------------------------------------------------------------------------------------------------------


def test_fault_injection(world: World, emu: Emulator) -> None:
    token = world.token()
    headers = {"Authorization": f"token {token}"}
    url = f"{emu.api_url}/repos/{REPO}/issues/{world.issue}"
    emu.faults.add(route="GET /repos/{owner}/{repo}/issues/{issue_number}", status=502, times=1)
    assert httpx.get(url, headers=headers).status_code == 502
    assert httpx.get(url, headers=headers).status_code == 200
    emu.faults.add(route="*", secondary_rate_limit=True, retry_after=7)
    limited = httpx.get(url, headers=headers)
    assert limited.status_code == 403 and limited.headers["retry-after"] == "7"
    assert "secondary rate limit" in limited.json()["message"]
    emu.faults.add(route="POST /graphql", status=502, every=2, times=None)
    statuses = [
        httpx.post(emu.graphql_url, json={"query": "{ rateLimit { cost } }"}, headers=headers).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 502, 200, 502]
    emu.faults.clear()
    # PyGithub with its default retry policy rides over a 502.
    emu.faults.add(route="GET /repos/{owner}/{repo}/pulls/{pull_number}", status=502, times=1)
    auth = Auth.AppAuth(world.app.id, world.app.private_key_pem).get_installation_auth(world.inst)
    gh = Github(auth=auth, base_url=emu.api_url, lazy=True, seconds_between_requests=None, seconds_between_writes=None)
    assert gh.get_repo(REPO).get_pull(world.pr).title == "Add rules"
    pulls = [c.status for c in emu.calls if c.route == "GET /repos/{owner}/{repo}/pulls/{pull_number}"]
    assert pulls == [502, 200]
    last = httpx.get(url, headers=headers)
    assert {
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-ratelimit-used",
        "x-ratelimit-resource",
    } <= set(last.headers)
    assert last.headers["content-type"] == "application/json; charset=utf-8"


def test_primary_rate_limit(world: World, emu: Emulator) -> None:
    emu.rate_limit = 3
    headers = {"Authorization": f"token {world.token()}"}
    url = f"{emu.api_url}/repos/{REPO}/issues/{world.issue}"
    answers = [httpx.get(url, headers=headers) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 403]
    assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert answers[3].json()["message"] == f"API rate limit exceeded for installation ID {world.inst}."
    graphql = [
        httpx.post(emu.graphql_url, json={"query": "{ rateLimit { remaining } }"}, headers=headers).json()
        for _ in range(4)
    ]
    assert [g.get("data") for g in graphql[:3]] == [{"rateLimit": {"remaining": n}} for n in (2, 1, 0)]
    assert graphql[3]["errors"][0]["type"] == "RATE_LIMITED"


# ---- webhooks -------------------------------------------------------------------------------------------------------


def test_hmac_matches_githubs_test_vector() -> None:
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert signature_256("It's a Secret to Everybody", b"Hello, World!") == expected


def test_webhook_payloads(world: World, emu: Emulator) -> None:
    shas = world.source.shas
    comment = emu.add_comment(REPO, world.pr, author="alice", body="@falco-rules-bot recheck")
    token = world.token()
    run = httpx.post(
        f"{emu.api_url}/repos/{REPO}/check-runs",
        headers={"Authorization": f"token {token}"},
        json={"name": "falco-rules-bot", "head_sha": shas["unsigned"], "conclusion": "success"},
    ).json()
    new_head = emu.push_pull_request(REPO, world.pr, source=world.source.path, head_ref="feature")
    cases: list[tuple[str, str | None, dict[str, Any]]] = [
        ("pull_request", "opened", {"number": world.pr}),
        ("pull_request", "synchronize", {"number": world.pr}),
        ("pull_request", "edited", {"number": world.pr, "changes": {"title": {"from": "Old"}}}),
        ("pull_request", "converted_to_draft", {"number": world.pr}),
        ("pull_request", "ready_for_review", {"number": world.pr}),
        ("pull_request", "closed", {"number": world.pr}),
        ("pull_request", "reopened", {"number": world.pr}),
        ("issue_comment", "created", {"comment_id": comment}),
        ("check_run", "rerequested", {"check_run_id": run["id"]}),
        ("check_suite", "rerequested", {"head_sha": shas["unsigned"]}),
        ("installation", "created", {}),
        ("installation_repositories", "added", {}),
        ("ping", None, {}),
    ]
    # The state changes each action announces (the schema holds payloads to them, e.g. draft: true).
    state_for = {
        "converted_to_draft": {"draft": True},
        "ready_for_review": {"draft": False},
        "closed": {"state": "closed"},
        "reopened": {"state": "open"},
    }
    for event, action, extra in cases:
        if event == "pull_request" and action in state_for:
            emu.edit_pull_request(REPO, world.pr, **state_for[action])
        repo = REPO if event not in ("installation", "installation_repositories", "ping") else None
        body, headers = emu.webhook(event, action, repo=repo, installation=world.inst, app=world.app, **extra)
        assert headers["X-Hub-Signature-256"] == signature_256(world.app.webhook_secret, body)
        assert headers["X-GitHub-Event"] == event and headers["User-Agent"].startswith("GitHub-Hookshot/")
        payload = json.loads(body)
        # Valid wherever the real example is, and never less valid than it (check_run.rerequested's examples carry
        # non-RFC 3339 dates the emulator does not copy).
        source_action = action if action != "edited" else "opened"
        original = set(webhook_schema_errors(event, source_action, webhook_example(event, source_action)))
        assert set(webhook_schema_errors(event, action, payload)) <= original, (event, action)
        if (event, action) == ("check_run", "rerequested"):
            assert webhook_schema_errors(event, action, payload) == []
        if event == "pull_request":
            assert payload["pull_request"]["head"]["sha"] == new_head and payload["number"] == world.pr
            assert payload["repository"]["full_name"] == REPO and payload["installation"]["id"] == world.inst
            assert payload["pull_request"]["base"]["sha"] == shas["base"]
        if action == "synchronize":
            assert payload["after"] == new_head
    body, _ = emu.webhook("issue_comment", "created", comment_id=comment)  # repo, installation, app: inferred
    payload = json.loads(body)
    assert payload["issue"]["pull_request"]["url"].startswith(emu.api_url)
    assert payload["comment"]["body"] == "@falco-rules-bot recheck" and payload["sender"]["login"] == "alice"
    _, again = emu.webhook("ping", None, app=world.app, delivery="d-1")
    assert again["X-GitHub-Delivery"] == "d-1"


def test_deliver_posts_over_http(world: World, emu: Emulator) -> None:
    received: list[tuple[dict[str, str], bytes]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append((dict(self.headers), self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(202)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/webhook"
        assert emu.deliver(url, "pull_request", "opened", repo=REPO, number=world.pr) == (202, "ok")
    finally:
        server.shutdown()
        server.server_close()
    headers, body = received[0]
    assert headers["X-Hub-Signature-256"] == signature_256(world.app.webhook_secret, body)


def test_fork_pull_request(world: World, emu: Emulator) -> None:
    emu.add_repository("alice/rules", source=world.source.path, fork_of=REPO)
    number = emu.open_pull_request(
        REPO, source=world.source.path, head_ref="feature", head_repo="alice/rules", author="alice", title="From a fork"
    )
    query = (
        'query($n: Int!) { repository(owner: "falcosecurity", name: "rules") { pullRequest(number: $n) {'
        " isCrossRepository headRepository { nameWithOwner isFork parent { nameWithOwner } } } } }"
    )
    pr = world.graphql(query, {"n": number})["data"]["repository"]["pullRequest"]
    assert pr == {
        "isCrossRepository": True,
        "headRepository": {"nameWithOwner": "alice/rules", "isFork": True, "parent": {"nameWithOwner": REPO}},
    }
    rest = world.github().get_repo(REPO).get_pull(number)
    assert rest.head.repo.full_name == "alice/rules" and rest.head.label == "alice:feature"
    body, _ = emu.webhook("pull_request", "opened", repo=REPO, number=number)
    payload = json.loads(body)
    assert payload["pull_request"]["head"]["repo"]["full_name"] == "alice/rules"
    assert payload["pull_request"]["head"]["repo"]["fork"] is True
    assert webhook_schema_errors("pull_request", "opened", payload) == []


# ---- git ----------------------------------------------------------------------------------------------------


def test_git_fetch_of_pull_head_over_smart_http(world: World, emu: Emulator, tmp_path: Path) -> None:
    clone = tmp_path / "mirror.git"
    subprocess.run(["git", "init", "-q", "--bare", str(clone)], check=True, env={**os.environ, **GIT_ENV})
    url = f"{emu.url}/falcosecurity/rules.git"
    refspec = f"+refs/pull/{world.pr}/head:refs/pull/{world.pr}/head"
    anonymous = subprocess.run(
        ["git", "-C", str(clone), "fetch", url, refspec],
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
        check=False,
    )
    assert anonymous.returncode != 0
    token = world.token()
    import base64

    header = "AUTHORIZATION: basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()
    fetched = subprocess.run(
        [
            "git",
            "-C",
            str(clone),
            "-c",
            f"http.extraheader={header}",
            "fetch",
            url,
            refspec,
            "+refs/heads/main:refs/heads/main",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
        check=False,
    )
    assert fetched.returncode == 0, fetched.stderr
    assert git(clone, "rev-parse", f"refs/pull/{world.pr}/head") == emu.pull_request(REPO, world.pr)["head_sha"]
    routes = [(c.route, c.status, c.auth_kind) for c in emu.calls if c.route and ".git/" in c.route]
    assert ("GET /{owner}/{repo}.git/info/refs", 401, "anonymous") in routes
    assert ("POST /{owner}/{repo}.git/git-upload-pack", 200, "installation") in routes
