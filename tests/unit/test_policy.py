"""The repository policy: defaults, a repository's overrides merged over them, and bad overrides reported."""

from __future__ import annotations

import pytest

from bot.policy import defaults, resolve_policy


def test_defaults_document_every_check() -> None:
    checks = defaults()["checks"]
    assert set(checks) == {"linked_issue", "dco", "signatures", "agreement", "rules", "tags"}
    for settings in checks.values():
        assert {"enabled", "severity"} <= set(settings)
    policy, findings = resolve_policy(None)
    assert findings == []
    assert policy.get("rules_files.patterns") == ["**/*_rules.yaml", "rules/**/*.yaml"]
    assert policy.get("rules_files.load_order")[0] == "falco_rules.yaml"


def test_maps_merge_and_lists_replace() -> None:
    policy, findings = resolve_policy(
        "checks:\n  dco:\n    mode: presence\n  linked_issue:\n    required_labels: [kind/feature]\n"
        "rules_files:\n  patterns: ['rules/*.yaml']\n"
    )
    assert findings == []
    assert policy.get("checks.dco.mode") == "presence"
    assert policy.get("checks.dco.enabled") is True  # untouched keys keep their defaults
    assert policy.get("checks.linked_issue.required_labels") == ["kind/feature"]
    assert policy.get("rules_files.patterns") == ["rules/*.yaml"]
    assert policy.get("rules_files.load_order") == defaults()["rules_files"]["load_order"]


@pytest.mark.parametrize(
    ("text", "code", "key"),
    [
        ("checks:\n  dcoo:\n    enabled: false\n", "POLICY_UNKNOWN_KEY", "checks.dcoo"),
        ("checks:\n  dco:\n    enabled: maybe\n", "POLICY_WRONG_TYPE", "checks.dco.enabled"),
        ("checks:\n  dco: off\n", "POLICY_WRONG_TYPE", "checks.dco"),
        ("checks:\n  rules:\n    plugins: k8saudit\n", "POLICY_WRONG_TYPE", "checks.rules.plugins"),
        ("checks:\n  rules:\n    plugins: [1, 2]\n", "POLICY_WRONG_TYPE", "checks.rules.plugins"),
        ("checks:\n  dco:\n    mode: strict\n", "POLICY_BAD_VALUE", "checks.dco.mode"),
        ("checks:\n  signatures:\n    severity: fatal\n", "POLICY_BAD_VALUE", "checks.signatures.severity"),
    ],
)
def test_bad_overrides_are_named_and_ignored(text: str, code: str, key: str) -> None:
    policy, findings = resolve_policy(text)
    assert [f.code for f in findings] == [code]
    assert f"`{key}`" in findings[0].message
    assert findings[0].file == ".github/falco-rules-bot.yml"
    assert policy.get("checks.dco.enabled") is True
    assert policy.get("checks.dco.mode") == "identity"


@pytest.mark.parametrize(
    ("text", "code"),
    [("checks: [\n", "POLICY_NOT_YAML"), ("- a\n- b\n", "POLICY_NOT_A_MAP"), ("just words", "POLICY_NOT_A_MAP")],
)
def test_unreadable_config_falls_back_to_the_defaults(text: str, code: str) -> None:
    policy, findings = resolve_policy(text)
    assert [f.code for f in findings] == [code]
    assert policy.data == defaults()


def test_empty_config_is_the_defaults() -> None:
    assert resolve_policy("# nothing yet\n") == (resolve_policy(None)[0], [])


def test_words_yaml_reads_as_other_types_are_taken_as_written() -> None:
    policy, findings = resolve_policy("attack:\n  version: 18.1\nchecks:\n  tags:\n    new_stable: off\n")
    assert findings == []
    assert (policy.get("attack.version"), policy.get("checks.tags.new_stable")) == ("18.1", "off")
    _, findings = resolve_policy("checks:\n  tags:\n    desc: on\n")
    assert [f.code for f in findings] == ["POLICY_WRONG_TYPE"]
