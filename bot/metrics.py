"""Prometheus metrics of `serve` and `worker`: the only module importing prometheus_client (docs/operations.md)."""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client import start_http_server as _start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric

if TYPE_CHECKING:
    from bot.jobs import Jobs
    from bot.store import Store

log = logging.getLogger("falco-rules-bot.metrics")

# The events GitHub sends an App that this one may meet; any other name is counted as "other" (the header is the
# sender's word: an unbounded set of label values would grow the process's memory without limit).
KNOWN_EVENTS = frozenset({
    "ping", "pull_request", "issue_comment", "check_run", "check_suite", "installation", "installation_repositories",
    "installation_target", "github_app_authorization", "push", "pull_request_review", "pull_request_review_comment",
    "pull_request_review_thread", "issues", "meta", "repository", "member", "organization", "status", "create",
    "delete", "label", "public", "release", "workflow_run", "workflow_job", "security_advisory",
})  # fmt: skip
FAILURE_KINDS = ("github_transient", "github_permanent", "crash", "store_down", "missing_credentials")
RATE_RESOURCES = frozenset({
    "core", "graphql", "search", "code_search", "integration_manifest", "source_import", "code_scanning_upload",
    "actions_runner_registration", "scim", "dependency_snapshots",
})  # fmt: skip
DURATION_BUCKETS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)

DELIVERIES = Counter("falco_rules_bot_deliveries", "Webhook deliveries received, by event and the status answered.",
                     ["event", "status"])  # fmt: skip
REVIEWS = Counter("falco_rules_bot_reviews", "Reviews finished, by conclusion (error: the review could not finish).",
                  ["conclusion"])  # fmt: skip
REVIEW_SECONDS = Histogram("falco_rules_bot_review_duration_seconds",
                           "How long a review took, from its start to its publication, by conclusion.",
                           ["conclusion"], buckets=DURATION_BUCKETS)  # fmt: skip
GITHUB_CALLS = Counter("falco_rules_bot_github_requests",
                       "GitHub API requests, by method, route and status answered (error: no answer at all).",
                       ["method", "route", "status"])  # fmt: skip
RATE_REMAINING = Gauge("falco_rules_bot_github_rate_limit_remaining",
                       "Requests left in GitHub's rate limit window (x-ratelimit-remaining of the last answer), by "
                       "resource.", ["resource"])  # fmt: skip
FAILURES = Counter("falco_rules_bot_failures", "Failures of jobs and of the intake, by kind.", ["kind"])

_children: dict[tuple[Any, ...], Any] = {}
_children_lock = threading.Lock()


def _child(metric: Any, *labels: str) -> Any:
    """The labelled child of `metric` (made once per label set, then found in a dict)."""
    key = (metric, *labels)
    found = _children.get(key)
    if found is None:
        with _children_lock:
            found = _children[key] = metric.labels(*labels)
    return found


def delivery(event: str | None, status: int) -> None:
    """One webhook delivery answered `status` (the intake's hot path: a dict look-up and an increment)."""
    label = event if event in KNOWN_EVENTS else ("none" if event is None else "other")
    key = (DELIVERIES, label, status)
    found = _children.get(key)
    if found is None:
        with _children_lock:
            found = _children[key] = DELIVERIES.labels(label, str(status))
    found.inc()


def review(conclusion: str, seconds: float) -> None:
    """A review finished with `conclusion` after `seconds`."""
    _child(REVIEWS, conclusion).inc()
    _child(REVIEW_SECONDS, conclusion).observe(seconds)


def failure(kind: str) -> None:
    """A failure of one of FAILURE_KINDS."""
    _child(FAILURES, kind).inc()


