"""The GitHub App manifest flow: registering an App from a manifest, and the one-time code's conversion.

Web (on `emu.url`, outside the REST description, so shaped by hand after
https://docs.github.com/apps/sharing-github-apps/registering-a-github-app-from-a-manifest):
`POST /settings/apps/new?state=...` (or `/organizations/{org}/settings/apps/new`) with the form field `manifest`
registers the App for the person signed in (`emu.oauth_user`) or the organisation, as if they had confirmed GitHub's
page at once, and redirects (302) to the manifest's `redirect_url` with `code` and `state`; `GET` of those pages is the
blank "New GitHub App" form (200, nothing registered). REST (validated like every other route, and unauthenticated
as on GitHub): `POST /app-manifests/{code}/conversions` trades the code (single use, one hour) for the App with its
`pem`, `webhook_secret`, `client_id` and `client_secret`.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from . import rest, specs
from .rest import Ctx, Resp

if TYPE_CHECKING:
    from .core import Emulator
    from .server import Handler

CODE_TTL = 3600
NAME_MAX = 34
DOCS = "https://docs.github.com/rest/apps/apps#create-a-github-app-from-a-manifest"
ORG_PAGE = re.compile(r"^/organizations/(?P<org>[^/]+)/settings/apps/new$")
ANONYMOUS_OPERATIONS = {"apps/create-from-manifest"}  # writes GitHub answers without authentication
MANIFEST_KEYS = {"name", "url", "hook_attributes", "redirect_url", "callback_urls", "setup_url", "description",
                 "public", "default_events", "default_permissions", "request_oauth_on_install",
                 "setup_on_update"}  # fmt: skip
# The permission an App needs to subscribe to an event (any one of them), after GitHub's webhook documentation.
EVENT_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "check_run": ("checks",),
    "check_suite": ("checks",),
    "issue_comment": ("issues", "pull_requests"),
    "issues": ("issues",),
    "pull_request": ("pull_requests",),
    "pull_request_review": ("pull_requests",),
    "pull_request_review_comment": ("pull_requests",),
    "pull_request_review_thread": ("pull_requests",),
    "push": ("contents",),
    "create": ("contents",),
    "delete": ("contents",),
    "release": ("contents",),
    "status": ("statuses",),
    "label": ("metadata",),
    "repository": ("metadata",),
    "public": ("metadata",),
    "star": ("metadata",),
    "watch": ("metadata",),
    "fork": ("metadata",),
}


@dataclass
class ManifestGrant:
    """A code waiting to be converted: the App it stands for."""

    app_id: int
    expires_at: float


def _html(status: int, title: str, text: str = "") -> Resp:
    body = f"<!DOCTYPE html><title>{escape(title)}</title><h1>{escape(title)}</h1><p>{escape(text)}</p>\n"
    return Resp(status, body.encode(), content_type="text/html; charset=utf-8")


def _violation(emu: Emulator, text: str) -> None:
    with emu.lock:
        emu.schema_violations.append(text)


def slug_of(name: str) -> str:
    """GitHub's slug of an App name: lower case, every run of other characters a hyphen."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _absolute(url: Any) -> bool:
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not parts.fragment


def manifest_problems(data: Any) -> list[str]:
    """What GitHub would refuse in a manifest (empty: acceptable)."""
    if not isinstance(data, dict):
        return ["the manifest is not a JSON object"]
    problems = [f"unknown manifest key {k!r}" for k in sorted(set(data) - MANIFEST_KEYS)]
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > NAME_MAX or not slug_of(name):
        problems.append(f"name must be a string of 1 to {NAME_MAX} characters")
    if not _absolute(data.get("url")):
        problems.append("url (the homepage) is required and must be an absolute http(s) URL")
    hook = data.get("hook_attributes")
    if hook is not None:
        if not isinstance(hook, dict) or not _absolute(hook.get("url")) or set(hook) - {"url", "active"}:
            problems.append("hook_attributes must be {url (absolute http(s) URL), active}")
        elif not isinstance(hook.get("active", True), bool):
            problems.append("hook_attributes.active must be a boolean")
    for key in ("redirect_url", "setup_url"):
        if key in data and not _absolute(data[key]):
            problems.append(f"{key} must be an absolute http(s) URL")
    callbacks = data.get("callback_urls", [])
    if not isinstance(callbacks, list) or len(callbacks) > 10 or not all(_absolute(u) for u in callbacks):
        problems.append("callback_urls must be a list of at most 10 absolute http(s) URLs")
    for key in ("public", "request_oauth_on_install", "setup_on_update"):
        if key in data and not isinstance(data[key], bool):
            problems.append(f"{key} must be a boolean")
    if "description" in data and not isinstance(data["description"], str):
        problems.append("description must be a string")
    permissions = data.get("default_permissions", {})
    if not isinstance(permissions, dict):
        problems.append("default_permissions must be an object")
        permissions = {}
    else:
        problems += [f"default_permissions: {e}" for e in specs.component_errors("app-permissions", permissions)]
    events = data.get("default_events", [])
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        problems.append("default_events must be a list of event names")
        events = []
    for event in events:
        needed = EVENT_PERMISSIONS.get(event)
        if needed is None:
            problems.append(f"default_events: unknown event {event!r}")
        elif event not in ("label", "repository", "public", "star", "watch", "fork") and not any(
            p in permissions for p in needed
        ):
            problems.append(f"default_events: {event} needs the permission {' or '.join(needed)}")
    return problems


