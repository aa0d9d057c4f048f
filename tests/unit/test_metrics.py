"""bot.metrics' pure parts: route templates with few values, label values bounded, and who may read /metrics."""

from __future__ import annotations

from bot import metrics


def test_routes_keep_their_shape_and_lose_their_values() -> None:
    cases = {
        "/repos/falco9/rules/issues/12/comments": "/repos/{owner}/{repo}/issues/{id}/comments",
        "/repos/Falco-Org/My.Rules/check-runs/77": "/repos/{owner}/{repo}/check-runs/{id}",
        "/repos/o/r/commits/0123abcd/check-runs?per_page=100": "/repos/{owner}/{repo}/commits/{ref}/check-runs",
        "/repos/o/r/collaborators/Alice/permission": "/repos/{owner}/{repo}/collaborators/{login}/permission",
        "/users/alice/gpg_keys": "/users/{login}/gpg_keys",
        "/app/installations/5/access_tokens": "/app/installations/{id}/access_tokens",
        "/app": "/app",
        "/something/UPPER/" + "x" * 50: "/something/{x}/{x}",
    }
    for path, route in cases.items():
        assert metrics.route_of(path) == route, path


def _sample(name: str, **labels: str) -> float:
    for family in metrics.REGISTRY.collect():
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


def test_event_names_outside_githubs_are_one_label() -> None:
    before = _sample("falco_rules_bot_deliveries_total", event="other", status="401")
    for n in range(50):
        metrics.delivery(f"invented-{n}", 401)
    metrics.delivery(None, 400)
    assert _sample("falco_rules_bot_deliveries_total", event="other", status="401") == before + 50
    assert _sample("falco_rules_bot_deliveries_total", event="none", status="400") >= 1
    labels = {s.labels["event"] for f in metrics.REGISTRY.collect() for s in f.samples
              if s.name == "falco_rules_bot_deliveries_total"}  # fmt: skip
    assert not any(label.startswith("invented") for label in labels)


def test_github_calls_and_the_rate_limit_left() -> None:
    metrics.github_call("GET", "/users/{login}/gpg_keys", 200, {"x-ratelimit-remaining": "4999",
                                                                "x-ratelimit-resource": "core"})  # fmt: skip
    metrics.github_call("POST", "/graphql", None)
    assert _sample("falco_rules_bot_github_rate_limit_remaining", resource="core") == 4999
    assert _sample("falco_rules_bot_github_requests_total", method="POST", route="/graphql", status="error") >= 1


def test_who_may_read_the_metrics() -> None:
    assert metrics.authorized(None, None) and metrics.authorized("Bearer anything", "")
    assert metrics.authorized("Bearer s3cret", "s3cret") and metrics.authorized("bearer new", "old, new")
    for header in (None, "", "Bearer", "Bearer wrong", "s3cret", "Basic s3cret", "Bearer s3cret2"):
        assert not metrics.authorized(header, "s3cret"), header
