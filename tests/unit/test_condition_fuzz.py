"""Property tests: the parsers fail only with ConditionSyntaxError, and the fast path agrees with the exact one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import bot.rules.condition as condition
from bot.rules.ast import Expr, FieldRef, Operand, Transformer
from bot.rules.condition import format_expr, parse_condition, parse_operand
from bot.rules.errors import ConditionSyntaxError
from bot.rules.output import parse_output

UPSTREAM = Path(__file__).parent.parent / "data" / "corpus" / "valid"
UPSTREAM_FILES = [
    "rules-falco-rules-5.1.0-falco_rules.yaml",
    "rules-falco-incubating-rules-6.0.1-falco-incubating_rules.yaml",
    "rules-falco-sandbox-rules-6.1.0-falco-sandbox_rules.yaml",
]

# Pieces of conditions, near misses included, glued together at random.
VOCABULARY = [
    "a", "proc.name", "fd.name", "evt.type", "proc.aname[2]", "x.y['q']", "k.v[\"a b\"]", "a.b.c",
    "not", "not ", "not(", "notx", "and", "or", " and ", " or ", "andx", "(", ")", "[", "]", ",",
    "=", "==", "!=", "<", "<=", ">", ">=", "exists", "in", "intersects", "pmatch", "glob", "iglob",
    "contains", "icontains", "bcontains", "startswith ", "bstartswith", "endswith", "regex",
    "oneof", "anyof ", "allof", "tolower(", "toupper(", "b64(", "basename(", "len(", "join(",
    "concat(", "getopt(", "val(", " ", "  ", "\n", "\t", "\x08", "\r", "\x0b", "\x00",
    "'x'", '"y z"', '"a\\q"', "'b\\'c'", '"\\\\"', '"\\t"', "1", "0x1F", "-2.5e+3", "1a",
    "bash", "/etc/", "*.log", "in (a, b)", "(a,b)", "= bash", " in (open, 'x y')", "%", "%20",
]  # fmt: skip
grammar_text = st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=14).map("".join)
any_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
FUZZ = settings(deadline=None, max_examples=200)


@contextmanager
def exact_path_only() -> Iterator[None]:
    condition._USE_FAST_PATH = False
    try:
        yield
    finally:
        condition._USE_FAST_PATH = True


def outcome(text: str) -> Expr | tuple[str, object]:
    try:
        return parse_condition(text)
    except ConditionSyntaxError as error:
        return error.message, error.pos


def compile_known_fields(operand: Operand) -> str | None:
    stack: list[object] = [operand]
    while stack:
        node = stack.pop()
        if isinstance(node, FieldRef) and node.name not in {"proc.name", "fd.name", "evt.type"}:
            return f"filter_check called with nonexistent field {node.name}"
        if isinstance(node, Transformer):
            stack.extend(node.args)
    return None


@FUZZ
@given(st.one_of(any_text, grammar_text))
def test_conditions_fail_only_with_syntax_errors(text: str) -> None:
    try:
        expr = parse_condition(text)
    except ConditionSyntaxError:
        return
    format_expr(expr)


@FUZZ
@given(grammar_text)
def test_fast_path_agrees_with_exact_path(text: str) -> None:
    fast = outcome(text)
    with exact_path_only():
        assert outcome(text) == fast


@FUZZ
@given(st.one_of(any_text, grammar_text), st.integers(min_value=0, max_value=45))
def test_operands_fail_only_with_syntax_errors(text: str, start: int) -> None:
    try:
        _, end = parse_operand(text, min(start, len(text)))
    except ConditionSyntaxError:
        return
    assert start <= end <= len(text)


@FUZZ
@given(st.one_of(any_text, grammar_text))
def test_outputs_fail_only_with_syntax_errors(text: str) -> None:
    try:
        tokens = parse_output(text, compile_known_fields)
    except ConditionSyntaxError:
        return
    # The tokens cover the format after any leading "*", in order and without gaps.
    at = 1 if text.startswith("*") else 0
    for token in tokens:
        assert token.pos == at
        if token.operand is None:
            assert text.startswith(token.text, at) and "%" not in token.text
            at += len(token.text)
        else:
            digits = len(text[at + 1 :]) - len(text[at + 1 :].lstrip("0123456789"))
            assert text[at] == "%" and text.startswith(token.text, at + 1 + digits)
            at += 1 + digits + len(token.text)
    assert at == len(text)


@pytest.mark.parametrize("name", UPSTREAM_FILES)
def test_fast_path_agrees_with_exact_path_on_upstream_rules(name: str) -> None:
    items = yaml.safe_load((UPSTREAM / name).read_text())
    conditions = [item["condition"] for item in items if isinstance(item.get("condition"), str)]
    fast = [outcome(text) for text in conditions]
    with exact_path_only():
        assert [outcome(text) for text in conditions] == fast
    assert all(not isinstance(result, tuple) for result in fast)
