"""The task queue (Huey, the only module importing it) and its jobs: a review, a PR comment, the sweeper.

The store is the truth: a Huey message only says "look at request N". Every job first claims its
request in the store (so a duplicate message does nothing), and a sweeper re-enqueues requests whose
lease expired (a lost message, a killed worker), so that nothing enqueued is ever dropped.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from huey import RedisHuey, SqliteHuey
from huey.consumer import ConsumerStopped
from huey.storage import RedisStorage, SqliteStorage
from huey.utils import normalize_time

from bot import logs, metrics
from bot.commands import draft_mode, handle_comment, is_agreement
from bot.render import phrases
from bot.settings import Settings, SettingsError
from bot.store import Request, ReviewRecord, Store, StoreError

if TYPE_CHECKING:
    from bot.github import GitHubApp, PullRequestData, ReviewInputs
    from bot.policy import Policy

log = logging.getLogger("falco-rules-bot.jobs")
LOCK_RETRY_SECONDS = 5.0  # another worker reviews this PR: look again this much later


class MissingCredentialsError(Exception):
    """The App's id or private key is not configured."""


@dataclass
class _Progress:
    """What a review fetched so far (the failure report uses it)."""

    pull: PullRequestData | None = None
    inputs: ReviewInputs | None = None
    conclusion: str | None = None  # the published review's (the metrics' label)
    started: float = field(default_factory=time.monotonic)


def _say(key: str, **values: Any) -> str:
    return str(phrases("review.yml")[key]).format(**values)


def html_base(api_url: str) -> str:
    """The web address of the GitHub whose API is at `api_url` (github.com, GHES, or the emulator)."""
    url = api_url.rstrip("/")
    if url == "https://api.github.com":
        return "https://github.com"
    return url[: -len("/api/v3")] if url.endswith("/api/v3") else url


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _queue(settings: Settings) -> Any:
    """Huey's Redis queue when REDIS_URL is set (scale-out: workers anywhere), else its SQLite file (one machine)."""
    if settings.redis_url:
        try:
            return RedisHuey("falco-rules-bot", url=settings.redis_url, results=False, utc=True)
        except ValueError as exc:  # a URL redis-py cannot read
            raise SettingsError(f"REDIS_URL: {exc}") from exc
    path = settings.queue_file()
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    except OSError as exc:
        raise SettingsError(f"QUEUE_PATH: {path}: {exc.strerror or exc}") from exc
    return SqliteHuey("falco-rules-bot", filename=path, results=False, utc=True)


def _put_all(storage: Any, messages: list[bytes]) -> None:
    """Huey's `storage.enqueue` for many messages in one queue write (one SQLite transaction, one Redis LPUSH),
    as the consumer reads them (a SQLite `task` row each; the Redis list popped from the right, oldest first)."""
    if not messages:
        return
    if isinstance(storage, SqliteStorage):
        with storage.db(commit=True) as cursor:
            cursor.executemany("insert into task (queue, data, priority) values (?, ?, ?)",
                               [(storage.name, storage.to_blob(m), 0) for m in messages])  # fmt: skip
    elif isinstance(storage, RedisStorage):
        storage.conn.lpush(storage.queue_key, *messages)
    else:
        for message in messages:
            storage.enqueue(message)


