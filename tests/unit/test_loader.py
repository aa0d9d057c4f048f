"""Falco's loader rules, table by table: items, keys, types, versions, overrides, exceptions."""

from __future__ import annotations

import gc
import threading

import pytest

from bot.rules.engine import EngineOptions, RulesFile, load_like_falco, validate

RULE = "- rule: R\n  desc: d.\n  condition: evt.type = open\n  output: x\n  priority: {priority}\n"


def falco(text: str, **options: object) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    (result,) = load_like_falco([RulesFile("f.yaml", text)], EngineOptions(**options))  # type: ignore[arg-type]
    return [(d.code, d.message) for d in result.errors], [(d.code, d.message) for d in result.warnings]


ERRORS = [
    ("- 1\n", "Unexpected element type. Each element should be a yaml associative array."),
    ("just text\n", "Rules content is not yaml"),
    ("a: b\n", "Rules content is not yaml array of objects"),
    ("- rule: R\n  desc: d.\n  condition: evt.type = open\n  output: x\n", "Item has no mapping for key 'priority'"),
    ("- rule:\n", "Mapping for key 'rule' is empty"),
    ('- rule: ""\n', "Value must be non-empty"),
    ("- rule: [a]\n", "Value is not a scalar value"),
    ("- list: l\n  items: a\n", "Value is not a sequence"),
    ("- list: l\n  items: [[a]]\n", "sequence value is not scalar"),
    (RULE.format(priority="LOUD"), "Invalid priority"),
    (RULE.format(priority="INFO") + "  enabled: maybe\n", "Can't decode YAML scalar value"),
    (RULE.format(priority="INFO") + "  capture_duration: soon\n", "Can't decode YAML scalar value"),
    (
        "- required_engine_version: seven\n",
        "Unable to parse engine version 'seven' as a semver string. Expected \"x.y.z\" semver format.",
    ),
    ("- required_engine_version: 63\n", "Rules require engine version 0.63.0, but engine version is 0.62.0"),
    ("- required_engine_version: 1.0.0\n", "Rules require engine version 1.0.0, but engine version is 0.62.0"),
    ("- required_plugin_versions: container\n", "Value of required_plugin_versions must be a sequence"),
    ("- required_plugin_versions: [x]\n", "Plugin version must be a mapping"),
    (
        "- required_plugin_versions:\n  - name: k8saudit\n    version: 1.0\n",
        "Invalid required version '1.0' for plugin 'k8saudit'",
    ),
    (
        "- required_plugin_versions:\n  - name: k8saudit\n    version: 0.1.0\n"
        "    alternatives:\n    - name: k8saudit\n      version: 0.2.0\n",
        "Defined multiple alternative version requirements for plugin 'k8saudit'",
    ),
    (
        "- required_plugin_versions:\n  - name: k8saudit\n    version: 0.1.0\n    alternatives: k8saudit-eks\n",
        "Value of plugin version alternatives must be a sequence",
    ),
    ("- macro: m\n  condition: evt.type = open\n  override:\n    condition: prepend\n",
     "Invalid override operation for key 'condition': 'prepend'. Allowed values are: append replace "),
    (RULE.format(priority="INFO") + "- rule: R\n  priority: INFO\n  override:\n    priority: append\n",
     "Key 'priority' cannot be appended to, use 'replace' instead"),
    (RULE.format(priority="INFO") + "- rule: R\n  source: syscall\n  override:\n    source: replace\n",
     "Key 'source' cannot be replaced"),
    (RULE.format(priority="INFO") + "- rule: R\n  desc: x.\n  priority: INFO\n  override:\n    desc: replace\n",
     "Unexpected key 'priority': no corresponding entry under 'override' is defined."),
    (RULE.format(priority="INFO") + "- rule: R\n  override:\n    enabled: replace\n",
     "An replace override for 'enabled' was specified but 'enabled' is not defined"),
    ("- rule: R\n  enabled: false\n", "Rule has 'enabled' key but no rule by that name already exists"),
    ("- list: l\n  items: [a]\n  append: true\n", "List uses 'append' or 'override.items: append' but no list by "
     "that name already exists"),
    (RULE.format(priority="INFO") + "- rule: R\n  condition: and proc.name = x\n  append: true\n"
     "  override:\n    condition: append\n", "Keys 'override' and 'append: true' cannot be used together. Add an "
     "'append' entry (e.g. 'condition: append') under 'override' instead."),
    (RULE.format(priority="INFO") + "  exceptions: x\n", "Rule exceptions must be a sequence"),
    (RULE.format(priority="INFO") + "  exceptions: [x]\n", "Rule exception must be a mapping"),
    (RULE.format(priority="INFO") + "  exceptions:\n  - name: e\n    fields: [proc.name]\n    comps: [=, =]\n",
     "Fields and comps lists must have equal length"),
    (RULE.format(priority="INFO") + "  exceptions:\n  - name: e\n    fields: proc.name\n    comps: startswith\n",
     "When fields is a single value, comps must be one of (in, pmatch, intersects) or a modifier operator "
     "(e.g. startswith oneof)"),
    (RULE.format(priority="INFO") + "  exceptions:\n  - name: e\n    fields: [proc.nope]\n",
     "'proc.nope' is not a supported filter field"),
    (RULE.format(priority="INFO") + "  exceptions:\n  - name: e\n    fields: [proc.name]\n    comps: [in oneof]\n",
     "'in oneof' is not a supported comparison operator"),
    ("- macro: a\n  condition: b\n- macro: b\n  condition: evt.type = open\n- rule: R\n  desc: d.\n"
     "  condition: a\n  output: x\n  priority: INFO\n", "Undefined macro 'b' used in filter."),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), ERRORS, ids=[m[:50] for _, m in ERRORS])
