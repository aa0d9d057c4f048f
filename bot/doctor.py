"""`falco-rules-bot doctor`: checks a deployment with the current settings and says what to fix, one line a check."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from bot.render import phrases

if TYPE_CHECKING:
    from bot.settings import Settings
    from bot.store import Store

SCHEMA = "falco-rules-bot/doctor/v1"
GITHUB_TIMEOUT = 10.0  # seconds for GET /app (no retries: a doctor answers quickly)


@dataclass(frozen=True)
class Check:
    """The outcome of one check: ok, problem or skipped, what was found, and the fix of a problem."""

    id: str
    status: str
    detail: str
    fix: str = ""


def say(key: str, **values: Any) -> str:
    """A sentence of templates/doctor.yml, by its dotted key."""
    node: Any = phrases("doctor.yml")
    for part in key.split("."):
        node = node[part]
    return str(node).format(**values)


def _first_line(exc: BaseException | str, secrets: tuple[str, ...] = ()) -> str:
    text = (str(exc).splitlines() or [""])[0][:300] or (type(exc).__name__ if isinstance(exc, BaseException) else "")
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _url_secrets(*urls: str | None) -> tuple[str, ...]:
    """The passwords inside these URLs (never shown in an error)."""
    found = []
    for url in urls:
        if url:
            try:
                password = urllib.parse.urlsplit(url).password
            except ValueError:
                password = None
            if password:
                found += [password, urllib.parse.unquote(password)]
    return tuple(found)


def _ok(check: str, detail: str) -> Check:
    return Check(check, "ok", detail)


def _problem(check: str, detail: str, fix: str) -> Check:
    return Check(check, "problem", detail, fix)


def _skipped(check: str, first: str) -> Check:
    return Check(check, "skipped", say("skipped_because", what=say(f"names.{first}")))


# -- the checks --------------------------------------------------------------------------------------------------
def check_data_dir(settings: Settings) -> Check:
    """DATA_DIR exists (or can be made) and a file can be written in it."""
    path = os.path.abspath(settings.data_dir)
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".doctor-"):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return _problem("data_dir", say("data_dir.problem", path=path, reason=reason), say("data_dir.fix", path=path))
    return _ok("data_dir", say("data_dir.ok", path=path))


def check_webhook_secret(settings: Settings) -> Check:
    """At least one webhook secret is configured."""
    count = len(settings.webhook_secrets())
    if count == 0:
        return _problem("webhook_secret", say("webhook_secret.problem"), say("webhook_secret.fix"))
    return _ok("webhook_secret", say("webhook_secret.ok", count=count))


def app_key(settings: Settings) -> tuple[Check, str | None]:
    """The App id and private key are configured (the key file readable): the check, and the key."""
    from bot.settings import SettingsError

    fix = say("app_credentials.fix")
    if settings.github_app_id is None:
        return _problem("app_credentials", say("app_credentials.no_id"), fix), None
    try:
        key = settings.private_key()
    except SettingsError as exc:
        return _problem("app_credentials", say("app_credentials.unreadable", problem=_first_line(exc)), fix), None
    if not key:
        return _problem("app_credentials", say("app_credentials.no_key"), fix), None
    return _ok("app_credentials", say("app_credentials.ok", app_id=settings.github_app_id)), key


def check_private_key(key: str) -> Check:
    """The key is an RSA private key in PEM that signs the App's JWT (through the GitHub gateway's own stack)."""
    from bot.github.client import key_problem

    problem = key_problem(key)
    kind = re.search(r"got: (\w+)", problem or "")
    if kind is not None:  # PyJWT's words for a key of another algorithm
        problem = say("private_key.not_rsa", kind=kind.group(1))
    if problem is not None:
        return _problem("private_key", say("private_key.problem", reason=problem), say("private_key.fix"))
    return _ok("private_key", say("private_key.ok"))


def check_github(settings: Settings, key: str) -> Check:
    """GET /app with the App's JWT: GitHub is reachable and knows the App by these credentials."""
    from bot.github import GitHubApp, GitHubError

    url = settings.github_api_url
    assert settings.github_app_id is not None
    try:
        app = GitHubApp(settings.github_app_id, key, api_url=url, retry_total=0, timeout=GITHUB_TIMEOUT,
                        mirror_dir=settings.mirror_dir())  # fmt: skip
        info = app.app_info()
    except GitHubError as exc:
        reason = _first_line(exc)
        if exc.status is None:
            return _problem("github", say("github.unreachable", url=url, reason=reason),
                            say("github.unreachable_fix", url=url))  # fmt: skip
        if exc.status in (401, 403, 404):
            return _problem("github", say("github.refused", url=url, reason=reason), say("github.refused_fix"))
        return _problem("github", say("github.failed", reason=reason), say("github.failed_fix", url=url))
    return _ok("github", say("github.ok", url=url, slug=info.get("slug"), app_id=info.get("id")))


