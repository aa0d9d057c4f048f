"""The App's OAuth web flow (user-to-server tokens) and the REST routes such a token answers.

Web (on `emu.url`, outside the REST description, so shaped by hand after GitHub's documentation):
`GET /login/oauth/authorize` redirects to `redirect_uri` with `code` and `state` for the user the test chose
(`emu.oauth_user`, or the `login` parameter); `POST /login/oauth/access_token` trades a code (single use, 10 minutes)
for a `ghu_` token when the client id and secret match. REST (validated like every other route):
`GET /user`, `GET /user/installations`, `GET /user/installations/{installation_id}/repositories` answer with the
installations of the token's App that the user can reach, and the repositories of them the user can read.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from . import rest
from .rest import Auth, Ctx, Resp, error, paginate

if TYPE_CHECKING:
    from .core import Emulator
    from .server import Handler
    from .state import App, Installation, Repository

CODE_TTL = 600
DOCS_AUTHORIZE = "https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-user-access-token-for-a-github-app"
AUTHORIZE_PARAMS = {"client_id", "redirect_uri", "login", "scope", "state", "allow_signup", "prompt",
                    "code_challenge", "code_challenge_method"}  # fmt: skip
TOKEN_PARAMS = {"client_id", "client_secret", "code", "redirect_uri", "repository_id", "code_verifier"}


@dataclass
class Grant:
    """An authorization code waiting to be exchanged."""

    app_id: int
    login: str
    redirect_uri: str | None
    expires_at: float


@dataclass
class UserToken:
    """A user-to-server token (`ghu_...`) of one App acting for one user."""

    app_id: int
    login: str
    expires_at: float


def new_client_secret() -> str:
    return secrets.token_hex(20)


# ---- web flow ------------------------------------------------------------------------------------------------------


def serve_web(handler: Handler, path: str, query_text: str, headers: dict[str, str], body: bytes) -> bool:
    """Answer /login/oauth/* (True), or leave the request to the caller (False)."""
    route = f"{handler.command} {path}"
    if route == "GET /login/oauth/authorize":
        resp = authorize(handler.emu, parse_qs(query_text, keep_blank_values=True))
    elif route == "POST /login/oauth/access_token":
        resp = access_token(handler.emu, query_text, headers, body)
    else:
        return False
    handler.emu.record(method=handler.command, path=path, route=route, status=resp.status, graphql_operation=None,
                       auth_kind="anonymous", query=query_text)  # fmt: skip
    handler.send(resp)
    return True


def _violation(emu: Emulator, text: str) -> None:
    with emu.lock:
        emu.schema_violations.append(text)


def _single(emu: Emulator, route: str, values: dict[str, list[str]], allowed: set[str]) -> dict[str, str] | None:
    """The parameters as single values; None (and a violation) when one is unknown or repeated."""
    unknown = sorted(set(values) - allowed)
    repeated = sorted(k for k, v in values.items() if len(v) != 1)
    if unknown or repeated:
        _violation(emu, f"request {route}: unknown {unknown} or repeated {repeated} parameters")
        return None
    return {k: v[0] for k, v in values.items()}


def _app(emu: Emulator, client_id: str | None) -> App | None:
    return next((a for a in emu.apps.values() if client_id and a.client_id == client_id), None)


def authorize(emu: Emulator, query: dict[str, list[str]]) -> Resp:
    route = "GET /login/oauth/authorize"
    params = _single(emu, route, query, AUTHORIZE_PARAMS)
    if params is None or "client_id" not in params:
        if params is not None:
            _violation(emu, f"request {route}: client_id is required")
        return Resp(400, b"Bad request\n", content_type="text/plain")
    with emu.lock:
        app = _app(emu, params["client_id"])
        login = params.get("login") or emu.oauth_user
        if app is None:
            return Resp(404, b"Not Found\n", content_type="text/plain")
        redirect = params.get("redirect_uri")
        target = urlsplit(redirect or "")
        if redirect is not None and (target.scheme not in ("http", "https") or not target.netloc or target.fragment):
            _violation(emu, f"request {route}: redirect_uri {redirect!r} is not an absolute http(s) URL")
            return Resp(400, b"The redirect_uri is not valid\n", content_type="text/plain")
        if redirect is None:
            return Resp(400, b"This emulator needs redirect_uri (no callback URL is registered)\n",
                        content_type="text/plain")  # fmt: skip
        if login is None or emu.find_user(login) is None:
            return Resp(403, b"Nobody is signed in (set emu.oauth_user)\n", content_type="text/plain")
        code = secrets.token_hex(10)
        emu.oauth_codes[code] = Grant(app.id, emu.user(login).login, redirect, time.time() + CODE_TTL)
    answer = [("code", code)] + ([("state", params["state"])] if "state" in params else [])
    separator = "&" if target.query else "?"
    return Resp(302, b"", {"Location": f"{redirect}{separator}{urlencode(answer)}"}, content_type="text/html")


def access_token(emu: Emulator, query_text: str, headers: dict[str, str], body: bytes) -> Resp:
    route = "POST /login/oauth/access_token"
    content_type = headers.get("content-type", "")
    values = parse_qs(query_text, keep_blank_values=True)
    try:
        if content_type.startswith("application/json"):
            data = json.loads(body or b"{}")
            assert isinstance(data, dict)
            values.update({str(k): [str(v)] for k, v in data.items()})
        elif body:
            values.update(parse_qs(body.decode(), keep_blank_values=True))
    except (ValueError, AssertionError, UnicodeDecodeError):
        _violation(emu, f"request {route}: the body is neither JSON nor form-encoded")
        return Resp(400, b"Bad request\n", content_type="text/plain")
    params = _single(emu, route, values, TOKEN_PARAMS)
    if params is None or not {"client_id", "client_secret", "code"} <= set(params):
        if params is not None:
            _violation(emu, f"request {route}: client_id, client_secret and code are required")
        return Resp(400, b"Bad request\n", content_type="text/plain")
    with emu.lock:
        app = _app(emu, params["client_id"])
        grant = emu.oauth_codes.pop(params["code"], None)
        if app is None or not secrets.compare_digest(app.client_secret, params["client_secret"]):
            answer: dict[str, Any] = {"error": "incorrect_client_credentials",
                                      "error_description": "The client_id and/or client_secret passed are incorrect.",
                                      "error_uri": DOCS_AUTHORIZE}  # fmt: skip
        elif grant is None or grant.app_id != app.id or grant.expires_at <= time.time() or (
                params.get("redirect_uri") not in (None, grant.redirect_uri)):  # fmt: skip
            answer = {"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired.",
                      "error_uri": DOCS_AUTHORIZE}  # fmt: skip
        else:
            token = "ghu_" + secrets.token_urlsafe(27)[:36]
            emu.user_tokens[token] = UserToken(app.id, grant.login, time.time() + emu.token_ttl)
            answer = {"access_token": token, "token_type": "bearer", "scope": ""}
    if "application/json" in headers.get("accept", ""):
        return Resp(200, answer)
    return Resp(200, urlencode(answer).encode(), content_type="application/x-www-form-urlencoded; charset=utf-8")


def authenticate(emu: Emulator, credential: str) -> tuple[Auth, Resp | None]:
    """The Auth of a `ghu_` token (kind "user"), or 401 Bad credentials."""
    with emu.lock:
        token = emu.user_tokens.get(credential)
    if token is None or token.expires_at <= time.time() or token.app_id not in emu.apps:
        return Auth("user"), error(401, "Bad credentials", rest.DOCS)
    return Auth("user", emu.apps[token.app_id], user=token.login), None


# ---- REST ----------------------------------------------------------------------------------------------------------


def readable(emu: Emulator, repo: Repository, login: str) -> bool:
    """Whether `login` can read `repo`: public, owned, or with a permission (emu.set_permission)."""
    return emu.role(repo, login) != "none"


def reachable(emu: Emulator, app: App, login: str) -> list[tuple[Installation, list[Repository]]]:
    """The App's installations the user reaches (its account, or a readable repository), with those repositories."""
    found = []
    for inst in sorted(emu.installations.values(), key=lambda i: i.id):
        if inst.app_id != app.id:
            continue
        repos = [emu.repo(r) for r in inst.repositories if readable(emu, emu.repo(r), login)]
        if repos or inst.account.lower() == login.lower():
            found.append((inst, repos))
    return found


def _user_only(ctx: Ctx) -> Resp | None:
    if ctx.auth.kind != "user" or ctx.auth.user is None or ctx.auth.app is None:
        return error(401, "Requires authentication", rest.DOCS)
    return None


def get_user(ctx: Ctx) -> Resp:
    refused = _user_only(ctx)
    if refused:
        return refused
    assert ctx.auth.user
    emu, user = ctx.emu, ctx.emu.user(ctx.auth.user)
    data = rest.swap(rest.template(emu, "private-user-response-with-public-profile-information"), "/octocat",
                     "/" + user.login)  # fmt: skip
    data.update(rest.user_json(emu, user.login))
    data.update(name=user.name, email=user.email, company=None, blog="", location=None, bio=None,
                twitter_username=None, public_repos=0, public_gists=0, followers=0, following=0,
                created_at="2020-01-01T00:00:00Z", updated_at="2020-01-01T00:00:00Z",
                user_view_type="public")  # fmt: skip
    return Resp(200, data)


def list_installations(ctx: Ctx) -> Resp:
    refused = _user_only(ctx)
    if refused:
        return refused
    assert ctx.auth.app and ctx.auth.user
    items = [rest.installation_json(ctx.emu, inst) for inst, _ in reachable(ctx.emu, ctx.auth.app, ctx.auth.user)]
    chunk, links = paginate(ctx, items)
    return Resp(200, {"total_count": len(items), "installations": chunk}, links)


def list_installation_repositories(ctx: Ctx) -> Resp:
    refused = _user_only(ctx)
    if refused:
        return refused
    assert ctx.auth.app and ctx.auth.user
    wanted = ctx.params["installation_id"]
    login = ctx.auth.user
    for inst, repos in reachable(ctx.emu, ctx.auth.app, login):
        if str(inst.id) == wanted:
            items = []
            for repo in repos:
                data = rest.repo_json(ctx.emu, repo, "repository")
                role = ctx.emu.role(repo, login)
                order = ["read", "triage", "write", "maintain", "admin"]
                rank = order.index(role) if role in order else -1
                data["permissions"] = {"pull": rank >= 0, "triage": rank >= 1, "push": rank >= 2,
                                       "maintain": rank >= 3, "admin": rank >= 4}  # fmt: skip
                items.append(data)
            chunk, links = paginate(ctx, items)
            return Resp(200, {"total_count": len(items), "repository_selection": "selected", "repositories": chunk},
                        links)  # fmt: skip
    return rest.not_found()


rest.HANDLERS.update({
    "users/get-authenticated": get_user,
    "apps/list-installations-for-authenticated-user": list_installations,
    "apps/list-installation-repos-for-authenticated-user": list_installation_repositories,
})  # fmt: skip
