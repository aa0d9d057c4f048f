"""The server's settings, read from the environment (DESIGN §8); the only module importing pydantic-settings."""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.render import phrases

MIB = 1024 * 1024


class SettingsError(Exception):
    """The environment does not describe a usable configuration (the message says which setting)."""


class Settings(BaseSettings):
    """Every setting of `serve` and `worker`; each field is the environment variable of the same name."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    github_app_id: int | None = None
    github_private_key: str | None = None
    github_private_key_path: str | None = None
    github_webhook_secret: str | None = None  # a comma-separated list while a secret is being rotated
    github_api_url: str = "https://api.github.com"
    github_app_slug: str | None = None
    git_url: str | None = None  # where pull request heads are fetched from when GraphQL cannot serve the texts
    git_allowed_urls: str = ""  # comma list of extra git URLs the mirror may fetch from (tests)
    data_dir: str = "./var"
    database_url: str | None = None  # default sqlite:///<data dir>/falco-rules-bot.db
    queue_path: str | None = None  # default <data dir>/queue.db (Huey's SQLite queue)
    redis_url: str | None = None  # redis://...: Huey's Redis queue (scale-out); `serve` then embeds no consumer
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"  # json: one JSON object a line, with its context (docs/operations.md)
    metrics_token: str | None = None  # a bearer token GET /metrics asks for (set it on a public address); unset: open
    metrics_port: int | None = None  # `worker` serves its Prometheus /metrics on this port (unset: none)
    metrics_host: str = "127.0.0.1"  # the address `worker` serves /metrics on (METRICS_PORT)
    max_body_bytes: int = 25 * MIB
    workers: int = 2  # consumer threads (of `worker`, and of `serve`'s embedded consumer)
    embedded_worker: bool = True  # `serve` runs the queue consumer in its own process (see embedded_workers)
    review_delay_seconds: float = 2.0  # debounce: a burst of events for one PR becomes one review
    review_lease_seconds: float = 600.0  # a running review not finished by then is taken over
    review_max_attempts: int = 4  # transient GitHub failures are retried up to this many runs in all
    review_retry_delay_seconds: float = 15.0  # first retry delay; doubles on every attempt
    sweep_interval_seconds: float = 60.0  # how often each consumer re-enqueues requests whose lease expired
    queue_grace_seconds: float = 60.0  # a queued request not started this long after it was due is enqueued again
    github_timeout_seconds: float = 15.0  # one call to GitHub's API gives up after this long (then it is retried)
    dashboard_enabled: bool | None = None  # unset: on when DASHBOARD_TOKEN or DASHBOARD_USERS is set; false: off
    dashboard_token: str | None = None  # a bearer token (or ?token= once, then a cookie); comma list while rotating
    dashboard_users: str = ""  # comma list of user:pbkdf2_sha256$iterations$salt$hex (python -m bot.web.auth)
    dashboard_page_size: int = 25  # reviews per page of GET /
    github_client_id: str | None = None  # the App's OAuth client id: with the secret, "Sign in with GitHub" is on
    github_client_secret: str | None = None  # the App's OAuth client secret
    dashboard_session_secret: str | None = None  # signs the sign-in cookies (required with OAuth; 32+ characters)
    dashboard_url: str | None = None  # the dashboard's public address (the OAuth callback); default: the Host header
    dashboard_session_hours: float = 8.0  # how long a GitHub sign-in lasts (what the person may read is kept as long)
    github_app_credentials_file: str | None = None  # default <data dir>/github-app.env: written by /setup, read here
    setup_token: str | None = None  # the token /setup asks for (setup mode); default: a random one, logged at start

    def webhook_secrets(self) -> list[bytes]:
        """The accepted webhook secrets (several while one is being rotated)."""
        text = self.github_webhook_secret or ""
        return [part.strip().encode() for part in text.split(",") if part.strip()]

    def allowed_git_urls(self) -> tuple[str, ...]:
        """GIT_ALLOWED_URLS as a tuple."""
        return tuple(part.strip() for part in self.git_allowed_urls.split(",") if part.strip())

    def database(self) -> str:
        """The SQLAlchemy URL of the store."""
        return self.database_url or f"sqlite:///{os.path.join(self.data_dir, 'falco-rules-bot.db')}"

    def store_options(self) -> dict[str, float]:
        """The Store's keyword arguments that come from settings."""
        return {"queue_grace": self.queue_grace_seconds}

    def embedded_workers(self) -> int:
        """The consumer threads `serve` runs in its own process.

        Embedded mode (no REDIS_URL): WORKERS. Scale-out mode (REDIS_URL set): none, `falco-rules-bot worker`
        processes consume, unless WORKERS is set explicitly. EMBEDDED_WORKER=false: none in either mode.
        """
        if not self.embedded_worker:
            return 0
        if self.redis_url and "workers" not in self.model_fields_set:
            return 0
        return self.workers

    def scale_out(self) -> bool:
        """Whether the queue is Redis (any number of `worker` processes, on any number of machines)."""
        return bool(self.redis_url)

    def queue_file(self) -> str:
        """The file of Huey's SQLite queue."""
        return self.queue_path or os.path.join(self.data_dir, "queue.db")

    def mirror_dir(self) -> str:
        """Where the git mirrors of repositories are kept."""
        return os.path.join(self.data_dir, "mirrors")

    def private_key(self) -> str | None:
        """The App's private key (PEM): GITHUB_PRIVATE_KEY, else the file at GITHUB_PRIVATE_KEY_PATH."""
        if self.github_private_key:
            return self.github_private_key.replace("\\n", "\n")
        if self.github_private_key_path:
            try:
                with open(self.github_private_key_path, encoding="utf-8") as handle:
                    return handle.read()
            except OSError as exc:
                reason = exc.strerror or str(exc)
                raise SettingsError(_say("cannot_read_key", path=self.github_private_key_path, reason=reason)) from exc
        return None

    def oauth_enabled(self) -> bool:
        """Both the App's OAuth client id and secret are configured: "Sign in with GitHub" is on."""
        return bool(self.github_client_id and self.github_client_secret)

    def credentials_file(self) -> str:
        """The env file /setup writes the App's credentials to (environment variables win over its lines)."""
        return self.github_app_credentials_file or os.path.join(self.data_dir, "github-app.env")

    def has_app_credentials(self) -> bool:
        """Both the App id and a private key are configured."""
        return self.github_app_id is not None and bool(self.github_private_key or self.github_private_key_path)


def load_settings(**overrides: Any) -> Settings:
    """The settings from the environment, then the credentials file /setup wrote (GITHUB_APP_CREDENTIALS_FILE), with
    `overrides` (field names) on top; SettingsError when invalid."""
    path = ""
    try:
        settings = Settings(**overrides)
        path = settings.credentials_file()
        if os.path.isfile(path):  # what /setup wrote; the environment wins over it
            settings = Settings(_env_file=path, **overrides)  # type: ignore[call-arg]  # BaseSettings' own argument
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise SettingsError(str(phrases("setup.yml")["cannot_read"]).format(path=path, reason=reason)) from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors())
        raise SettingsError(_say("bad_settings", problems=problems)) from None
    if settings.max_body_bytes <= 0 or settings.workers < 0 or settings.review_max_attempts < 1:
        raise SettingsError(_say("bad_settings", problems=_say("bad_numbers")))
    return settings


def _say(key: str, **values: Any) -> str:
    return str(phrases("review.yml")["server"][key]).format(**values)
