"""`serve`'s setup mode, free of any web framework: /setup registers the GitHub App through GitHub's manifest flow.

With no App id, private key or webhook secret, `serve` starts in setup mode: /webhook answers 503, and GET /setup
(with the one-time token the server logs at start, or SETUP_TOKEN) shows a form that POSTs the App's manifest
(config/app-manifest.yml with this server's addresses) to GitHub's "new GitHub App" page with a random `state`, also
kept in a signed HttpOnly cookie. GitHub registers the App and sends the browser to GET /setup/callback?code&state: the
state is checked against the cookie (so nobody else's registration can be planted here), the code is traded for the
App's credentials (bot.github), and they are written atomically, mode 0600, to GITHUB_APP_CREDENTIALS_FILE (an env
file Settings reads at start) and a private key file beside it. From then on /setup answers 404.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from bot import paths
from bot.github import GitHubError, ManifestApp, create_app_from_manifest
from bot.jobs import html_base
from bot.render import TEMPLATES, phrases, render_html
from bot.rules.yamlsrc import load_data
from bot.settings import Settings
from bot.web.dashboard import Page
from bot.web.oauth import Signer, cookie, read_cookie

log = logging.getLogger("falco-rules-bot.setup")

MANIFEST_PATH = os.path.join(paths.CONFIG, "app-manifest.yml")
STATE_COOKIE = "frb_setup_state"
STATE_MAX_AGE = 3600  # GitHub's code lives an hour; the person may take a while on GitHub's page
NAME_MAX = 34  # GitHub's limit on an App's name
_HOST = re.compile(r"^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")
_ORG = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_UNSAFE_VALUE = re.compile(r"['\x00-\x1f\x7f-\x9f]")


def say(key: str, **values: Any) -> str:
    """A sentence of templates/setup.yml."""
    return str(phrases("setup.yml")[key]).format(**values)


def setup_mode(settings: Settings) -> bool:
    """No App id, private key or webhook secret: `serve` only offers /setup (and health); /webhook answers 503."""
    key = settings.github_private_key or settings.github_private_key_path
    return settings.github_app_id is None and not key and not settings.webhook_secrets()


def manifest(base_url: str, name: str | None = None) -> dict[str, Any]:
    """config/app-manifest.yml with this server's addresses: webhook, redirect (the callback), OAuth callback, setup."""
    with open(MANIFEST_PATH, encoding="utf-8") as handle:
        data: dict[str, Any] = load_data(handle)
    base = base_url.rstrip("/")
    if name:
        data["name"] = name
    data["hook_attributes"] = {**(data.get("hook_attributes") or {}), "url": f"{base}/webhook"}
    data["redirect_url"] = f"{base}/setup/callback"
    data["callback_urls"] = [f"{base}/login/callback"]
    data["setup_url"] = f"{base}/setup/installed"
    data["request_oauth_on_install"] = False
    return data


def _env_value(name: str, value: str) -> str:
    """A line of the env file: single-quoted, so that python-dotenv neither unescapes nor interpolates it."""
    if _UNSAFE_VALUE.search(value):
        raise ValueError(say("bad_value", name=name))
    return f"{name}='{value}'\n"


