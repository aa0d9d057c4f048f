"""HTTP: routing, authentication, OpenAPI validation, faults, rate-limit headers, git smart HTTP."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
import uuid
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import jwt
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from . import gitstore, manifest, oauth, rest, specs
from .rest import Auth, Ctx, Resp, error

if TYPE_CHECKING:
    from .core import Emulator

GIT_PATH = re.compile(r"^/(?P<owner>[^/]+)/(?P<name>[^/]+?)\.git/(?P<rest>info/refs|git-upload-pack)$")
SECONDARY = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to "
    "GitHub Support for help, please include the request ID {rid}."
)
SECONDARY_DOC = "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"


# Drift between what GitHub answers and its own description, allowed in responses (reference doc §5.3):
# (operationId, regex over the violation text).
KNOWN_RESPONSE_DRIFT = [
    # An unfinished check run has `conclusion: null`; the schema's enum (nullable) lacks null, GitHub's own
    # in-progress example of checks/create carries it.
    (re.compile(r"^checks/"), re.compile(r"at (check_runs/\d+/)?conclusion: None is not one of")),
]


class _Request:
    """What openapi-core needs of a request."""

    def __init__(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
        content_type: str,
    ) -> None:
        self.method = method.lower()
        self.host_url = "https://api.github.com"
        self.path = path
        self.body = body or None
        self.content_type = content_type
        self.parameters = RequestParameters(
            query=ImmutableMultiDict([(k, v) for k, vs in query.items() for v in vs]), header=Headers(headers)
        )


class _Response:
    def __init__(self, status: int, data: bytes, content_type: str, headers: dict[str, str]) -> None:
        self.status_code = status
        self.data = data
        self.content_type = content_type
        self.headers = Headers(headers)


def _violation_text(result_errors: list[Exception]) -> list[str]:
    texts = []
    for exc in result_errors:
        cause = exc.__cause__ or exc
        schema_errors = getattr(cause, "schema_errors", None)
        if schema_errors:
            for e in schema_errors:
                where = "/".join(str(p) for p in e.absolute_path) or "(root)"
                message = e.message if len(e.message) < 300 else e.message[:140] + " ... " + e.message[-140:]
                texts.append(f"{type(exc).__name__} at {where}: {message}")
        else:
            texts.append(f"{type(exc).__name__}: {str(cause)[:300]}")
    return texts


def _max_items(result_errors: list[Exception]) -> tuple[str, int, int] | None:
    for exc in result_errors:
        for e in getattr(exc.__cause__ or exc, "schema_errors", None) or ():
            if e.validator == "maxItems":
                return str(e.path[-1] if e.path else ""), int(e.validator_value), len(e.instance)
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GitHub.com"
    sys_version = ""
    emu: Emulator

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.emu_dispatch()

    do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_GET

    # ---- plumbing --------------------------------------------------------------------------------------------------

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send(self, resp: Resp, extra: dict[str, str] | None = None) -> None:
        if isinstance(resp.body, bytes):
            data = resp.body
        elif resp.body is None:
            data = b""
        else:
            data = json.dumps(resp.body, ensure_ascii=False).encode()
        self.send_response(resp.status)
        headers = {
            "Date": formatdate(usegmt=True),
            "Content-Type": resp.content_type,
            "Content-Length": str(len(data)),
            "X-GitHub-Media-Type": "github.v3; format=json",
            "X-GitHub-Api-Version-Selected": "2022-11-28",
            "X-GitHub-Request-Id": uuid.uuid4().hex[:8].upper() + ":" + uuid.uuid4().hex[:6].upper(),
            "Cache-Control": "private, max-age=60, s-maxage=60",
            "Vary": "Accept, Authorization, Cookie, X-GitHub-OTP",
            **(extra or {}),
            **resp.headers,
        }
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    # ---- dispatch --------------------------------------------------------------------------------------------------

    def emu_dispatch(self) -> None:
        emu = self.emu
        split = urlsplit(self.path)
        path, query_text = split.path, split.query
        query = parse_qs(query_text, keep_blank_values=True)
        headers = {k.lower(): v for k, v in self.headers.items()}
        body = self.read_body()
        git_match = GIT_PATH.match(path)
        if git_match:
            self.git_http(git_match, query_text, headers, body)
            return
        if path.startswith("/login/oauth/") and oauth.serve_web(self, path, query_text, headers, body):
            return
        if path.endswith("/settings/apps/new") and manifest.serve_web(self, path, query_text, headers, body):
            return
        if path.startswith("/api/v3/"):
            api_path = path[len("/api/v3") :]
        elif path in ("/api/graphql", "/api/v3/graphql"):
            api_path = "/graphql"
        else:
            self.unserved(path, query_text, api=False)
            return
        found = specs.route_for(self.command, api_path)
        if found is None:
            self.unserved(path, query_text, api=True)
            return
        route, raw_params = found
        params = {k: unquote(v) for k, v in raw_params.items()}
        auth, auth_error = self.authenticate(headers)
        graphql_operation = None
        parsed: Any = None
        if route.key == "POST /graphql":
            try:
                parsed = json.loads(body or b"null")
                from .gql import operation_name

                graphql_operation = operation_name(parsed)
            except (ValueError, TypeError):
                graphql_operation = None
        resp, rate = self.answer(route, api_path, params, query, headers, body, auth, auth_error)
        emu.record(
            method=self.command,
            path=path,
            route=route.key,
            status=resp.status,
            graphql_operation=graphql_operation,
            auth_kind=auth.kind if not auth_error else "invalid",
            query=query_text,
            installation=auth.installation.id if auth.installation is not None and not auth_error else None,
        )
        self.send(resp, rate)

    def unserved(self, path: str, query_text: str, api: bool) -> None:
        """A path the emulator does not serve: 404, and for the API a violation (GitHub would have answered)."""
        emu = self.emu
        emu.record(
            method=self.command,
            path=path,
            route=None,
            status=404,
            graphql_operation=None,
            auth_kind="anonymous",
            query=query_text,
        )
        if api:
            with emu.lock:
                emu.schema_violations.append(
                    f"unserved {self.command} {path}: no operation of the vendored OpenAPI subset matches (GitHub "
                    "would have answered; add the operation to scripts/vendor_github_specs.py and a handler)"
                )
        self.send(rest.not_found())

    def answer(
        self,
        route: specs.Route,
        api_path: str,
        params: dict[str, str],
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
        auth: Auth,
        auth_error: Resp | None,
    ) -> tuple[Resp, dict[str, str]]:
        emu = self.emu
        operation_id = route.operation.get("operationId", "")
        identity = rate_identity(auth)
        resource = "graphql" if route.key == "POST /graphql" else "core"
        rate = emu.charge(identity, resource) if not auth_error else {}
        # 1. faults
        fault = emu.faults.take(route.key)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status is not None:
                extra = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                if fault.secondary_rate_limit:
                    rid = uuid.uuid4().hex[:8].upper()
                    return error(403, SECONDARY.format(rid=rid), SECONDARY_DOC), {**rate, **extra}
                if fault.status in (403, 429) and fault.message is None:
                    rate = {**rate, "x-ratelimit-remaining": "0"}
                    return error(
                        fault.status,
                        "API rate limit exceeded for installation.",
                        "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting",
                    ), {**rate, **extra}
                message = {
                    502: "Server Error",
                    503: "Service Unavailable",
                    500: "Internal Server Error",
                    504: "We couldn't respond to your request in time.",
                }.get(fault.status, "Injected fault")
                message = fault.message or message
                return Resp(fault.status, {"message": message, "documentation_url": rest.DOCS}), {**rate, **extra}
        # 2. authentication
        if auth_error:
            return auth_error, rate
        if operation_id in rest.JWT_OPERATIONS:
            if auth.kind != "jwt":
                return error(401, "A JSON web token could not be decoded", rest.DOCS), rate
        elif auth.kind == "jwt":
            return error(403, "Resource not accessible by integration", rest.DOCS), rate
        elif route.key == "POST /graphql" and auth.kind != "installation":
            return error(
                401,
                "This endpoint requires you to be authenticated.",
                "https://docs.github.com/graphql/guides/forming-calls-with-graphql#authenticating-with-graphql",
            ), rate
        elif (auth.kind == "anonymous" and self.command in rest.WRITE_METHODS
              and operation_id not in manifest.ANONYMOUS_OPERATIONS):  # fmt: skip
            return error(401, "Requires authentication", rest.DOCS), rate
        # 3. the primary rate limit (emu.rate_limit an hour, per installation)
        if (
            rate
            and rate["x-ratelimit-remaining"] == "0"
            and int(rate["x-ratelimit-used"]) > int(rate["x-ratelimit-limit"])
        ):
            who = f"installation ID {auth.installation.id}" if auth.installation else "this client"
            if route.key == "POST /graphql":
                return Resp(
                    200,
                    {"errors": [{"type": "RATE_LIMITED", "message": f"API rate limit already exceeded for {who}."}]},
                ), rate
            return error(
                403,
                f"API rate limit exceeded for {who}.",
                "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
            ), rate
        # 4. the request against the OpenAPI description
        content_type = headers.get("content-type", "application/json")
        check_path = api_path
        if "path" in params:
            prefix = api_path[: api_path.index("/contents/") + len("/contents/")]
            check_path = prefix + quote(params["path"], safe="")
        request = _Request(self.command, check_path, query, headers, body, content_type)
        with emu.lock:
            result = specs.openapi().unmarshal_request(request)
        if result.errors:
            texts = _violation_text(result.errors)
            with emu.lock:
                emu.schema_violations += [f"request {route.key}: {t}" for t in texts]
            too_many = _max_items(result.errors)
            if too_many:
                _, limit, count = too_many
                return error(
                    422,
                    f"Invalid request.\n\nNo more than {limit} items are allowed; {count} were supplied.",
                    rest.DOCS,
                ), rate
            return error(400, "Invalid request.\n\n" + "\n".join(texts), rest.DOCS), rate
        # 5. the handler
        parsed = json.loads(body) if body and content_type.startswith("application/json") else None
        ctx = Ctx(emu, route, params, query, parsed, headers, auth, api_path)
        with emu.lock:
            if "owner" in params and "repo" in params:
                repo = emu.repos.get(f"{params['owner']}/{params['repo']}".lower())
                if repo is None or not self.may_access(auth, repo):
                    return rest.not_found(), rate
                ctx.repo = repo
            if route.key == "POST /graphql":
                from .gql import execute

                resp = execute(ctx)
            else:
                resp = rest.HANDLERS[operation_id](ctx)
            self.check_response(route, request, resp)
        return resp, rate

    def may_access(self, auth: Auth, repo: Any) -> bool:
        if auth.kind == "installation" and auth.token is not None:
            return any(r.lower() == repo.full_name.lower() for r in auth.token.repositories)
        if auth.kind == "jwt":
            return True  # app-level routes decide themselves
        return not repo.private

    def check_response(self, route: specs.Route, request: _Request, resp: Resp) -> None:
        if str(resp.status) not in route.operation["responses"] or isinstance(resp.body, bytes):
            return
        if route.operation.get("operationId") == "repos/get-content" and isinstance(resp.body, list):
            # Known drift: the description puts a `discriminator` on a oneOf whose first member (a directory listing)
            # is an array, which no validator can discriminate; check the listing against its own schema instead.
            self.emu.schema_violations += [
                f"response {route.key} {resp.status}: {t}"
                for t in specs.component_errors("content-directory", resp.body)
            ]
            return
        data = json.dumps(resp.body).encode()
        result = specs.openapi().unmarshal_response(request, _Response(resp.status, data, "application/json", {}))
        if result.errors:
            operation_id = route.operation.get("operationId", "")
            self.emu.schema_violations += [
                f"response {route.key} {resp.status}: {t}"
                for t in _violation_text(result.errors)
                if not any(op.search(operation_id) and text.search(t) for op, text in KNOWN_RESPONSE_DRIFT)
            ]

    # ---- authentication --------------------------------------------------------------------------------------------

    def authenticate(self, headers: dict[str, str]) -> tuple[Auth, Resp | None]:
        emu = self.emu
        header = headers.get("authorization", "")
        if not header:
            return Auth("anonymous"), None
        scheme, _, credential = header.partition(" ")
        credential = credential.strip()
        if scheme.lower() == "basic":
            try:
                credential = base64.b64decode(credential).decode().partition(":")[2]
            except ValueError:
                return Auth("anonymous"), error(401, "Bad credentials", rest.DOCS)
        elif scheme.lower() not in ("bearer", "token"):
            return Auth("anonymous"), error(401, "Bad credentials", rest.DOCS)
        if credential.count(".") == 2 and not credential.startswith("gh"):
            return self.authenticate_jwt(credential)
        if credential.startswith("ghu_"):
            return oauth.authenticate(emu, credential)
        with emu.lock:
            token = emu.tokens.get(credential)
        if token is None or token.expires_at <= time.time():
            return Auth("installation"), error(401, "Bad credentials", rest.DOCS)
        inst = emu.installations.get(token.installation_id)
        if inst is None:
            return Auth("installation"), error(401, "Bad credentials", rest.DOCS)
        return Auth("installation", emu.apps[inst.app_id], inst, token), None

    def authenticate_jwt(self, credential: str) -> tuple[Auth, Resp | None]:
        emu = self.emu

        def fail(message: str) -> tuple[Auth, Resp | None]:
            return Auth("jwt"), error(401, message, rest.DOCS)

        try:
            claims = jwt.decode(credential, options={"verify_signature": False})
        except jwt.PyJWTError:
            return fail("A JSON web token could not be decoded")
        iss = claims.get("iss")
        app = next((a for a in emu.apps.values() if str(iss) in (str(a.id), a.client_id)), None)
        if app is None:
            return fail("'Issuer' claim ('iss') must be an Integer or a Client ID")
        try:
            jwt.decode(
                credential,
                app.public_key_pem,
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.PyJWTError:
            return fail("A JSON web token could not be decoded")
        iat, exp = claims.get("iat"), claims.get("exp")
        current = time.time()
        if not isinstance(iat, int) or iat > current + 60:
            return fail(
                "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued."
            )
        if not isinstance(exp, int) or exp <= current:
            return fail(
                "'Expiration time' claim ('exp') must be a numeric value representing the future time at "
                "which the assertion expires."
            )
        if exp - iat > 600:
            return fail("'Expiration time' claim ('exp') is too far in the future.")
        return Auth("jwt", app), None

    # ---- git smart HTTP --------------------------------------------------------------------------------------------

    def git_http(self, match: re.Match[str], query_text: str, headers: dict[str, str], body: bytes) -> None:
        emu = self.emu
        full_name = f"{match['owner']}/{match['name']}"
        route = f"{self.command} /{{owner}}/{{repo}}.git/{match['rest']}"
        auth, auth_error = self.authenticate(headers)

        def refuse(status: int, message: str, extra: dict[str, str] | None = None) -> None:
            emu.record(
                method=self.command,
                path=self.path.split("?")[0],
                route=route,
                status=status,
                graphql_operation=None,
                auth_kind=auth.kind if not auth_error else "invalid",
                query=query_text,
            )
            self.send(Resp(status, message.encode(), content_type="text/plain"), extra)

        fault = emu.faults.take(route)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status is not None:
                refuse(fault.status, "Injected fault\n")
                return
        if auth_error or auth.kind != "installation" or auth.token is None:
            refuse(
                401,
                "Invalid username or token. Password authentication is not supported for Git operations.\n",
                {"WWW-Authenticate": 'Basic realm="GitHub"'},
            )
            return
        repo = emu.repos.get(full_name.lower())
        if repo is None or not self.may_access(auth, repo):
            refuse(404, "Repository not found.\n")
            return
        if match["rest"] == "info/refs" and query_text != "service=git-upload-pack":
            refuse(403, "Only git-upload-pack is served.\n")
            return
        env = gitstore.http_backend_env(emu.repos_root)
        env.update(
            REQUEST_METHOD=self.command,
            PATH_INFO=f"/{repo.owner}/{repo.name}.git/{match['rest']}",
            QUERY_STRING=query_text,
            CONTENT_TYPE=headers.get("content-type", ""),
            CONTENT_LENGTH=str(len(body)),
            REMOTE_USER="x-access-token",
            REMOTE_ADDR="127.0.0.1",
            GIT_PROTOCOL=headers.get("git-protocol", ""),
            HTTP_GIT_PROTOCOL=headers.get("git-protocol", ""),
            HTTP_CONTENT_ENCODING=headers.get("content-encoding", ""),
        )
        proc = subprocess.run(
            ["git", "http-backend"], input=body, capture_output=True, env=env, timeout=120, check=False
        )
        head, _, payload = proc.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = proc.stdout.partition(b"\n\n")
        status = 200
        out_headers: dict[str, str] = {}
        for line in head.decode(errors="replace").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                out_headers[name.strip()] = value.strip()
        emu.record(
            method=self.command,
            path=self.path.split("?")[0],
            route=route,
            status=status,
            graphql_operation=None,
            auth_kind=auth.kind,
            query=query_text,
        )
        content_type = out_headers.pop("Content-Type", "application/octet-stream")
        self.send(Resp(status, payload, out_headers, content_type))


def rate_identity(auth: Auth) -> str:
    """Whose rate limit a call counts against: the installation, the App (JWT), or anonymous."""
    if auth.installation is not None:
        return f"installation:{auth.installation.id}"
    if auth.user is not None:
        return f"user:{auth.user}"
    if auth.app is not None:
        return f"app:{auth.app.id}"
    return "anonymous"


def make_server(emu: Emulator) -> ThreadingHTTPServer:
    handler = type("EmulatorHandler", (Handler,), {"emu": emu})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    return server