def github_call(method: str, route: str, status: int | None, headers: dict[str, Any] | None = None) -> None:
    """One GitHub API request and what it answered (`status` None: no answer); the rate limit left, when said."""
    _child(GITHUB_CALLS, method, route, "error" if status is None else str(status)).inc()
    if headers:
        remaining = headers.get("x-ratelimit-remaining")
        if remaining is not None and str(remaining).strip().isdigit():
            resource = str(headers.get("x-ratelimit-resource") or "core")
            _child(RATE_REMAINING, resource if resource in RATE_RESOURCES else "other").set(int(str(remaining)))


def route_of(path: str) -> str:
    """A request path as a route template with few values: `/repos/{owner}/{repo}/issues/{id}/comments`."""
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    out: list[str] = []
    after = {"repos": ("{owner}", "{repo}"), "users": ("{login}",), "collaborators": ("{login}",),
             "commits": ("{ref}",), "app-manifests": ("{code}",), "orgs": ("{org}",)}  # fmt: skip
    i = 0
    while i < len(parts):
        part = parts[i]
        if part.isdigit():
            out.append("{id}")
        elif len(part) > 40 or not all(c.islower() or c in "-_" for c in part):
            out.append("{x}")
        else:
            out.append(part)
        names = after.get(part, ())
        for j, name in enumerate(names, start=1):
            if i + j < len(parts):
                out.append(name)
        i += 1 + len(names)
    return "/" + "/".join(out)


# -- queue depth, read at scrape time ----------------------------------------------------------------------------
class _QueueCollector:
    """The queue's messages (Huey: pending, scheduled) and the store's active requests (queued, running)."""

    def __init__(self) -> None:
        self.store: Store | None = None
        self.jobs: Jobs | None = None

    def collect(self) -> Iterable[Metric]:
        store, jobs = self.store, self.jobs
        if jobs is not None:
            messages = GaugeMetricFamily("falco_rules_bot_queue_messages",
                                         "Messages in the task queue (Huey): pending now, or scheduled for later.",
                                         labels=["state"])  # fmt: skip
            try:
                messages.add_metric(["pending"], float(jobs.huey.pending_count()))
                messages.add_metric(["scheduled"], float(jobs.huey.scheduled_count()))
                yield messages
            except Exception as exc:  # a scrape never fails because the queue is down: its gauge is left out
                log.warning("queue depth unknown: %s", exc)
        if store is not None:
            requests = GaugeMetricFamily("falco_rules_bot_queue_requests",
                                         "Jobs in the store not finished yet: queued or running.",
                                         labels=["state"])  # fmt: skip
            try:
                counts = store.request_counts()
            except Exception as exc:
                log.warning("stored jobs unknown: %s", exc)
            else:
                for state in ("queued", "running"):
                    requests.add_metric([state], float(counts.get(state, 0)))
                yield requests

    def describe(self) -> Iterator[Metric]:
        return iter(())  # nothing known before a scrape: not checked against the registry's names


_queue = _QueueCollector()
REGISTRY.register(_queue)


def watch(store: Store, jobs: Jobs) -> None:
    """Report the depth of this store's and this queue's work at every scrape (the last ones given win)."""
    _queue.store, _queue.jobs = store, jobs


# -- exposition --------------------------------------------------------------------------------------------------
def exposition() -> tuple[bytes, str]:
    """Every metric of this process in Prometheus' text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def authorized(authorization: str | None, tokens: str | None) -> bool:
    """Whether a request may read /metrics: anyone when no METRICS_TOKEN is set, else its bearer (a comma list while
    rotating)."""
    wanted = [t.strip() for t in (tokens or "").split(",") if t.strip()]
    if not wanted:
        return True
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return False
    presented = given.strip().encode()
    return any(hmac.compare_digest(presented, t.encode()) for t in wanted)


def serve(host: str, port: int) -> None:
    """Serve /metrics on HOST:PORT from a thread of this process (`worker` with METRICS_PORT); SettingsError when the
    address cannot be listened on."""
    from bot.settings import SettingsError

    try:
        _start_http_server(port, addr=host)
    except OSError as exc:
        raise SettingsError(f"METRICS_PORT: {host}:{port}: {exc.strerror or exc}") from exc
