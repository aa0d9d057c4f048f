"""GraphQL at /api/graphql: GitHub's schema (graphql-core), resolvers over the emulator's state and git."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from graphql import ExecutionResult, GraphQLError, parse, validate
from graphql import execute as gql_execute
from graphql.language import DocumentNode, OperationDefinitionNode

from . import specs
from .rest import Resp
from .state import Issue, Repository, iso

if TYPE_CHECKING:
    from .rest import Ctx
    from .state import CheckRun, CheckSuite, Comment, User

MAX_PAGE = 100
FILES_CAP = 3000
CLOSING = re.compile(
    r"(?i)\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\b:?\s+"
    r"(?:(?P<url>https?://[^\s/]+/(?P<uowner>[\w.-]+)/(?P<urepo>[\w.-]+)/issues/(?P<unum>\d+))"
    r"|(?:(?P<owner>[\w.-]+)/(?P<repo>[\w.-]+))?#(?P<num>\d+))"
)


class GitHubGraphQLError(Exception):
    """An error GitHub reports with a `type` (NOT_FOUND, FORBIDDEN, ...); `rejected`: GitHub refuses the query."""

    def __init__(self, kind: str, message: str, rejected: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.rejected = rejected


def not_found(message: str) -> GitHubGraphQLError:
    return GitHubGraphQLError("NOT_FOUND", message)


@lru_cache(maxsize=256)
def _parse(query: str) -> DocumentNode:
    return parse(query)


def operation_name(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    if body.get("operationName"):
        return str(body["operationName"])
    try:
        document = _parse(str(body.get("query") or ""))
    except GraphQLError:
        return None
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            return definition.name.value if definition.name else None
    return None


def _github_message(error: GraphQLError) -> dict[str, Any]:
    formatted: dict[str, Any] = dict(error.formatted)
    m = re.match(r"Cannot query field '(\w+)' on type '(\w+)'\.", error.message)
    if m:
        formatted["message"] = f"Field '{m[1]}' doesn't exist on type '{m[2]}'"
        formatted["extensions"] = {"code": "undefinedField", "typeName": m[2], "fieldName": m[1]}
    return formatted


def execute(ctx: Ctx) -> Resp:
    emu = ctx.emu
    body = ctx.body or {}
    query = body.get("query") or ""
    name = operation_name(body)
    label = name or "anonymous"

    def reject(errors: list[dict[str, Any]]) -> Resp:
        emu.graphql_rejections.extend(f"{label}: {e.get('message')}" for e in errors)
        return Resp(200, {"errors": errors})

    try:
        document = _parse(query)
    except GraphQLError as exc:
        return reject([{"message": f"Parse error: {exc.message}", "locations": exc.formatted.get("locations")}])
    problems = validate(specs.graphql_schema(), document)
    if problems:
        return reject([_github_message(p) for p in problems])
    result = gql_execute(  # synchronous: no resolver returns an awaitable
        specs.graphql_schema(),
        document,
        root_value=Root(ctx),
        variable_values=body.get("variables") or {},
        operation_name=body.get("operationName"),
        field_resolver=resolve_field,
        type_resolver=resolve_type,
    )
    assert isinstance(result, ExecutionResult)
    errors = []
    rejected = result.data is None and bool(result.errors)
    for error in result.errors or []:
        formatted = _github_message(error)
        original = error.original_error
        if isinstance(original, GitHubGraphQLError):
            formatted["type"] = original.kind
            rejected = rejected or original.rejected
        errors.append(formatted)
    if rejected:
        return reject(errors)
    answer: dict[str, Any] = {"data": result.data}
    if errors:
        answer["errors"] = errors
    return Resp(200, answer)


def resolve_field(source: Any, info: Any, **args: Any) -> Any:
    value = source.get(info.field_name) if isinstance(source, dict) else getattr(source, info.field_name, None)
    return value(info, **args) if callable(value) else value


def resolve_type(value: Any, info: Any, abstract_type: Any) -> str | None:
    if isinstance(value, dict):
        return value.get("__typename")
    return getattr(value, "typename", None)


# ---- helpers -----------------------------------------------------------------------------------------------------


def _cursor(index: int) -> str:
    return base64.b64encode(f"cursor:{index + 1}".encode()).decode()


def _uncursor(cursor: str, kind: str) -> int:
    try:
        text = base64.b64decode(cursor.encode(), validate=True).decode()
        if not text.startswith("cursor:"):
            raise ValueError(text)
        return int(text[7:]) - 1
    except ValueError:
        raise GitHubGraphQLError(
            "INVALID_CURSOR_ARGUMENTS", f"`{cursor}` does not appear to be a valid cursor.", rejected=True
        ) from None


def connection(
    items: list[Any],
    kind: str,
    first: int | None = None,
    last: int | None = None,
    after: str | None = None,
    before: str | None = None,
    total: int | None = None,
    **_: Any,
) -> dict[str, Any]:
    if first is None and last is None:
        raise GitHubGraphQLError(
            "MISSING_PAGINATION_BOUNDARIES",
            f"You must provide a `first` or `last` value to properly paginate the `{kind}` connection.",
            rejected=True,
        )
    for value, arg in ((first, "first"), (last, "last")):
        if value is not None and value > MAX_PAGE:
            raise GitHubGraphQLError(
                "EXCESSIVE_PAGINATION",
                f"Requesting {value} records on the `{kind}` connection exceeds the `{arg}` limit of {MAX_PAGE} "
                "records.",
                rejected=True,
            )
        if value is not None and value < 0:
            raise GitHubGraphQLError("INVALID_ARGUMENTS", f"`{arg}` must be a non-negative integer", rejected=True)
    indexed = list(enumerate(items))
    if after:
        start = _uncursor(after, kind)
        indexed = [(i, x) for i, x in indexed if i > start]
    if before:
        end = _uncursor(before, kind)
        indexed = [(i, x) for i, x in indexed if i < end]
    has_next = before is not None and _uncursor(before, kind) < len(items)
    has_prev = after is not None and _uncursor(after, kind) >= 0
    if first is not None:
        has_next = has_next or len(indexed) > first
        indexed = indexed[:first]
    if last is not None:
        has_prev = len(indexed) > last
        indexed = indexed[len(indexed) - last :] if last else []
    return {
        "totalCount": len(items) if total is None else total,
        "nodes": [x for _, x in indexed],
        "edges": [{"cursor": _cursor(i), "node": x} for i, x in indexed],
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_prev,
            "startCursor": _cursor(indexed[0][0]) if indexed else None,
            "endCursor": _cursor(indexed[-1][0]) if indexed else None,
        },
    }


class Node:
    typename = "Node"

    def __init__(self, ctx: Ctx) -> None:
        self.c = ctx
        self.emu = ctx.emu


def actor(ctx: Ctx, login: str | None) -> ActorNode | None:
    if not login:
        return None
    user = ctx.emu.find_user(login)
    return ActorNode(ctx, user) if user else None


class ActorNode(Node):
    def __init__(self, ctx: Ctx, user: User) -> None:
        super().__init__(ctx)
        self.user = user
        self.typename = user.type if user.type in ("User", "Organization", "Bot") else "User"
        # GraphQL names a Bot by its App's slug, without REST's "[bot]" suffix.
        self.login = user.login.removesuffix("[bot]") if user.type == "Bot" else user.login
        self.id = user.node_id
        self.databaseId = user.id
        self.name = user.name
        self.email = user.email or ""
        self.url = f"{ctx.emu.url}/{user.login}"
        self.resourcePath = f"/{user.login}"

    def avatarUrl(self, info: Any, size: int | None = None) -> str:
        return f"{self.emu.url}/avatars/u/{self.user.id}?v=4"


class Root(Node):
    def rateLimit(self, info: Any, dryRun: bool = False) -> dict[str, Any]:
        from .server import rate_identity

        used, reset = self.emu._rate.get(f"{rate_identity(self.c.auth)}:graphql", [1, 0])
        return {
            "cost": 1,
            "limit": self.emu.rate_limit,
            "nodeCount": 1,
            "remaining": max(0, self.emu.rate_limit - used),
            "resetAt": iso(datetime.fromtimestamp(reset, UTC)),
            "used": used,
        }

    def repository(self, info: Any, owner: str, name: str, followRenames: bool = True) -> RepositoryNode:
        repo = self.emu.repos.get(f"{owner}/{name}".lower())
        token = self.c.auth.token
        allowed = repo is not None and (
            not repo.private or (token is not None and repo.full_name in token.repositories)
        )
        if repo is None or not allowed:
            raise not_found(f"Could not resolve to a Repository with the name '{owner}/{name}'.")
        return RepositoryNode(self.c, repo)

    def viewer(self, info: Any) -> ActorNode | None:
        app = self.c.auth.app
        return actor(self.c, app.bot_login) if app else None

    def minimizeComment(self, info: Any, input: dict[str, Any]) -> dict[str, Any]:
        subject = input["subjectId"]
        comment = next((c for c in self.emu.comments_by_id.values() if c.node_id == subject), None)
        token = self.c.auth.token
        if comment is None or token is None or comment.repo not in token.repositories:
            raise not_found(f"Could not resolve to a node with the global id of '{subject}'")
        comment.minimized = True
        comment.minimized_reason = str(input["classifier"])
        return {"clientMutationId": input.get("clientMutationId"), "minimizedComment": CommentNode(self.c, comment)}

    def unminimizeComment(self, info: Any, input: dict[str, Any]) -> dict[str, Any]:
        subject = input["subjectId"]
        comment = next((c for c in self.emu.comments_by_id.values() if c.node_id == subject), None)
        if comment is None:
            raise not_found(f"Could not resolve to a node with the global id of '{subject}'")
        comment.minimized = False
        comment.minimized_reason = None
        return {"clientMutationId": input.get("clientMutationId"), "unminimizedComment": CommentNode(self.c, comment)}


class RepositoryNode(Node):
    typename = "Repository"

    def __init__(self, ctx: Ctx, repo: Repository) -> None:
        super().__init__(ctx)
        self.repo = repo
        self.id = repo.node_id
        self.databaseId = repo.id
        self.name = repo.name
        self.nameWithOwner = repo.full_name
        self.isFork = repo.fork_of is not None
        self.isPrivate = repo.private
        self.isArchived = False
        self.visibility = "PRIVATE" if repo.private else "PUBLIC"
        self.url = f"{ctx.emu.url}/{repo.full_name}"

    def owner(self, info: Any) -> ActorNode | None:
        return actor(self.c, self.repo.owner)

    def parent(self, info: Any) -> RepositoryNode | None:
        return RepositoryNode(self.c, self.emu.repo(self.repo.fork_of)) if self.repo.fork_of else None

    def defaultBranchRef(self, info: Any) -> dict[str, Any]:
        oid = self.repo.git.rev_parse(f"refs/heads/{self.repo.default_branch}")
        return {
            "__typename": "Ref",
            "name": self.repo.default_branch,
            "prefix": "refs/heads/",
            "target": CommitNode(self.c, self.repo, oid) if oid else None,
        }

    def object(self, info: Any, expression: str | None = None, oid: str | None = None) -> Node | None:
        spec = expression if expression is not None else oid
        if not spec or "\n" in spec:
            return None
        return git_object(self.c, self.repo, spec)

    def _issue(self, number: int) -> Issue | None:
        return self.emu.issues.get((self.repo.full_name.lower(), number))

    def pullRequest(self, info: Any, number: int) -> PullRequestNode:
        issue = self._issue(number)
        if issue is None or not issue.is_pr:
            raise not_found(f"Could not resolve to a PullRequest with the number of {number}.")
        return PullRequestNode(self.c, issue)

    def issue(self, info: Any, number: int) -> IssueNode:
        issue = self._issue(number)
        if issue is None or issue.is_pr:
            raise not_found(f"Could not resolve to an Issue with the number of {number}.")
        return IssueNode(self.c, issue)

    def issueOrPullRequest(self, info: Any, number: int) -> Node:
        issue = self._issue(number)
        if issue is None:
            raise not_found(f"Could not resolve to an issue or pull request with the number of {number}.")
        return PullRequestNode(self.c, issue) if issue.is_pr else IssueNode(self.c, issue)


def git_object(ctx: Ctx, repo: Repository, spec: str) -> Node | None:
    info = repo.git.info(spec)
    if info is None:
        return None
    path = spec.partition(":")[2].strip("/") if ":" in spec else ""
    if info.type == "blob":
        return BlobNode(ctx, repo, info.oid, info.size)
    if info.type == "tree":
        return TreeNode(ctx, repo, info.oid, path)
    if info.type == "commit":
        return CommitNode(ctx, repo, info.oid)
    return None


class BlobNode(Node):
    typename = "Blob"

    def __init__(self, ctx: Ctx, repo: Repository, oid: str, size: int) -> None:
        super().__init__(ctx)
        self.repo = repo
        self.oid = oid
        self.id = base64.b64encode(f"05:Blob{repo.id}:{oid}".encode()).decode()
        self.abbreviatedOid = oid[:7]
        self.byteSize = size
        self.commitUrl = f"{ctx.emu.url}/{repo.full_name}"
        self._data: bytes | None = None

    def _bytes(self) -> bytes:
        if self._data is None:
            self._data = self.repo.git.blob(self.oid)
        return self._data

    def isTruncated(self, info: Any) -> bool:
        return self.byteSize > self.emu.blob_truncate_bytes

    def isBinary(self, info: Any) -> bool:
        if self.byteSize > self.emu.blob_truncate_bytes:
            return False
        return b"\0" in self._bytes()[:8000]

    def text(self, info: Any) -> str | None:
        if self.byteSize > self.emu.blob_truncate_bytes or self.isBinary(info):
            return None
        return self._bytes().decode("utf-8", errors="replace")


class TreeNode(Node):
    typename = "Tree"

    def __init__(self, ctx: Ctx, repo: Repository, oid: str, path: str = "") -> None:
        super().__init__(ctx)
        self.repo = repo
        self.oid = oid
        self.abbreviatedOid = oid[:7]
        self.path = path
        self.id = base64.b64encode(f"05:Tree{repo.id}:{oid}".encode()).decode()

    def entries(self, info: Any) -> list[dict[str, Any]]:
        result = []
        for e in self.repo.git.tree(self.oid):
            full = f"{self.path}/{e.name}" if self.path else e.name
            obj: Node | None
            if e.type == "tree":
                obj = TreeNode(self.c, self.repo, e.oid, full)
            elif e.type == "blob":
                info_ = self.repo.git.info(e.oid)
                obj = BlobNode(self.c, self.repo, e.oid, info_.size if info_ else 0)
            else:
                obj = None
            result.append(
                {
                    "__typename": "TreeEntry",
                    "name": e.name,
                    "path": full,
                    "type": e.type,
                    "mode": int(e.mode, 8),
                    "oid": e.oid,
                    "object": obj,
                    "extension": ("." + e.name.rsplit(".", 1)[1]) if "." in e.name[1:] else None,
                    "isGenerated": False,
                }
            )
        return result


class CommitNode(Node):
    typename = "Commit"

    def __init__(self, ctx: Ctx, repo: Repository, oid: str) -> None:
        super().__init__(ctx)
        self.repo = repo
        self.oid = oid
        self.abbreviatedOid = oid[:7]
        self.id = base64.b64encode(f"06:Commit{repo.id}:{oid}".encode()).decode()
        self.url = f"{ctx.emu.url}/{repo.full_name}/commit/{oid}"
        self.commitUrl = self.url

    @property
    def _obj(self) -> Any:
        return self.repo.git.commit(self.oid)

    def message(self, info: Any) -> str:
        # GitHub gives the message without the trailing newline git stores.
        return str(self._obj.message).rstrip("\n")

    def messageHeadline(self, info: Any) -> str:
        return str(self._obj.message).split("\n", 1)[0]

    def messageBody(self, info: Any) -> str:
        return str(self._obj.message).partition("\n")[2].strip("\n")

    def _actor(self, person: Any) -> dict[str, Any]:
        user = self.emu.user_by_email(person.email) if person.email else None
        return {
            "__typename": "GitActor",
            "name": person.name,
            "email": person.email,
            "date": iso(person.date),
            "user": ActorNode(self.c, user) if user and user.type == "User" else None,
            "avatarUrl": f"{self.emu.url}/avatars/u/0?v=4",
        }

    def author(self, info: Any) -> dict[str, Any]:
        return self._actor(self._obj.author)

    def committer(self, info: Any) -> dict[str, Any]:
        return self._actor(self._obj.committer)

    def authoredDate(self, info: Any) -> str | None:
        return iso(self._obj.author.date)

    def committedDate(self, info: Any) -> str | None:
        return iso(self._obj.committer.date)

    def parents(self, info: Any, **args: Any) -> dict[str, Any]:
        return connection([CommitNode(self.c, self.repo, p) for p in self._obj.parents], "parents", **args)

    def tree(self, info: Any) -> TreeNode:
        return TreeNode(self.c, self.repo, self._obj.tree)

    def signature(self, info: Any) -> dict[str, Any] | None:
        verdict = self.emu.signature_verdict(self.repo, self.oid)
        if verdict is None:
            return None
        return {
            "__typename": verdict["kind"],
            "isValid": verdict["state"] == "VALID",
            "state": verdict["state"],
            "signature": verdict["signature"],
            "payload": verdict["payload"],
            "email": verdict["email"],
            "wasSignedByGitHub": False,
            "signer": actor(self.c, verdict["signer"]),
            "verifiedAt": verdict["verified_at"],
            "keyId": verdict["key_id"],
            "keyFingerprint": None,
        }

    def status(self, info: Any) -> dict[str, Any] | None:
        statuses = self.emu.statuses(self.repo.full_name, self.oid)
        if not statuses:
            return None
        states = {s["state"] for s in statuses}
        combined = (
            "FAILURE"
            if states & {"failure"}
            else "ERROR"
            if "error" in states
            else ("PENDING" if "pending" in states else "SUCCESS")
        )
        contexts = [
            {
                "__typename": "StatusContext",
                "id": base64.b64encode(f"013:StatusContext{s['id']}".encode()).decode(),
                "context": s["context"],
                "state": s["state"].upper(),
                "description": s["description"],
                "targetUrl": s["target_url"],
                "createdAt": iso(s["created_at"]),
                "isRequired": False,
            }
            for s in statuses
        ]
        return {
            "__typename": "Status",
            "id": base64.b64encode(f"06:Status{self.oid}".encode()).decode(),
            "state": combined,
            "contexts": contexts,
            "context": lambda info, name: next((c for c in contexts if c["context"] == name), None),
        }

    def checkSuites(self, info: Any, filterBy: dict[str, Any] | None = None, **args: Any) -> dict[str, Any]:
        suites = [
            s
            for s in self.emu.suites.values()
            if s.repo.lower() == self.repo.full_name.lower() and s.head_sha == self.oid
        ]
        if filterBy and filterBy.get("appId") is not None:
            suites = [s for s in suites if s.app_id == filterBy["appId"]]
        suites.sort(key=lambda s: s.id)
        return connection([CheckSuiteNode(self.c, s) for s in suites], "checkSuites", **args)


_RUN_STATUS = {
    "queued": "QUEUED",
    "in_progress": "IN_PROGRESS",
    "completed": "COMPLETED",
    "waiting": "WAITING",
    "requested": "REQUESTED",
    "pending": "PENDING",
}


class CheckSuiteNode(Node):
    typename = "CheckSuite"

    def __init__(self, ctx: Ctx, suite: CheckSuite) -> None:
        super().__init__(ctx)
        self.suite = suite
        self.id = suite.node_id
        self.databaseId = suite.id

    def _runs(self) -> list[CheckRun]:
        return sorted((r for r in self.emu.check_run_map.values() if r.suite_id == self.suite.id), key=lambda r: r.id)

    def app(self, info: Any) -> dict[str, Any]:
        app = self.emu.apps[self.suite.app_id]
        return {
            "__typename": "App",
            "id": app.node_id,
            "databaseId": app.id,
            "slug": app.slug,
            "name": app.name,
            "url": f"{self.emu.url}/apps/{app.slug}",
        }

    def status(self, info: Any) -> str:
        runs = self._runs()
        if runs and all(r.status == "completed" for r in runs):
            return "COMPLETED"
        return "IN_PROGRESS" if any(r.status == "in_progress" for r in runs) else "QUEUED"

    def conclusion(self, info: Any) -> str | None:
        runs = self._runs()
        if not runs or any(r.status != "completed" for r in runs):
            return None
        order = ["action_required", "cancelled", "timed_out", "failure", "neutral", "success", "skipped", "stale"]
        worst = min((r.conclusion or "neutral" for r in runs), key=lambda c: order.index(c) if c in order else 99)
        return worst.upper()

    def commit(self, info: Any) -> CommitNode:
        return CommitNode(self.c, self.emu.repo(self.suite.repo), self.suite.head_sha)

    def checkRuns(self, info: Any, filterBy: dict[str, Any] | None = None, **args: Any) -> dict[str, Any]:
        runs = self._runs()
        if filterBy:
            if filterBy.get("checkName"):
                runs = [r for r in runs if r.name == filterBy["checkName"]]
            if filterBy.get("status"):
                runs = [r for r in runs if _RUN_STATUS.get(r.status) == filterBy["status"]]
            if filterBy.get("checkType", "LATEST") == "LATEST":
                latest: dict[str, CheckRun] = {}
                for run in runs:
                    latest[run.name] = run
                runs = sorted(latest.values(), key=lambda r: r.id)
        return connection([check_run_node(self.c, r) for r in runs], "checkRuns", **args)


def check_run_node(ctx: Ctx, run: CheckRun) -> dict[str, Any]:
    return {
        "__typename": "CheckRun",
        "id": run.node_id,
        "databaseId": run.id,
        "name": run.name,
        "status": _RUN_STATUS.get(run.status, "QUEUED"),
        "conclusion": run.conclusion.upper() if run.conclusion else None,
        "externalId": run.external_id or None,
        "detailsUrl": run.details_url,
        "title": run.title,
        "summary": run.summary,
        "text": run.text,
        "startedAt": iso(run.started_at),
        "completedAt": iso(run.completed_at),
        "url": f"{ctx.emu.url}/{run.repo}/runs/{run.id}",
        "permalink": f"{ctx.emu.url}/{run.repo}/runs/{run.id}",
        "isRequired": lambda info, **args: False,
    }


def _labels(ctx: Ctx, issue: Issue, **args: Any) -> dict[str, Any]:
    nodes = [
        {
            "__typename": "Label",
            "name": name,
            "id": base64.b64encode(f"05:Label{name}".encode()).decode(),
            "color": "ededed",
            "description": None,
            "isDefault": False,
        }
        for name in issue.labels
    ]
    return connection(nodes, "labels", **args)


class CommentNode(Node):
    typename = "IssueComment"

    def __init__(self, ctx: Ctx, comment: Comment) -> None:
        super().__init__(ctx)
        self.comment = comment
        self.id = comment.node_id
        self.databaseId = comment.id
        self.body = comment.body
        self.bodyText = comment.body
        self.isMinimized = comment.minimized
        self.minimizedReason = comment.minimized_reason.lower().replace("_", "-") if comment.minimized_reason else None
        self.createdAt = iso(comment.created_at)
        self.updatedAt = iso(comment.updated_at)
        self.lastEditedAt = None if comment.updated_at == comment.created_at else iso(comment.updated_at)
        self.url = f"{ctx.emu.url}/{comment.repo}/issues/{comment.number}#issuecomment-{comment.id}"
        app = ctx.auth.app if ctx.auth.kind == "installation" else None
        self.viewerDidAuthor = app is not None and comment.author.lower() == app.bot_login.lower()
        self.viewerCanUpdate = self.viewerDidAuthor
        self.viewerCanMinimize = app is not None

    def author(self, info: Any) -> ActorNode | None:
        return actor(self.c, self.comment.author)

    def authorAssociation(self, info: Any) -> str:
        from .rest import author_association

        return author_association(self.emu, self.emu.repo(self.comment.repo), self.comment.author)


class IssueNode(Node):
    typename = "Issue"

    def __init__(self, ctx: Ctx, issue: Issue) -> None:
        super().__init__(ctx)
        self.issue_ = issue
        self.id = issue.node_id
        self.databaseId = issue.id
        self.number = issue.number
        self.title = issue.title
        self.body = issue.body
        self.bodyText = issue.body
        self.state = issue.state.upper()
        self.stateReason = "COMPLETED" if issue.state == "closed" else None
        self.closed = issue.state == "closed"
        self.createdAt = iso(issue.created_at)
        self.updatedAt = iso(issue.updated_at)
        self.closedAt = iso(issue.closed_at)
        self.url = f"{ctx.emu.url}/{issue.repo}/{'pull' if issue.is_pr else 'issues'}/{issue.number}"

    def repository(self, info: Any) -> RepositoryNode:
        return RepositoryNode(self.c, self.emu.repo(self.issue_.repo))

    def author(self, info: Any) -> ActorNode | None:
        return actor(self.c, self.issue_.author)

    def labels(self, info: Any, **args: Any) -> dict[str, Any]:
        return _labels(self.c, self.issue_, **args)

    def comments(self, info: Any, **args: Any) -> dict[str, Any]:
        args.pop("orderBy", None)
        items = [CommentNode(self.c, c) for c in self.emu.comment_list(self.issue_.repo, self.issue_.number)]
        return connection(items, "comments", **args)


class PullRequestNode(IssueNode):
    typename = "PullRequest"

    def __init__(self, ctx: Ctx, issue: Issue) -> None:
        super().__init__(ctx, issue)
        self.id = issue.pr_node_id
        self.databaseId = issue.pr_id
        self.state = "MERGED" if issue.merged else issue.state.upper()
        self.merged = issue.merged
        self.isDraft = issue.draft
        self.baseRefName = issue.base_ref
        self.headRefName = issue.head_ref
        self.headRefOid = issue.head_sha
        self.isCrossRepository = bool(issue.head_repo) and issue.head_repo.lower() != issue.repo.lower()
        self.url = f"{ctx.emu.url}/{issue.repo}/pull/{issue.number}"
        self.mergeable = "UNKNOWN" if issue.state == "closed" else "MERGEABLE"

    def baseRefOid(self, info: Any) -> str:
        return self.emu.base_sha(self.issue_)

    def changedFiles(self, info: Any) -> int:
        return self.emu.pr_stats(self.issue_)["changed_files"]

    def additions(self, info: Any) -> int:
        return self.emu.pr_stats(self.issue_)["additions"]

    def deletions(self, info: Any) -> int:
        return self.emu.pr_stats(self.issue_)["deletions"]

    def authorAssociation(self, info: Any) -> str:
        from .rest import author_association

        return author_association(self.emu, self.emu.repo(self.issue_.repo), self.issue_.author)

    def headRepository(self, info: Any) -> RepositoryNode:
        return RepositoryNode(self.c, self.emu.repo(self.issue_.head_repo or self.issue_.repo))

    def headRepositoryOwner(self, info: Any) -> ActorNode | None:
        return actor(self.c, self.emu.repo(self.issue_.head_repo or self.issue_.repo).owner)

    def baseRepository(self, info: Any) -> RepositoryNode:
        return RepositoryNode(self.c, self.emu.repo(self.issue_.repo))

    def commits(self, info: Any, **args: Any) -> dict[str, Any]:
        repo = self.emu.repo(self.issue_.repo)
        nodes = [
            {
                "__typename": "PullRequestCommit",
                "id": base64.b64encode(f"017:PullRequestCommit{self.issue_.pr_id}:{oid}".encode()).decode(),
                "commit": CommitNode(self.c, repo, oid),
                "url": f"{self.url}/commits/{oid}",
                "resourcePath": f"/{repo.full_name}/pull/{self.issue_.number}/commits/{oid}",
            }
            for oid in self.emu.pr_commits(self.issue_)
        ]
        return connection(nodes, "commits", **args)

    def files(self, info: Any, **args: Any) -> dict[str, Any]:
        files = self.emu.pr_files(self.issue_)
        nodes = [
            {
                "__typename": "PullRequestChangedFile",
                "path": path,
                "changeType": change,
                "additions": add,
                "deletions": delete,
                "viewerViewedState": "UNVIEWED",
            }
            for path, change, add, delete in files[:FILES_CAP]
        ]
        return connection(nodes, "files", total=min(len(files), FILES_CAP), **args)

    def closingIssuesReferences(self, info: Any, userLinkedOnly: bool = False, **args: Any) -> dict[str, Any]:
        args.pop("orderBy", None)
        issue = self.issue_
        repo = self.emu.repo(issue.repo)
        refs: list[tuple[str, int]] = list(issue.manual_closing_refs)
        if not userLinkedOnly and issue.base_ref == repo.default_branch:
            for m in CLOSING.finditer(f"{issue.title}\n{issue.body}"):
                if m["url"]:
                    owner, name, number = m["uowner"], m["urepo"], int(m["unum"])
                else:
                    owner, name = (m["owner"], m["repo"]) if m["owner"] else (repo.owner, repo.name)
                    number = int(m["num"])
                if f"{owner}/{name}".lower() == repo.full_name.lower():
                    refs.append((repo.full_name, number))
        nodes: list[IssueNode] = []
        seen: set[tuple[str, int]] = set()
        for ref_repo, number in refs:
            key = (ref_repo.lower(), number)
            target = self.emu.issues.get(key)
            if key in seen or target is None or target.is_pr:
                continue
            seen.add(key)
            nodes.append(IssueNode(self.c, target))
        return connection(nodes, "closingIssuesReferences", **args)
