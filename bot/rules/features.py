"""Which condition-language features a rule uses, and the engine version each one needs."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from bot import paths
from bot.rules.ast import And, Check, Expr, Identifier, ListValue, Not, Or, Transformer

FEATURES_PATH = os.path.join(paths.CONFIG, "falco", "engine_features.yml")
Version = tuple[int, int, int]


@cache
def feature_versions() -> dict[str, Any]:
    """The feature table, read once."""
    from bot.rules.yamlsrc import load_data

    with open(FEATURES_PATH, encoding="utf-8") as handle:
        data: dict[str, Any] = load_data(handle)
    return data


def parse_version(text: str) -> Version:
    """`x.y.z` as a tuple."""
    major, minor, patch = (int(p) for p in text.split("."))
    return major, minor, patch


def _operand_features(node: object, out: set[str]) -> None:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, Transformer):
            out.add(f"transformers.{item.name}")
            stack.extend(item.args)
        elif isinstance(item, ListValue):
            stack.extend(item.values)


def features_used(expr: Expr, macros: dict[str, Expr | None], seen: set[str] | None = None) -> set[str]:
    """`transformers.<name>` and `modifiers.<name>` used by a condition, macros included."""
    out: set[str] = set()
    seen = set() if seen is None else seen
    stack: list[Expr] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, (And, Or)):
            stack.extend(node.children)
        elif isinstance(node, Not):
            stack.append(node.child)
        elif isinstance(node, Identifier):
            target = macros.get(node.name)
            if target is not None and node.name not in seen:
                seen.add(node.name)
                stack.append(target)
        elif isinstance(node, Check):
            _operand_features(node.lhs, out)
            _operand_features(node.rhs, out)
            if node.modifier:
                out.add(f"modifiers.{node.modifier}")
    return out


def required_version(features: set[str]) -> tuple[Version | None, str | None]:
    """The highest engine version the features need, and the feature that needs it."""
    table = feature_versions()
    best: tuple[Version | None, str | None] = (None, None)
    for feature in features:
        group, name = feature.split(".", 1)
        text = table.get(group, {}).get(name)
        if text is None:
            continue
        version = parse_version(text)
        if best[0] is None or version > best[0]:
            best = (version, feature)
    return best
