"""The end-to-end world: the GitHub emulator, `falco-rules-bot serve` as a real process, real repositories and keys."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.emulator import Emulator
from tests.gitrepos import ALICE, RULE, Repo
from tests.gpgkeys import Key

ROOT = Path(__file__).resolve().parents[2]
GOOD_RULE = RULE.format(name="Shell in container", cond="evt.type = execve and proc.name = bash")
_names = itertools.count(1)


def free_port() -> int:
    """A TCP port nobody listens on, on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: Callable[[], Any], timeout: float = 40.0, interval: float = 0.1) -> Any:
    """Poll `what` until it returns something truthy; fail with the last value after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    value = what()
    while not value:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {getattr(what, '__name__', what)}")
        time.sleep(interval)
        value = what()
    return value


def stop_process(proc: subprocess.Popen[bytes], kill: bool = False, timeout: float = 15) -> None:
    """SIGTERM (or SIGKILL) a process and wait for it; SIGKILL when it outlives `timeout`."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class BotServer:
    """`falco-rules-bot serve` in its own process, configured to speak to the emulator; `with` starts and stops it."""

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def __init__(self, emu: Emulator, app: Any, data_dir: Path, **settings: str | None) -> None:
        self.emu, self.app, self.data_dir = emu, app, data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = settings  # a None value unsets the variable
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "server.log"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "DATABASE_", "REDIS_"))}
        env.update(
            GITHUB_APP_ID=str(self.app.id),
            GITHUB_PRIVATE_KEY=self.app.private_key_pem,
            GITHUB_WEBHOOK_SECRET=self.app.webhook_secret,
            GITHUB_API_URL=self.emu.api_url,
            GIT_ALLOWED_URLS=self.emu.url,
            DATA_DIR=str(self.data_dir),
            REVIEW_DELAY_SECONDS="0.5",
            GITHUB_TIMEOUT_SECONDS="8",  # a call GitHub leaves unanswered (the emulator's `delay` faults) fails sooner
            WORKERS="2",
            LOG_LEVEL="INFO",
        )
        for key, value in self.settings.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def start(self) -> BotServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.proc = self._spawn("serve", "--host", "127.0.0.1", "--port", str(self.port))
        wait_for(self._healthy, timeout=30)
        return self

    def _spawn(self, *args: str) -> subprocess.Popen[bytes]:
        out = open(self.log, "ab")  # noqa: SIM115 - the process writes to it until it stops
        proc = subprocess.Popen([sys.executable, "-m", "bot", *args], cwd=ROOT, env=self.env(), stdout=out,
                                stderr=subprocess.STDOUT)  # fmt: skip
        out.close()
        return proc

    def _healthy(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"the server exited with {self.proc.returncode}:\n{self.log.read_text()[-4000:]}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self, kill: bool = False) -> None:
        if self.proc is None:
            return
        stop_process(self.proc, kill)
        self.proc = None

    def deliver(self, event: str, action: str | None, **kwargs: Any) -> tuple[int, Any]:
        """A webhook built from GitHub's example payloads, signed and POSTed as GitHub would."""
        return self.emu.deliver(f"{self.url}/webhook", event, action, app=self.app, **kwargs)

    def post_raw(self, payload: bytes, headers: dict[str, str]) -> httpx.Response:
        """POST a delivery built beforehand (`emu.webhook`): the same bytes and headers, as a redelivery sends."""
        return httpx.post(f"{self.url}/webhook", content=payload, headers=headers, timeout=30)


class World:
    """One repository installed with the App, its users and keys; helpers to open and push pull requests."""

    def __init__(self, emu: Emulator, app: Any, keys: dict[str, Key], tmp: Path, policy: str | None = None) -> None:
        self.emu, self.app, self.keys, self.tmp = emu, app, keys, tmp
        n = next(_names)
        self.owner = f"falco{n}"
        self.repo_name = f"{self.owner}/rules"
        self.repo = Repo(tmp / f"work-{n}")
        # The fixture's new rule lands in falco_rules.yaml, where a real one could not start (a new rule is
        # not stable): the tags check's `new_stable` warning is turned into a notice for every world.
        data = yaml.safe_load(policy or "") or {}
        data.setdefault("checks", {}).setdefault("tags", {}).setdefault("new_stable", "notice")
        policy = yaml.safe_dump(data)
        if policy is not None:
            (self.repo.path / ".github").mkdir(exist_ok=True)
            self.repo.git("checkout", "-q", "main")
            self.repo.write(".github/falco-rules-bot.yml", policy)
            self.repo.commit("Policy", ALICE, key=keys["alice"], signoff=ALICE)
            self.repo.git("checkout", "-q", "-B", "feature")
        emu.add_repository(self.repo_name, source=str(self.repo.path), default_branch="main")
        self.installation = emu.install(app, account=self.owner, repositories=[self.repo_name])
        self.issue = emu.add_issue(self.repo_name, "Detect shells in containers", author="alice")

    def add_rule_commit(self, text: str = GOOD_RULE, message: str = "Add a rule", key: str | None = "alice",
                        signoff: bool = True, who: tuple[str, str] = ALICE,
                        path: str = "rules/falco_rules.yaml") -> str:  # fmt: skip
        """A commit on `feature` appending `text` to the rules file; returns its sha."""
        target = self.repo.path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        current = target.read_text() if target.exists() else ""
        target.write_text(current + ("\n" if current and not current.endswith("\n") else "") + text)
        self.repo.commit(message, who, key=self.keys[key] if key else None, signoff=who if signoff else None)
        return self.repo.git("rev-parse", "HEAD")

    def open(self, title: str = "Add a shell rule", body: str | None = None, author: str = "alice",
             draft: bool = False) -> int:  # fmt: skip
        """Open the pull request feature -> main (GitHub sends the webhook separately)."""
        body = f"Fixes #{self.issue}" if body is None else body
        source = str(self.repo.path)
        number = self.emu.open_pull_request(self.repo_name, source=source, head_ref="feature", base="main",
                                            title=title, body=body, author=author, draft=draft)  # fmt: skip
        return int(number)

    def push(self, number: int) -> None:
        self.emu.push_pull_request(self.repo_name, number, source=str(self.repo.path), head_ref="feature")

    def head(self) -> str:
        return self.repo.git("rev-parse", "HEAD")

    def runs(self, sha: str | None = None) -> list[dict[str, Any]]:
        return list(self.emu.check_runs(self.repo_name, sha or self.head()))

    def completed_run(self, sha: str | None = None, timeout: float = 40.0) -> dict[str, Any]:
        """Wait for the bot's completed check run on the head (or `sha`)."""

        def done() -> dict[str, Any] | None:
            for run in self.runs(sha):
                if run["name"] == "falco-rules-bot" and run["status"] == "completed":
                    return run
            return None

        return dict(wait_for(done, timeout=timeout))

    def bot_comments(self, number: int) -> list[dict[str, Any]]:
        return [c for c in self.emu.comments(self.repo_name, number) if c["user"] == self.app.bot_login]


class ScaleOutGroup(BotServer):
    """Scale-out mode: `serve` processes sharing PostgreSQL and Redis (deliveries alternate between them, each
    only verifying and enqueuing) and `worker` processes consuming, all started by the tests (tests/scaleout)."""

    def __init__(self, emu: Emulator, app: Any, data_dir: Path, webs: int = 2, workers: int = 3,
                 redis: Any = None, postgres: Any = None, **settings: str | None) -> None:  # fmt: skip
        """`redis` and `postgres` (tests/scaleout/servers.py): instances of the test's own, to restart; by default
        the test run's shared ones."""
        from tests.scaleout import servers

        self.database_url = (postgres or servers.postgres()).fresh_url()
        self.redis_url = (redis or servers.redis()).fresh_url()
        shared: dict[str, str | None] = {"DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url}
        super().__init__(emu, app, data_dir, **shared, **settings)
        web_settings = {**shared, **settings, "WORKERS": None}  # unset: `serve` embeds no consumer
        self.webs = [BotServer(emu, app, data_dir / f"web{i}", **web_settings) for i in range(webs)]
        self.url = self.webs[0].url
        self.worker_count = workers
        self.workers: list[subprocess.Popen[bytes]] = []
        self._turn = itertools.count()

    def start(self) -> ScaleOutGroup:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for web in self.webs:
            web.start()
        for _ in range(self.worker_count):
            self.start_worker()
        return self

    def start_worker(self) -> subprocess.Popen[bytes]:
        """One more `falco-rules-bot worker` process."""
        proc = self._spawn("worker")
        self.workers.append(proc)
        return proc

    def kill_worker(self, pid: int) -> None:
        """SIGKILL the worker with this process id: no chance to finish or hand anything over."""
        for proc in self.workers:
            if proc.pid == pid:
                proc.kill()
                proc.wait()
                self.workers.remove(proc)
                return
        raise AssertionError(f"no worker has the process id {pid}")

    def stop(self, kill: bool = False) -> None:
        for web in self.webs:
            web.stop(kill)
        for proc in self.workers:  # all signalled first: they stop together
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        for proc in self.workers:
            stop_process(proc, kill)
        self.workers = []

    def deliver(self, event: str, action: str | None, **kwargs: Any) -> tuple[int, Any]:
        """A signed webhook to the next web process in turn."""
        web = self.webs[next(self._turn) % len(self.webs)]
        return web.deliver(event, action, **kwargs)


class SetupServer(BotServer):
    """`falco-rules-bot serve` with no GitHub App at all (setup mode, /setup registers one): only the emulator's
    address, DATA_DIR and `settings` in its environment."""

    def __init__(self, emu: Emulator, data_dir: Path, **settings: str | None) -> None:
        super().__init__(emu, None, data_dir, **settings)

    def env(self) -> dict[str, str]:
        kept = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "DATABASE_", "REDIS_", "DASHBOARD_",
                                                                          "SETUP_"))}  # fmt: skip
        kept.update(GITHUB_API_URL=self.emu.api_url, GIT_ALLOWED_URLS=self.emu.url, DATA_DIR=str(self.data_dir),
                    LOG_LEVEL="INFO")  # fmt: skip
        for key, value in self.settings.items():
            if value is None:
                kept.pop(key, None)
            else:
                kept[key] = value
        return kept

    def setup_token(self) -> str:
        """The one-time token the server logged at start (the last start's, when the log holds several)."""
        import re

        found = wait_for(lambda: re.findall(r"/setup\?token=([A-Za-z0-9_-]+)", self.log.read_text()), timeout=10)
        return str(found[-1])