def test_first_error(text: str, message: str) -> None:
    errors, _ = falco(text)
    assert errors and errors[0][1] == message


WARNINGS = [
    ("- plugins: []\n", ("LOAD_UNKNOWN_ITEM", "Unknown top level item")),
    (RULE.format(priority="INFO") + "  tag: [x]\n",
     ("LOAD_UNKNOWN_KEY", "Unknown key 'tag'. The key will be ignored.")),
    ("- list: 'bad list'\n  items: []\n", ("LOAD_INVALID_LIST_NAME",
     "List has an invalid name. List names should match a regular expression: ([^()\"'[:space:]=,]+)")),
    ("- macro: bad-macro\n  condition: evt.type = open\n", ("LOAD_INVALID_MACRO_NAME", "Macro has an invalid name. "
     "Macro names should match a regular expression: ([a-zA-Z]+[a-zA-Z0-9_]*)")),
    (RULE.format(priority="INFO") + "- rule: R\n  condition: and proc.name = x\n  append: true\n",
     ("LOAD_DEPRECATED_ITEM", "'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') under "
      "'override' instead.")),
    (RULE.format(priority="INFO") + "  source: nomad\n", ("LOAD_UNKNOWN_SOURCE", "Unknown source nomad, skipping")),
    (RULE.format(priority="INFO").replace("evt.type = open", "proc.name = x"),
     ("LOAD_NO_EVTTYPE", "Rule matches too many evt.type values. This has a significant performance penalty.")),
    (RULE.format(priority="INFO").replace("evt.type = open", "not evt.type = open"),
     ("LOAD_NO_EVTTYPE", "Rule matches too many evt.type values. This has a significant performance penalty.")),
    (RULE.format(priority="INFO").replace("output: x", "output: x %container.info"),
     ("LOAD_DEPRECATED_ITEM", "%container.info is deprecated and no more useful, and will be dropped by Falco 1.0.0. "
      "The container plugin will automatically add required fields to the output message.")),
    (RULE.format(priority="INFO") + "- macro: spare\n  condition: evt.type = close\n",
     ("LOAD_UNUSED_MACRO", "Macro not referred to by any other rule/macro")),
]  # fmt: skip


@pytest.mark.parametrize(("text", "warning"), WARNINGS, ids=[w[0] for _, w in WARNINGS])
def test_warning(text: str, warning: tuple[str, str]) -> None:
    errors, warnings = falco(text)
    assert errors == []
    assert warning in warnings


@pytest.mark.parametrize(
    "priority", ["EMERGENCY", "alert", "Critical", "error", "WARNING", "notice", "info", "Informational", "DEBUG"]
)
def test_priorities_are_case_insensitive_with_the_info_alias(priority: str) -> None:
    assert falco(RULE.format(priority=priority)) == ([], [])


@pytest.mark.parametrize(("version", "ok"), [("26", True), ("0.62.0", True), ("0.62.1", False), ("0x10", True)])
def test_engine_version_forms(version: str, ok: bool) -> None:
    errors, _ = falco(f"- required_engine_version: {version}\n")
    assert (errors == []) is ok


def test_engine_version_is_a_setting() -> None:
    errors, _ = falco("- required_engine_version: 0.63.0\n", engine_version=(0, 63, 0))
    assert errors == []


@pytest.mark.parametrize("word", ["yes", "No", "TRUE", "off", "y"])
def test_yaml_cpp_booleans(word: str) -> None:
    assert falco(RULE.format(priority="INFO") + f"  enabled: {word}\n")[0] == []


def test_required_plugin_alternatives_load_their_fields() -> None:
    text = (
        "- required_plugin_versions:\n  - name: k8saudit\n    version: 0.7.0\n    alternatives:\n"
        "    - name: k8saudit-eks\n      version: 0.1.0\n"
        "- rule: R\n  desc: d.\n  condition: ka.verb = get\n  output: x %ka.user.name\n  priority: INFO\n"
        "  source: k8s_audit\n"
    )
    assert falco(text) == ([], [])


def test_override_replace_and_append_per_key() -> None:
    text = RULE.format(priority="INFO") + (
        "- rule: R\n  condition: and proc.name = cat\n  output: (more)\n  priority: ERROR\n"
        "  override:\n    condition: append\n    output: append\n    priority: replace\n"
    )
    assert falco(text) == ([], [])


def test_beside_other_threads_the_engine_leaves_the_collectors_generations_alone() -> None:
    # `serve` freezes what its start-up built, so that full collections skip it; a review run by a thread of the
    # same process must not thaw it (nor move the other threads' young objects out of the collector's accounting).
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    kept = [{"start-up": i} for i in range(1000)]
    gc.collect()
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert frozen >= len(kept)
        validate([RulesFile("r.yaml", "- macro: m\n  condition: evt.type = open\n")])
        assert gc.get_freeze_count() == frozen and gc.isenabled()
    finally:
        gc.unfreeze()
        release.set()
        other.join()
