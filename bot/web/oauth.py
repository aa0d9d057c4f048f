"""'Sign in with GitHub' for the dashboard, free of any web framework: the App's OAuth web flow.

GET /login sends the browser to GitHub's authorize page with a random `state` (also kept in a short-lived signed
cookie); GET /login/callback checks the state, trades the code for a user-to-server token (bot.github), asks which
repositories of the App's installations the person can read, and keeps the login and those repository names (never
the token) in a signed, expiring session cookie; GET /logout clears it. The cookies are signed with HMAC-SHA256 under
keys derived from DASHBOARD_SESSION_SECRET, one per purpose, so a state cookie never passes for a session.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any, Literal
from urllib.parse import urlencode

from bot.github import GitHubError, OAuthUser, exchange_oauth_code, user_repositories
from bot.jobs import html_base
from bot.render import phrases
from bot.settings import Settings, SettingsError

log = logging.getLogger("falco-rules-bot.dashboard")

SESSION_COOKIE = "frb_session"
STATE_COOKIE = "frb_oauth_state"
STATE_MAX_AGE = 600  # seconds between GET /login and the callback
MIN_SECRET = 32
MAX_COOKIE = 3800  # bytes of a cookie value: browsers keep 4096 per cookie, name and attributes included
_MAX_PAYLOAD = 1 << 20
_HOST = re.compile(r"^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signed, compressed, expiring JSON values for cookies: `<payload>.<mac>`, both base64url."""

    def __init__(self, secret: str, purpose: str) -> None:
        context = f"falco-rules-bot dashboard {purpose} v1".encode()
        self.key = hmac.new(secret.encode(), context, hashlib.sha256).digest()

    def sign(self, payload: Mapping[str, Any]) -> str:
        """The cookie value of `payload` (which carries its own `exp`, a Unix time)."""
        body = _b64(zlib.compress(json.dumps(dict(payload), separators=(",", ":"), sort_keys=True).encode(), 9))
        return f"{body}.{_b64(hmac.new(self.key, body.encode(), hashlib.sha256).digest())}"

    def verify(self, value: str, now: float | None = None) -> dict[str, Any] | None:
        """The payload of a value this signer made, None when forged, tampered with, unreadable or expired."""
        body, sep, mac = value.partition(".")
        if not sep or not body or not mac:
            return None
        expected = _b64(hmac.new(self.key, body.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(mac.encode(), expected.encode()):
            return None
        try:
            inflater = zlib.decompressobj()
            raw = inflater.decompress(_unb64(body), _MAX_PAYLOAD)
            data = json.loads(raw) if not inflater.unconsumed_tail else None
        except (binascii.Error, zlib.error, ValueError):
            return None
        expires = data.get("exp") if isinstance(data, dict) else None
        if not isinstance(expires, int | float) or expires <= (time.time() if now is None else now):
            return None
        return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class Viewer:
    """Who looks at the dashboard: a token or password holder sees everything (`repositories` None); a person signed
    in with GitHub sees the repositories (lower-case full names) they could read when they signed in."""

    login: str | None = None
    repositories: frozenset[str] | None = None

    def can_read(self, repo: str) -> bool:
        """Whether the pages may show anything of `repo`."""
        return self.repositories is None or repo.lower() in self.repositories


EVERYONE = Viewer()


@dataclass(frozen=True)
class Outcome:
    """What a sign-in route answers: a redirect, a denial (401), or a failure page (kind), with headers."""

    kind: Literal["redirect", "deny", "failed", "too_many"]
    headers: tuple[tuple[str, str], ...] = ()


def cookie(name: str, value: str, max_age: int, secure: bool, path: str = "/") -> str:
    """A Set-Cookie value: HttpOnly, SameSite=Lax, Secure on https."""
    text = f"{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax"
    return text + ("; Secure" if secure else "")


def read_cookie(header: str, name: str) -> str | None:
    """The value of cookie `name` in a Cookie header, None when absent or the header cannot be read."""
    if not header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


def _say(key: str) -> str:
    return str(phrases("dashboard.yml")["settings"][key])


class SignIn:
    """The OAuth sign-in of one process's settings; `on` when GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET are set."""

    def __init__(self, settings: Settings, exchange: Callable[..., str] = exchange_oauth_code,
                 lookup: Callable[[str, str], OAuthUser] = user_repositories) -> None:  # fmt: skip
        self.on = settings.oauth_enabled()
        if bool(settings.github_client_id) != bool(settings.github_client_secret):
            raise SettingsError(_say("oauth_incomplete"))
        secret = settings.dashboard_session_secret or ""
        if self.on and len(secret) < MIN_SECRET:
            raise SettingsError(_say("no_session_secret").format(length=MIN_SECRET))
        self.client_id = settings.github_client_id or ""
        self.client_secret = settings.github_client_secret or ""
        self.sessions = Signer(secret, "session")
        self.states = Signer(secret, "oauth state")
        self.web = html_base(settings.github_api_url)
        self.api = settings.github_api_url
        self.public_url = (settings.dashboard_url or "").rstrip("/")
        self.lifetime = max(60, int(settings.dashboard_session_hours * 3600))
        self._exchange, self._lookup = exchange, lookup

    def viewer(self, cookie_header: str, now: float | None = None) -> Viewer | None:
        """The person a valid session cookie stands for; None without one (or a forged, tampered, expired one)."""
        value = read_cookie(cookie_header, SESSION_COOKIE) if self.on else None
        data = self.sessions.verify(value, now) if value else None
        if data is None:
            return None
        login, repos = data.get("login"), data.get("repos")
        if not isinstance(login, str) or not isinstance(repos, list) or not all(isinstance(r, str) for r in repos):
            return None
        return Viewer(login, frozenset(r.lower() for r in repos))

    def callback_url(self, headers: Mapping[str, str], secure: bool) -> str | None:
        """Our /login/callback: DASHBOARD_URL's, else the Host header's (None when that is not a host name)."""
        if self.public_url:
            return f"{self.public_url}/login/callback"
        host = {k.lower(): v for k, v in headers.items()}.get("host", "")
        if not _HOST.match(host):
            return None
        return f"{'https' if secure else 'http'}://{host}/login/callback"

    def _secure(self, secure: bool) -> bool:
        return secure or self.public_url.startswith("https://")

    def login(self, headers: Mapping[str, str], secure: bool, now: float | None = None) -> Outcome:
        """GET /login: to GitHub's authorize page, with a fresh state also kept in a signed cookie."""
        redirect_uri = self.callback_url(headers, secure)
        if redirect_uri is None:
            return Outcome("deny")
        state = secrets.token_urlsafe(32)
        moment = time.time() if now is None else now
        value = self.states.sign({"state": state, "exp": moment + STATE_MAX_AGE})
        query = urlencode({"client_id": self.client_id, "redirect_uri": redirect_uri, "state": state})
        return Outcome("redirect", (("location", f"{self.web}/login/oauth/authorize?{query}"),
                                    ("set-cookie", cookie(STATE_COOKIE, value, STATE_MAX_AGE, self._secure(secure),
                                                          "/login"))))  # fmt: skip

    def callback(self, headers: Mapping[str, str], query: Mapping[str, str], secure: bool,
                 now: float | None = None) -> Outcome:  # fmt: skip
        """GET /login/callback?code&state: the state checked, the code exchanged, the session cookie set."""
        secure = self._secure(secure)
        forget = ("set-cookie", cookie(STATE_COOKIE, "", 0, secure, "/login"))
        lowered = {k.lower(): v for k, v in headers.items()}
        value = read_cookie(lowered.get("cookie", ""), STATE_COOKIE)
        kept = self.states.verify(value, now) if value else None
        given, code = query.get("state", ""), query.get("code", "")
        expected = str(kept.get("state", "")) if kept else ""
        if not expected or not given or not hmac.compare_digest(given.encode(), expected.encode()) or not code:
            return Outcome("deny", (forget,))
        redirect_uri = self.callback_url(headers, secure)
        if redirect_uri is None:
            return Outcome("deny", (forget,))
        try:
            token = self._exchange(self.web, self.client_id, self.client_secret, code, redirect_uri)
            person = self._lookup(self.api, token)
        except GitHubError as exc:
            log.warning("dashboard sign-in failed: %s", exc)
            return Outcome("deny" if exc.status == 401 else "failed", (forget,))
        moment = time.time() if now is None else now
        session = self.sessions.sign({"login": person.login, "repos": sorted(set(person.repositories)),
                                      "exp": int(moment + self.lifetime)})  # fmt: skip
        if len(session) > MAX_COOKIE:
            log.warning("dashboard sign-in of %s: %d repositories do not fit a cookie", person.login,
                        len(person.repositories))  # fmt: skip
            return Outcome("too_many", (forget,))
        log.info("dashboard sign-in: %s (%d repositories)", person.login, len(person.repositories))
        keep = ("set-cookie", cookie(SESSION_COOKIE, session, self.lifetime, secure))
        return Outcome("redirect", (("location", "/"), forget, keep))

    def logout(self, secure: bool) -> Outcome:
        """GET /logout: the session cookie (and a token cookie) cleared, back to the dashboard."""
        from bot.web.auth import COOKIE

        secure = self._secure(secure)
        return Outcome("redirect", (("location", "/"), ("set-cookie", cookie(SESSION_COOKIE, "", 0, secure)),
                                    ("set-cookie", cookie(COOKIE, "", 0, secure))))  # fmt: skip