def _backend(url: str) -> str:
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    return {"postgresql": "PostgreSQL", "sqlite": "SQLite", "redis": "Redis", "rediss": "Redis"}.get(scheme, scheme)


def check_store(settings: Settings) -> tuple[Check, Store | None]:
    """The store answers and its schema is the latest (nothing is migrated here)."""
    from bot.store import Store
    from bot.store.schema import MIGRATIONS

    url = settings.database()
    backend, secrets = _backend(url), _url_secrets(url)
    try:
        store = Store(url, **settings.store_options())
        store.ping()
        version = store.schema_version()
    except Exception as exc:
        reason = _first_line(exc, secrets)
        return _problem("store", say("store.down", backend=backend, reason=reason), say("store.down_fix")), None
    latest = max(v for v, _ in MIGRATIONS)
    if version < latest:
        detail = say("store.behind", backend=backend, version=version, latest=latest)
        return _problem("store", detail, say("store.behind_fix")), store
    return _ok("store", say("store.ok", backend=backend, version=version)), store


def check_queue(settings: Settings, store: Store | None) -> Check:
    """The queue (Huey: Redis with REDIS_URL, else its SQLite file) answers."""
    from bot.jobs import Jobs
    from bot.store import Store

    backend = "Redis" if settings.redis_url else "SQLite"
    fix = say("queue.redis_fix") if settings.redis_url else say("queue.sqlite_fix")
    try:
        jobs = Jobs(settings, store or Store("sqlite://"))
        jobs.ping()
        pending, scheduled = jobs.huey.pending_count(), jobs.huey.scheduled_count()
    except Exception as exc:
        reason = _first_line(exc, _url_secrets(settings.redis_url))
        return _problem("queue", say("queue.down", backend=backend, reason=reason), fix)
    return _ok("queue", say("queue.ok", backend=backend, pending=pending, scheduled=scheduled))


def check_tool(tool: str) -> Check:
    """`tool --version` runs: its first line."""
    fix = say(f"tool.{tool}_fix")
    path = shutil.which(tool)
    if path is None:
        return _problem(tool, say("tool.missing", tool=tool), fix)
    try:
        proc = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=20, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        return _problem(tool, say("tool.failed", tool=tool, reason=_first_line(exc)), fix)
    return _ok(tool, say("tool.ok", version=_first_line(proc.stdout.strip() or tool)))


def run_checks() -> list[Check]:
    """Every check, in order; those that need what a failed one provides are skipped."""
    from bot.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        checks = [_problem("settings", _first_line(exc), say("settings.fix"))]
        return checks + [_skipped(c, "settings") for c in ORDER[1:-2]] + [check_tool("git"), check_tool("gpg")]
    checks = [_ok("settings", say("settings.ok", mode="scale-out" if settings.scale_out() else "embedded")),
              check_data_dir(settings), check_webhook_secret(settings)]  # fmt: skip
    credentials, key = app_key(settings)
    checks.append(credentials)
    if key is None:
        checks += [_skipped("private_key", "app_credentials"), _skipped("github", "app_credentials")]
    else:
        signing = check_private_key(key)
        checks.append(signing)
        checks.append(check_github(settings, key) if signing.status == "ok" else _skipped("github", "private_key"))
    store_check, store = check_store(settings)
    checks += [store_check, check_queue(settings, store), check_tool("git"), check_tool("gpg")]
    if store is not None:
        store.close()
    return checks


ORDER = ("settings", "data_dir", "webhook_secret", "app_credentials", "private_key", "github", "store", "queue",
         "git", "gpg")  # fmt: skip


def render_text(checks: list[Check]) -> str:
    """One line per check (a problem's line ends with its fix), then the summary."""
    lines = []
    for c in checks:
        line = say("line", status=say(f"status.{c.status}"), name=say(f"names.{c.id}"), detail=c.detail)
        lines.append(line + (say("fix", fix=c.fix) if c.fix else ""))
    problems = sum(1 for c in checks if c.status == "problem")
    summary = say("summary_problems", problems=problems, count=len(checks)) if problems else say(
        "summary_ok", count=len(checks))  # fmt: skip
    return "\n".join([*lines, summary]) + "\n"


def render_json(checks: list[Check]) -> str:
    """`falco-rules-bot/doctor/v1`: ok, and every check with its id, status, detail and fix."""
    data = {"schema": SCHEMA, "ok": all(c.status == "ok" for c in checks), "checks": [asdict(c) for c in checks]}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def main(form: str = "text") -> int:
    """Run every check and print them: 0 when all pass, 1 otherwise."""
    import logging

    logging.disable(logging.CRITICAL)  # the checks' own failures are in their lines, not in log noise
    checks = run_checks()
    sys.stdout.write(render_json(checks) if form == "json" else render_text(checks))
    return 0 if all(c.status == "ok" for c in checks) else 1
