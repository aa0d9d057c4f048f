"""A repository's policy: config/defaults.yml with the repository's .github/falco-rules-bot.yml merged over it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import Any

from bot import paths
from bot.models import Finding
from bot.render import phrases
from bot.rules.yamlsrc import DataError, load_data

DEFAULTS_PATH = os.path.join(paths.CONFIG, "defaults.yml")

# The kinds of finding of the `tags` check, each a key of checks.tags set to error, warning, notice or off.
TAG_KINDS = ("misspelled_key", "maturity", "new_stable", "workload", "duplicate", "tactic_missing", "tactic_unknown",
             "previous_version", "id_unknown", "id_retired", "tactic_mismatch", "tactic_unsupported", "compliance",
             "pci_version", "rule_name", "desc", "priority")  # fmt: skip
# Keys whose value must be one of a few words.
CHOICES: dict[str, tuple[str, ...]] = {
    "checks.*.severity": ("error", "warning"),
    "checks.dco.mode": ("identity", "email-only", "presence"),
    "checks.signatures.require": ("gpg", "any", "none"),
    "checks.agreement.mode": ("status", "comment", "allowlist", "dco"),
    "attack.version": ("19", "18.1"),
    **{f"checks.tags.{kind}": ("error", "warning", "notice", "off") for kind in TAG_KINDS},
}
TYPE_NAMES = {bool: "true or false", int: "a number", str: "a string", list: "a list", dict: "a mapping"}


@cache
def defaults() -> dict[str, Any]:
    """config/defaults.yml, read once."""
    with open(DEFAULTS_PATH, encoding="utf-8") as handle:
        data = load_data(handle)
    assert isinstance(data, dict)
    return data


@dataclass(frozen=True)
class Policy:
    """The merged policy, read by dotted key (`checks.dco.mode`)."""

    data: dict[str, Any]

    def get(self, dotted: str) -> Any:
        """The value at a dotted key (KeyError when the defaults have no such key)."""
        node: Any = self.data
        for part in dotted.split("."):
            node = node[part]
        return node

    def check(self, check_id: str) -> dict[str, Any]:
        """One check's settings."""
        value = self.get(f"checks.{check_id}")
        assert isinstance(value, dict)
        return value


def _finding(phrase: str, **values: Any) -> Finding:
    text = phrases("policy.yml")
    message = text[phrase].format(**values)
    return Finding("warning", f"POLICY_{phrase.upper()}", message, text["hint"], file=".github/falco-rules-bot.yml")


def choices_for(dotted: str) -> tuple[str, ...] | None:
    """The values a policy key accepts, when it restricts them (`checks.dco.mode`, `checks.*.severity`)."""
    if dotted in CHOICES:
        return CHOICES[dotted]
    parts = dotted.split(".")
    if len(parts) == 3 and parts[0] == "checks":
        return CHOICES.get(f"checks.*.{parts[2]}")
    return None


def _merge(base: dict[str, Any], override: dict[str, Any], prefix: str, out: list[Finding]) -> dict[str, Any]:
    """Maps merge key by key and lists replace; unknown keys and wrong types are reported and skipped."""
    merged = dict(base)
    for key, value in override.items():
        dotted = f"{prefix}{key}"
        if key not in base:
            out.append(_finding("unknown_key", key=dotted))
            continue
        default = base[key]
        if isinstance(default, dict):
            if isinstance(value, dict):
                merged[key] = _merge(default, value, dotted + ".", out)
            else:
                out.append(_wrong_type(dotted, default, value))
            continue
        value = _as_written(dotted, default, value)
        if type(value) is not type(default) or (isinstance(value, list) and not all(isinstance(v, str) for v in value)):
            out.append(_wrong_type(dotted, default, value))
            continue
        allowed = choices_for(dotted)
        if allowed is not None and value not in allowed:
            out.append(_finding("bad_value", key=dotted, allowed=", ".join(allowed), value=value, default=default))
            continue
        merged[key] = value
    return merged


def _as_written(dotted: str, default: Any, value: Any) -> Any:
    """A word YAML read as something else, back to the word: a bare `off` (YAML 1.1 says false) or `19` (a number)."""
    allowed = choices_for(dotted)
    if not isinstance(default, str) or allowed is None or isinstance(value, str):
        return value
    if value is False and "off" in allowed:
        return "off"
    if isinstance(value, int | float) and not isinstance(value, bool) and str(value) in allowed:
        return str(value)
    return value


def _wrong_type(dotted: str, default: Any, value: Any) -> Finding:
    expected = TYPE_NAMES.get(type(default), type(default).__name__)
    if isinstance(default, list):
        expected = "a list of strings"
    actual = TYPE_NAMES.get(type(value), type(value).__name__) if value is not None else "empty"
    return _finding("wrong_type", key=dotted, expected=expected, actual=actual, default=default)


def resolve_policy(repo_config: str | None) -> tuple[Policy, list[Finding]]:
    """The policy for a repository from the text of its .github/falco-rules-bot.yml (None: not present)."""
    findings: list[Finding] = []
    base = defaults()
    if not repo_config or not repo_config.strip():
        return Policy(base), findings
    try:
        data = load_data(repo_config)
    except DataError as exc:
        problem = str(getattr(exc, "problem", None) or exc).splitlines()[0]
        return Policy(base), [_finding("not_yaml", problem=problem)]
    if data is None:
        return Policy(base), findings
    if not isinstance(data, dict):
        return Policy(base), [_finding("not_a_map")]
    return Policy(_merge(base, data, "", findings)), findings