def _write_private(path: str, text: str) -> None:
    """Write `text` to `path` atomically (a temporary file beside it, renamed over it), readable by its owner only."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", dir=directory)  # created with mode 0600
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def key_path(credentials_file: str) -> str:
    """Where the private key goes: beside the credentials file, `<its name without extension>.pem`."""
    stem, extension = os.path.splitext(os.path.abspath(credentials_file))
    return f"{stem}.private-key.pem" if extension == ".pem" else f"{stem}.pem"


def write_credentials(path: str, app: ManifestApp, api_url: str) -> str:
    """Write the App's private key (a .pem beside `path`), then its env file at `path`; return the key's path.

    The env file holds GITHUB_APP_ID, GITHUB_APP_SLUG, GITHUB_PRIVATE_KEY_PATH, GITHUB_WEBHOOK_SECRET,
    GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET, a new DASHBOARD_SESSION_SECRET (Sign in with GitHub needs one), and
    GITHUB_API_URL unless it is github.com's. ValueError when a value cannot be written; OSError when the disk refuses.
    """
    pem = key_path(path)
    values = {"GITHUB_APP_ID": str(app.id), "GITHUB_APP_SLUG": app.slug, "GITHUB_PRIVATE_KEY_PATH": pem,
              "GITHUB_WEBHOOK_SECRET": app.webhook_secret or "", "GITHUB_CLIENT_ID": app.client_id,
              "GITHUB_CLIENT_SECRET": app.client_secret,
              "DASHBOARD_SESSION_SECRET": secrets.token_urlsafe(48)}  # fmt: skip
    if api_url.rstrip("/") != "https://api.github.com":
        values["GITHUB_API_URL"] = api_url.rstrip("/")
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = say("file_header", name=_CONTROL.sub(" ", app.name), html_url=_CONTROL.sub(" ", app.html_url), when=when)
    body = header + "\n" + "".join(_env_value(k, v) for k, v in values.items() if v)
    if not app.pem.startswith("-----BEGIN"):
        raise ValueError(say("bad_value", name="pem"))
    _write_private(pem, app.pem if app.pem.endswith("\n") else app.pem + "\n")
    _write_private(path, body)
    return pem


def security_headers(css: str, web: str) -> dict[str, str]:
    """No scripts at all, only our own inline style; forms may go to this server and to GitHub; never cached."""
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    parts = urlsplit(web)
    github = f"{parts.scheme}://{parts.netloc}"
    policy = (f"default-src 'none'; style-src 'sha256-{digest}'; img-src 'self' data:; base-uri 'none'; "
              f"form-action 'self' {github}; frame-ancestors 'none'")  # fmt: skip
    return {"content-security-policy": policy, "x-content-type-options": "nosniff", "x-frame-options": "DENY",
            "referrer-policy": "no-referrer", "cache-control": "no-store"}  # fmt: skip


def _stylesheet() -> str:
    with open(os.path.join(TEMPLATES, "dashboard.css"), encoding="utf-8") as handle:
        return handle.read().replace("</", "<\\/")


class Setup:
    """The setup routes of one process: on only in setup mode, and until the credentials file exists."""

    def __init__(self, settings: Settings, convert: Callable[[str, str], ManifestApp] = create_app_from_manifest,
                 token: str | None = None) -> None:  # fmt: skip
        self.mode = setup_mode(settings)
        self.configured_token = bool(settings.setup_token)
        self.token = settings.setup_token or token or secrets.token_urlsafe(24)
        self.file = os.path.abspath(settings.credentials_file())
        self.custom_file = settings.github_app_credentials_file is not None
        self.api = settings.github_api_url
        self.web = html_base(settings.github_api_url)
        self.public_url = (settings.dashboard_url or "").rstrip("/")
        self.states = Signer(self.token, "setup state")
        self.css = _stylesheet()
        self.headers = security_headers(self.css, self.web)
        self._convert = convert
        self._lock = threading.Lock()

    def open(self) -> bool:
        """Whether /setup answers: setup mode, and no credentials file written (by this process or an earlier one)."""
        return self.mode and not os.path.exists(self.file)

    def announce(self) -> None:
        """Log how to reach /setup (the generated token is printed: it is the operator's only way in)."""
        if not self.mode:
            return
        if os.path.exists(self.file):
            log.warning("%s", say("leftover_file", path=self.file))
            return
        where = f"{self.public_url}/setup" if self.public_url else "http://HOST/setup"
        if self.configured_token:
            log.warning("%s", say("announce_configured", url=where))
        else:
            log.warning("%s", say("announce_generated", url=f"{where}?{urlencode({'token': self.token})}"))

    def serve(self, route: str, headers: Mapping[str, str], query: Mapping[str, str],
              secure: bool = False) -> Page | None:  # fmt: skip
        """The answer to GET /setup ("start"), /setup/callback ("callback"), /setup/installed ("installed"); None (404)
        once the App is configured."""
        if route == "installed":
            return self._page(200, "installed")
        if not self.open():
            return None
        lowered = {k.lower(): v for k, v in headers.items()}
        if route == "start":
            return self.start(lowered, query, secure)
        if route == "callback":
            return self.callback(lowered, query, secure)
        return None

    def base_url(self, headers: Mapping[str, str], secure: bool) -> str | None:
        """This server's public address: DASHBOARD_URL, else the Host header's (None when that is not a host)."""
        if self.public_url:
            return self.public_url
        host = headers.get("host", "")
        return f"{'https' if secure else 'http'}://{host}" if _HOST.match(host) else None

    def _secure(self, secure: bool) -> bool:
        return secure or self.public_url.startswith("https://")

    def start(self, headers: Mapping[str, str], query: Mapping[str, str], secure: bool,
              now: float | None = None) -> Page:  # fmt: skip
        """GET /setup?token[&name][&org]: the registration form, with a fresh state kept in a signed cookie."""
        given = query.get("token", "")
        if not given or not hmac.compare_digest(given.encode(), self.token.encode()):
            return self._page(403, "bad_token")
        name, org = query.get("name", "").strip(), query.get("org", "").strip()
        base = self.base_url(headers, secure)
        if (name and (len(name) > NAME_MAX or _CONTROL.search(name))) or (org and not _ORG.match(org)) or not base:
            return self._page(400, "bad_input", token=self.token)
        data = manifest(base, name or None)
        state = secrets.token_urlsafe(32)
        moment = time.time() if now is None else now
        value = self.states.sign({"state": state, "exp": moment + STATE_MAX_AGE})
        where = f"/organizations/{quote(org, safe='')}/settings/apps/new" if org else "/settings/apps/new"
        action = f"{self.web}{where}?{urlencode({'state': state})}"
        keep = cookie(STATE_COOKIE, value, STATE_MAX_AGE, self._secure(secure), "/setup")
        return self._page(200, "start", (keep,), manifest=data, manifest_json=json.dumps(data), action=action,
                          org=org or None, token=self.token, public=bool(self.public_url), file=self.file)  # fmt: skip

    def callback(self, headers: Mapping[str, str], query: Mapping[str, str], secure: bool,
                 now: float | None = None) -> Page:  # fmt: skip
        """GET /setup/callback?code&state: the state checked, the code traded for the App's credentials, written."""
        value = read_cookie(headers.get("cookie", ""), STATE_COOKIE)
        kept = self.states.verify(value, now) if value else None
        given, code = query.get("state", ""), query.get("code", "")
        expected = str(kept.get("state", "")) if kept else ""
        if not expected or not given or not hmac.compare_digest(given.encode(), expected.encode()) or not code:
            return self._page(400, "bad_state")
        forget = cookie(STATE_COOKIE, "", 0, self._secure(secure), "/setup")
        with self._lock:
            if not self.open():  # another request of this process finished the registration meanwhile
                return self._page(404, "bad_state", (forget,))
            try:
                app = self._convert(self.api, code)
            except GitHubError as exc:
                log.warning("%s", say("conversion_failed", error=exc))
                if exc.transient:
                    return self._page(502, "github_down")
                return self._page(400, "bad_code", (forget,))
            try:
                pem = write_credentials(self.file, app, self.api)
            except (OSError, ValueError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                log.error("%s", say("write_failed", slug=app.slug, id=app.id, path=self.file, reason=reason))
                return self._page(500, "write_failed", (forget,), app=app, file=self.file, reason=reason)
        install = f"{app.html_url.rstrip('/')}/installations/new"
        log.warning("%s", say("registered", slug=app.slug, id=app.id, path=self.file, pem=pem, install=install))
        return self._page(200, "done", (forget,), app=app, file=self.file, pem=pem, install_url=install,
                          custom_file=self.custom_file)  # fmt: skip

    def _page(self, status: int, kind: str, cookies: tuple[str, ...] = (), **context: Any) -> Page:
        html = render_html("setup.html.j2", kind=kind, css=self.css, say=phrases("setup.yml"), name_max=NAME_MAX,
                           **context)  # fmt: skip
        return Page(status, html, dict(self.headers), cookies)