# ---- web -----------------------------------------------------------------------------------------------------------


def serve_web(handler: Handler, path: str, query_text: str, headers: dict[str, str], body: bytes) -> bool:
    """Answer /settings/apps/new and /organizations/{org}/settings/apps/new (True), or leave it to the caller."""
    org_match = ORG_PAGE.match(path)
    if path != "/settings/apps/new" and org_match is None:
        return False
    template = "/organizations/{org}/settings/apps/new" if org_match else "/settings/apps/new"
    route = f"{handler.command} {template}"
    if handler.command == "GET":
        resp = _html(200, "Register new GitHub App")
    elif handler.command == "POST":
        org = org_match["org"] if org_match else None
        resp = register(handler.emu, route, org, parse_qs(query_text, keep_blank_values=True), headers, body)
    else:
        resp = _html(404, "Not Found")
    handler.emu.record(method=handler.command, path=path, route=route, status=resp.status, graphql_operation=None,
                       auth_kind="anonymous", query=query_text)  # fmt: skip
    handler.send(resp)
    return True


def register(emu: Emulator, route: str, org: str | None, query: dict[str, list[str]], headers: dict[str, str],
             body: bytes) -> Resp:  # fmt: skip
    """POST of the manifest form: the App registered, and a redirect to its redirect_url with code and state."""
    if not headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        _violation(emu, f"request {route}: the manifest form must be application/x-www-form-urlencoded")
        return _html(400, "Bad request")
    try:
        form = parse_qs(body.decode(), keep_blank_values=True, strict_parsing=bool(body))
        data = json.loads(form["manifest"][0])
    except (UnicodeDecodeError, ValueError, KeyError, IndexError):
        _violation(emu, f"request {route}: no `manifest` form field holding JSON")
        return _html(400, "Invalid GitHub App configuration", "The manifest is missing or is not JSON.")
    states = query.get("state", [])
    if len(states) > 1 or set(query) - {"state"} or set(form) - {"manifest"} or len(form["manifest"]) != 1:
        _violation(emu, f"request {route}: unexpected parameters {sorted(set(query) | set(form))}")
        return _html(400, "Bad request")
    problems = manifest_problems(data)
    if problems:
        _violation(emu, f"request {route}: invalid manifest: {'; '.join(problems)}")
        return _html(422, "Invalid GitHub App configuration", "; ".join(problems))
    with emu.lock:
        login = emu.oauth_user
        if login is None or emu.find_user(login) is None:
            return _html(403, "Sign in to GitHub", "Nobody is signed in (set emu.oauth_user).")
        owner = emu.find_user(org) if org else emu.find_user(login)
        if owner is None or (org and owner.type != "Organization"):
            return _html(404, "Not Found")
        slug = slug_of(data["name"])
        if any(a.slug == slug for a in emu.apps.values()):
            return _html(422, "Invalid GitHub App configuration", "Name has already been taken")
        if "redirect_url" not in data:
            return _html(400, "Bad request", "This emulator needs the manifest's redirect_url.")
        permissions = {"metadata": "read", **data.get("default_permissions", {})}
        app = emu.create_app(slug=slug, name=data["name"], owner=owner.login, permissions=permissions,
                             events=list(data.get("default_events", [])))  # fmt: skip
        app.manifest = data
        if not (data.get("hook_attributes") or {}).get("url"):
            app.webhook_secret = ""
        code = secrets.token_hex(20)
        emu.manifest_codes[code] = ManifestGrant(app.id, time.time() + CODE_TTL)
    redirect = data["redirect_url"]
    answer = [("code", code)] + ([("state", states[0])] if states else [])
    separator = "&" if urlsplit(redirect).query else "?"
    return Resp(302, b"", {"Location": f"{redirect}{separator}{urlencode(answer)}"}, content_type="text/html")


# ---- REST ----------------------------------------------------------------------------------------------------------


def create_from_manifest(ctx: Ctx) -> Resp:
    """POST /app-manifests/{code}/conversions: the App with its credentials, once per code, within the hour."""
    emu = ctx.emu
    grant = emu.manifest_codes.pop(ctx.params["code"], None)
    if grant is None or grant.expires_at <= time.time() or grant.app_id not in emu.apps:
        return rest.not_found(DOCS)
    app = emu.apps[grant.app_id]
    data = rest.integration_json(emu, app)
    data.update(description=app.manifest.get("description") or None, external_url=app.manifest.get("url", ""),
                client_id=app.client_id, client_secret=app.client_secret, webhook_secret=app.webhook_secret or None,
                pem=app.private_key_pem)  # fmt: skip
    return Resp(201, data)


rest.HANDLERS.update({"apps/create-from-manifest": create_from_manifest})