class Jobs:
    """The queue of one process, its consumer, and the jobs."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings, self.store = settings, store
        self.huey = _queue(settings)
        self._task = self.huey.task(name="request")(self.run)
        self._dispatch = self.huey.task(name="dispatch")(self.dispatch)
        self._stop_sweeping = threading.Event()
        self._sweeper: threading.Thread | None = None
        self.token = uuid.uuid4().hex[:12]
        self.host = socket.gethostname()
        self._app: GitHubApp | None = None
        self._app_lock = threading.Lock()
        self._consumer: Any = None
        self._monitor: threading.Thread | None = None

    # -- the queue ------------------------------------------------------------------------------
    def owner(self) -> str:
        """Who holds a lease: this host, process and queue instance."""
        return f"{self.host}:{os.getpid()}:{self.token}"

    def enqueue(self, request_id: int, delay: float = 0.0) -> None:
        """Put a stored request on the queue, to run in `delay` seconds."""
        if delay > 0:
            self._task.schedule(args=(request_id,), delay=delay)
        else:
            self._task(request_id)

    def enqueue_many(self, items: Sequence[tuple[int, float]], together: bool = True) -> None:
        """Put several stored requests on the queue at once, each (id, delay), in one write to the queue. Requests
        due together travel as one message that a worker fans out when it is due (`dispatch`): the web process
        writes one message per batch of deliveries, the workers the rest. `together=False`: a message each."""
        due: dict[float, list[int]] = {}
        for request_id, delay in items:
            due.setdefault(delay, []).append(request_id)
        messages = []
        for delay, ids in due.items():
            if together and len(ids) > 1:
                tasks = [self._dispatch.s(ids)]
            else:
                tasks = [self._task.s(request_id) for request_id in ids]
            for task in tasks:
                if delay > 0:
                    task.eta = normalize_time(None, delay, self.huey.utc)
                messages.append(self.huey.serialize_task(task))
        _put_all(self.huey.storage, messages)

    def dispatch(self, request_ids: list[int]) -> None:
        """The queue task for requests that came due together: one message each, for any worker to take."""
        self.enqueue_many([(request_id, 0.0) for request_id in request_ids], together=False)

    def enqueue_review(self, request_id: int) -> None:
        """Enqueue with the debounce delay (a burst of events for a PR coalesces into one review)."""
        self.enqueue(request_id, self.settings.review_delay_seconds)

    def ping(self) -> None:
        """Raise unless the queue answers."""
        self.huey.pending_count()

    def sweep(self) -> int:
        """Re-enqueue the requests whose lease expired; how many."""
        due = self.store.due_requests()
        for request in due:
            log.info("re-enqueuing request %s (%s of %s#%s)", request.id, request.state, request.repo, request.number)
            self.enqueue(request.id)
        return len(due)

    def start_sweeper(self) -> None:
        """Every SWEEP_INTERVAL_SECONDS, re-enqueue what a lost message or a dead worker left (each consumer runs
        one; two sweeping at once is harmless: a sweep hands each request a fresh grace period, and a job claims
        its request before doing anything)."""
        self._stop_sweeping.clear()

        def loop() -> None:
            while not self._stop_sweeping.wait(max(0.5, self.settings.sweep_interval_seconds)):
                try:
                    self.sweep()
                except Exception as exc:  # the store or the queue is down: the next sweep tries again
                    log.warning("sweep failed: %s", exc)

        self._sweeper = threading.Thread(target=loop, name="sweeper", daemon=True)
        self._sweeper.start()

    def stop_sweeper(self) -> None:
        """Stop the sweeper thread."""
        self._stop_sweeping.set()
        if self._sweeper is not None:
            self._sweeper.join(timeout=10)
            self._sweeper = None

    def recover(self) -> int:
        """At start-up: release what dead processes of this host held, then enqueue every pending request.

        A request's queue message may have been lost in a crash (between the store's commit and the
        enqueue, or while the queue moved it to its schedule): each pending request is enqueued again,
        due within one debounce delay at most. Duplicates are harmless: a job claims its request first.
        """
        for owner in self.store.owners():
            host, _, rest = owner.partition(":")
            pid_text, _, token = rest.partition(":")
            if host != self.host or not pid_text.isdigit():
                continue
            pid = int(pid_text)
            if (pid == os.getpid() and token != self.token) or (pid != os.getpid() and not pid_alive(pid)):
                log.info("releasing the work of %s, which stopped", owner)
                self.store.expire_owner(owner)
        self.store.due_requests()
        pending = self.store.pending_requests()
        now = time.time()
        for request in pending:
            due = (request.lease_until or now) - self.store.queue_grace - now
            self.enqueue(request.id, max(0.0, min(due, self.settings.review_delay_seconds)))
        return len(pending)

    # -- the consumer ---------------------------------------------------------------------------
    def _make_consumer(self, workers: int) -> Any:
        # SIGTERM (what process managers send) lets running jobs finish for up to 10 s; a job cut short
        # is taken over later anyway, once its lease is over or when this host's next process starts.
        return self.huey.create_consumer(workers=workers, worker_type="thread", periodic=False, max_delay=1.0,
                                         check_worker_health=True, shutdown_timeout=10.0,
                                         graceful_signal="TERM")  # fmt: skip

    def start_consumer(self) -> None:
        """Run the consumer's threads inside this process (the embedded mode of `serve`)."""
        consumer = self._make_consumer(self.settings.embedded_workers())
        consumer._set_signal_handlers = lambda: None  # the web server owns this process's signals
        consumer.start()
        self._consumer = consumer
        self.start_sweeper()

        def watch() -> None:
            stamp: Any = None
            while True:
                try:
                    stamp = consumer.loop(stamp)
                except ConsumerStopped:
                    return

        self._monitor = threading.Thread(target=watch, name="queue-monitor", daemon=True)
        self._monitor.start()

    def stop_consumer(self) -> None:
        """Stop the embedded consumer, letting running jobs finish for a few seconds."""
        self.stop_sweeper()
        if self._consumer is not None:
            self._consumer.stop(graceful=True)
            if self._monitor is not None:
                self._monitor.join(timeout=15)
            self._consumer = None

    def run_worker(self) -> None:
        """`falco-rules-bot worker`: a standalone consumer, until SIGINT or SIGTERM."""
        self.recover()
        self.start_sweeper()
        try:
            self._make_consumer(max(1, self.settings.workers)).run()
        finally:
            self.stop_sweeper()

    # -- GitHub ---------------------------------------------------------------------------------
    def github(self) -> GitHubApp:
        """The process's one GitHubApp (its installation tokens are shared by every job)."""
        with self._app_lock:
            if self._app is None:
                s = self.settings
                key = s.private_key()
                if s.github_app_id is None or not key:
                    raise MissingCredentialsError()
                from bot.github import GitHubApp

                self._app = GitHubApp(s.github_app_id, key, api_url=s.github_api_url, app_slug=s.github_app_slug,
                                      git_url=s.git_url, allowed_git_urls=s.allowed_git_urls(),
                                      mirror_dir=s.mirror_dir(), timeout=s.github_timeout_seconds)  # fmt: skip
            return self._app

    # -- the job --------------------------------------------------------------------------------
    def run(self, request_id: int) -> None:
        """The queue task: claim request `request_id`, then review or read the comment; every log line of the job
        carries its request's context (bot.logs), which ends with it."""
        with logs.context(request_id=request_id):
            self._run(request_id)

    def _run(self, request_id: int) -> None:
        owner = self.owner()
        try:
            request = self.store.claim(request_id, owner, self.settings.review_lease_seconds)
            if request is None:
                return  # done already, or another worker holds it
            logs.bind(request_id=request.id, repo=request.repo, pr=request.number,
                      installation_id=request.installation_id, delivery_id=request.delivery_id)  # fmt: skip
            if request.kind == "comment":
                self._comment(request, owner)
            else:
                self._review_job(request, owner)
        except StoreError as exc:
            metrics.failure("store_down")
            # The store is down: nothing can be claimed, recorded or finished. The request stays as it is, and
            # once its lease is over the sweeper hands it out again (nothing is lost, nothing is said on GitHub).
            log.warning("request %s: the store is unreachable (%s); it will be taken up again", request_id, exc)

    def _comment(self, request: Request, owner: str) -> None:
        from bot.github import GitHubError

        try:
            gh = self.github().client(request.installation_id)
            slug = self.settings.github_app_slug or self.github().slug()
            outcome = handle_comment(request, self.store, gh, slug, self.enqueue_review)
            self._finish(request.id, owner, "done", outcome)
        except GitHubError as exc:
            metrics.failure("github_transient" if exc.transient else "github_permanent")
            if exc.transient and request.attempts < self.settings.review_max_attempts:
                self._retry(request, owner)
            else:
                self._finish(request.id, owner, "failed", _say("reason_github", message=exc))
        except MissingCredentialsError:
            metrics.failure("missing_credentials")
            self._finish(request.id, owner, "failed", _say("reason_no_credentials"))
        except Exception as exc:
            metrics.failure("crash")
            log.exception("comment job %s failed", request.id)
            self._finish(request.id, owner, "failed", _say("reason_crash", error=type(exc).__name__))

    def _finish(self, request_id: int, owner: str, state: str, outcome: str) -> None:
        log.info("request %s: %s (%s)", request_id, state, outcome)
        self.store.finish(request_id, owner, state, outcome)

    def _retry(self, request: Request, owner: str) -> None:
        delay = self.settings.review_retry_delay_seconds * 2 ** max(0, request.attempts - 1)
        log.info("request %s: GitHub failed, retrying in %.0f s", request.id, delay)
        self.store.requeue(request.id, owner, delay)
        self.enqueue(request.id, delay)

    def _review_job(self, request: Request, owner: str) -> None:
        from bot.github import GitHubError

        store, settings = self.store, self.settings
        progress = _Progress()
        if request.attempts > settings.review_max_attempts:
            self._fail(request, owner, _say("reason_attempts", attempts=request.attempts - 1), progress)
            return
        if store.newer_request_exists(request):
            self._finish(request.id, owner, "superseded", "a newer request for this pull request")
            return
        installation = store.installation(request.installation_id)
        if installation is not None and (installation.suspended or installation.deleted):
            self._finish(request.id, owner, "done", "installation suspended or removed")
            return
        if not store.acquire_pr_lock(request.repo, request.number, owner, settings.review_lease_seconds):
            store.requeue(request.id, owner, LOCK_RETRY_SECONDS, undo_attempt=True)
            self.enqueue(request.id, LOCK_RETRY_SECONDS)
            return
        try:
            state, outcome = self._review(request, owner, progress)
            if progress.conclusion is not None:
                metrics.review(progress.conclusion, time.monotonic() - progress.started)
            self._finish(request.id, owner, state, outcome)
        except GitHubError as exc:
            metrics.failure("github_transient" if exc.transient else "github_permanent")
            if exc.transient and request.attempts < settings.review_max_attempts:
                self._retry(request, owner)
            else:
                key = "reason_github_retries" if exc.transient else "reason_github"
                # GitHub does not know the installation, or shows it no such pull request: not the App's to write
                # on (a delivery naming a repository or installation the App does not have), so nothing is posted.
                # A 403 (a permission missing) is the App's own: that failure is reported on the pull request.
                refused = progress.pull is None and exc.status == 404
                self._fail(request, owner, _say(key, message=exc, attempts=request.attempts), progress,
                           publish=not refused)  # fmt: skip
        except MissingCredentialsError:
            metrics.failure("missing_credentials")
            self._fail(request, owner, _say("reason_no_credentials"), progress)
        except StoreError:
            raise  # not the review's fault: it runs again once the store is back (see run)
        except Exception as exc:
            metrics.failure("crash")
            log.exception("review job %s failed", request.id)
            self._fail(request, owner, _say("reason_crash", error=type(exc).__name__), progress)
        finally:
            with contextlib.suppress(StoreError):  # the store is down: the lock expires by itself
                store.release_pr_lock(request.repo, request.number, owner)

    def _review(self, request: Request, owner: str, progress: _Progress) -> tuple[str, str]:
        from bot.checkrun import check_run_output
        from bot.checks.rules import is_rules_file
        from bot.github import CommentData, GitHubError
        from bot.policy import resolve_policy
        from bot.render import render_comment
        from bot.review import review

        store, repo, number = self.store, request.repo, request.number
        gh = self.github().client(request.installation_id)
        pull = progress.pull = gh.pull_request(repo, number)
        if pull.state != "OPEN":
            return "done", f"not reviewed: the pull request is {pull.state.lower()}"
        if request.head_sha and request.head_sha != pull.head_sha and store.has_review(repo, number, pull.head_sha):
            return "superseded", "the head moved on and was reviewed already"
        policy, policy_findings = resolve_policy(pull.policy_text)
        for finding in policy_findings:
            log.info("%s: %s", repo, finding.message)
        if pull.draft and draft_mode(policy) == "skip":
            return "done", "not reviewed: draft"
        inputs = progress.inputs = gh.review_inputs(pull, policy)
        if not inputs.head_current:
            return "superseded", "the head moved during the review"
        snapshot = self._with_signatures(repo, inputs, policy)
        report = review(snapshot, policy)
        for result in report.checks:
            with logs.context(check=result.id):
                log.debug("check %s: %s", result.id, result.status)
        if store.newer_request_exists(request):
            return "superseded", "a newer request for this pull request"
        if not store.renew(request.id, owner, self.settings.review_lease_seconds):
            # This worker stalled past its lease and the request was handed out again: its new holder publishes.
            return "abandoned", "the lease ran out before publishing; another worker took the request over"
        external_id = f"review-{request.id}"
        output = check_run_output(report)
        patterns = policy.get("rules_files.patterns")
        if not any(is_rules_file(f.path, patterns) for f in snapshot.files) and inputs.comment is None:
            # Not a rules contribution: a neutral check run says so, and no comment is posted.
            output = replace(output, conclusion="neutral", title=_say("no_rules_title"))
            reuse = inputs.check_run_id if inputs.check_run_status != "completed" else None
            run_id = gh.publish_check_run(repo, pull.head_sha, output, external_id, reuse)
            store.record_review(ReviewRecord(request.id, repo, number, report.head_sha, report.base_sha, "neutral",
                                             report.to_json(), None, run_id))  # fmt: skip
            progress.conclusion = "neutral"
            return "done", f"no rules file changed in {pull.head_sha[:12]}"
        if inputs.comment is None:
            # GitHub showed the last 100 comments only: the bot's own may be older. The store knows its id.
            known = store.last_comment_id(repo, number)
            if known is not None:
                inputs = replace(inputs, comment=CommentData(known, "", None, "", True))
        link_base = f"{html_base(self.settings.github_api_url)}/{repo}/blob/{pull.head_sha}"
        body = render_comment(report, link_base=link_base, draft=pull.draft)
        published = gh.publish(pull, inputs, body, output, external_id=external_id)
        if request.command_comment_id is not None:
            try:
                gh.react(repo, request.command_comment_id, "rocket")
            except GitHubError as exc:
                log.warning("request %s: could not react to the command: %s", request.id, exc)
        store.record_review(ReviewRecord(request.id, repo, number, report.head_sha, report.base_sha,
                                         report.conclusion, report.to_json(), published.comment_id,
                                         published.check_run_id))  # fmt: skip
        progress.conclusion = report.conclusion
        return "done", f"reviewed {pull.head_sha[:12]}: {report.conclusion}"

    def _with_signatures(self, repo: str, inputs: ReviewInputs, policy: Policy) -> Any:
        """The snapshot, with the agreement signatures recorded for the repository (comment mode)."""
        snapshot = inputs.snapshot
        agreement = policy.check("agreement")
        if agreement["mode"] != "comment":
            return snapshot
        sentence = agreement["comment_sentence"]
        signed = set(self.store.signatures(repo))
        signed |= {c.author.lower() for c in inputs.comments
                   if c.author and not c.by_this_app and is_agreement(c.body, sentence)}  # fmt: skip
        facts = snapshot.agreement_facts
        merged = tuple(sorted({*facts.signed, *signed}))
        return replace(snapshot, agreement_facts=replace(facts, signed=merged))

    def _fail(self, request: Request, owner: str, reason: str, progress: _Progress, publish: bool = True) -> None:
        """Say on the pull request that the review could not finish (never a silent pass), then mark it failed;
        `publish=False`: only mark it (the pull request is not one this installation may write on)."""
        metrics.review("error", time.monotonic() - progress.started)
        head = progress.pull.head_sha if progress.pull else request.head_sha
        if not publish:
            self._finish(request.id, owner, "failed", reason)
            return
        try:
            head = head or self.store.latest_head(request.repo, request.number)
            gh = self.github().client(request.installation_id)
            if head:
                check_run_id = progress.inputs.check_run_id if progress.inputs else None
                gh.publish_failure(request.repo, head, _say("failed_title"),
                                   _say("failed_summary", head=head[:12], reason=reason),
                                   external_id=f"review-{request.id}", check_run_id=check_run_id)  # fmt: skip
            elif request.command_comment_id is not None:
                gh.reply(request.repo, request.number, _say("failed_reply", reason=reason))
        except Exception as exc:  # GitHub itself failing: the store still records the failure
            log.error("request %s: could not report the failure on GitHub: %s", request.id, exc)
        self._finish(request.id, owner, "failed", reason)
