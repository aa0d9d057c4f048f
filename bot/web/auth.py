"""Who may see the dashboard, free of any web framework: DASHBOARD_TOKEN (bearer, or ?token= once then an
HttpOnly cookie) and DASHBOARD_USERS (HTTP basic auth against PBKDF2 hashes), who see everything; people signed in
with GitHub (GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET, bot.web.oauth), who see the repositories they can read;
off unless one of them is configured."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlencode

from bot.settings import Settings
from bot.web.oauth import EVERYONE, SignIn, Viewer, read_cookie

log = logging.getLogger("falco-rules-bot.dashboard")

COOKIE = "frb_dashboard"
COOKIE_MAX_AGE = 7 * 24 * 3600
ALGORITHM = "pbkdf2_sha256"
ITERATIONS = 600_000
_SESSION_CONTEXT = b"falco-rules-bot dashboard session v1"
_REMEMBERED = 256  # good basic credentials remembered (as digests) so PBKDF2 runs once per person, not per page


@dataclass(frozen=True)
class Decision:
    """What to do with a request: off (answer as an unknown route), allow, deny (401), or sign in (303 + cookie);
    an allowed request shows what its viewer may read."""

    kind: Literal["off", "allow", "deny", "signin"]
    headers: tuple[tuple[str, str], ...] = ()
    viewer: Viewer = EVERYONE


def hash_password(password: str, salt: str | None = None, iterations: int = ITERATIONS) -> str:
    """The DASHBOARD_USERS form of a password: pbkdf2_sha256$iterations$salt$hex."""
    salt = salt or secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations).hex()
    return f"{ALGORITHM}${iterations}${salt}${digest}"


def verify_password(password: str, encoded: str) -> bool:
    """Whether `password` matches a hash made by hash_password (constant-time comparison)."""
    parts = encoded.split("$")
    if len(parts) != 4 or parts[0] != ALGORITHM or not parts[1].isdigit() or not 0 < int(parts[1]) <= 10_000_000:
        return False
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), parts[2].encode(), int(parts[1])).hex()
    return hmac.compare_digest(digest.encode(), parts[3].strip().lower().encode())


def parse_users(text: str) -> dict[str, str]:
    """DASHBOARD_USERS (`user:hash,user:hash`) as {user: hash}; malformed entries are left out (and logged)."""
    users: dict[str, str] = {}
    for entry in text.split(","):
        user, sep, encoded = entry.strip().partition(":")
        if not entry.strip():
            continue
        if not sep or not user or not encoded.startswith(ALGORITHM + "$") or encoded.count("$") != 3:
            log.warning("DASHBOARD_USERS: an entry is not user:%s$iterations$salt$hex; ignored", ALGORITHM)
            continue
        users[user] = encoded
    return users


def session_value(token: str) -> str:
    """The cookie value standing for a token (the token itself never travels in the cookie)."""
    return hmac.new(token.encode(), _SESSION_CONTEXT, hashlib.sha256).hexdigest()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


class Gate:
    """The dashboard's access decisions for one process's settings."""

    def __init__(self, settings: Settings, signin: SignIn | None = None) -> None:
        self.tokens = [t.strip() for t in (settings.dashboard_token or "").split(",") if t.strip()]
        self.users = parse_users(settings.dashboard_users)
        self.sessions = [session_value(t) for t in self.tokens]
        self.signin = signin or SignIn(settings)
        self.on = bool(self.tokens or self.users or self.signin.on) and settings.dashboard_enabled is not False
        if settings.dashboard_enabled and not self.on:
            log.warning("DASHBOARD_ENABLED is set but none of DASHBOARD_TOKEN, DASHBOARD_USERS, GITHUB_CLIENT_ID: "
                        "dashboard off")  # fmt: skip
        self._remembered: dict[bytes, None] = {}

    def challenge(self) -> str:
        """The WWW-Authenticate header of a 401."""
        return 'Basic realm="falco-rules-bot", charset="UTF-8"' if self.users else 'Bearer realm="falco-rules-bot"'

    def decide(self, headers: Mapping[str, str], query: Mapping[str, str], path: str, secure: bool) -> Decision:
        """Allow, deny or sign in a request to `path` (headers with lower-case names, the query's parameters)."""
        if not self.on:
            return Decision("off")
        given = query.get("token")
        if given is not None:
            if not self._token_ok(given):
                return self._deny()
            rest = urlencode([(k, v) for k, v in query.items() if k != "token"])
            location = "/" + path.lstrip("/") + (f"?{rest}" if rest else "")
            cookie = f"{COOKIE}={session_value(given)}; Path=/; Max-Age={COOKIE_MAX_AGE}; HttpOnly; SameSite=Lax"
            return Decision("signin", (("location", location), ("set-cookie", cookie + ("; Secure" if secure else ""))))
        lowered = {k.lower(): v for k, v in headers.items()}
        scheme, _, credentials = lowered.get("authorization", "").strip().partition(" ")
        if scheme.lower() == "bearer" and self._token_ok(credentials.strip()):
            return Decision("allow")
        if scheme.lower() == "basic" and self._basic_ok(credentials.strip()):
            return Decision("allow")
        if self._cookie_ok(lowered.get("cookie", "")):
            return Decision("allow")
        viewer = self.signin.viewer(lowered.get("cookie", ""))
        if viewer is not None:
            return Decision("allow", viewer=viewer)
        return self._deny()

    def _deny(self) -> Decision:
        return Decision("deny", (("www-authenticate", self.challenge()),))

    def _token_ok(self, given: str) -> bool:
        return any([_same(given, token) for token in self.tokens])  # every token compared: no early exit

    def _cookie_ok(self, header: str) -> bool:
        value = read_cookie(header, COOKIE) if self.sessions else None
        return value is not None and any([_same(value, s) for s in self.sessions])

    def _basic_ok(self, credentials: str) -> bool:
        if not self.users:
            return False
        try:
            user, sep, password = base64.b64decode(credentials, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return False
        encoded = self.users.get(user)
        if not sep or encoded is None:
            return False
        key = hashlib.sha256(f"{user}\0{password}\0{encoded}".encode()).digest()
        if key in self._remembered:
            return True
        if not verify_password(password, encoded):
            return False
        if len(self._remembered) >= _REMEMBERED:
            self._remembered.pop(next(iter(self._remembered)))
        self._remembered[key] = None
        return True


if __name__ == "__main__":  # python -m bot.web.auth: print a DASHBOARD_USERS hash for a password typed in
    import getpass

    from bot.render import phrases

    print(hash_password(getpass.getpass(str(phrases("dashboard.yml")["password_prompt"]))))
