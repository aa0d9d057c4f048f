"""Table tests for the output-format tokenizer against libsinsp's set_format (libs 0.25)."""

from __future__ import annotations

import pytest

from bot.rules.ast import FieldRef, Operand, Pos, Transformer
from bot.rules.errors import ConditionSyntaxError, FieldError
from bot.rules.output import OutputToken, parse_output

FIELDS = {"proc.name", "proc.aname", "proc.args", "fd.name", "evt.type", "evt.dir"}
UNKNOWN = "unknown filter: unexpected token after '"


def compile_operand(operand: Operand) -> str | None:
    """A stand-in for the engine's compiler: these fields exist, transformers take no [arg]."""
    if isinstance(operand, FieldRef):
        return None if operand.name in FIELDS else f"filter_check called with nonexistent field {operand.name}"
    if operand.arg is not None:
        return f"filter error: transformer '{operand.name}' does not support field arguments"
    for arg in operand.args:
        if isinstance(arg, FieldRef | Transformer) and (problem := compile_operand(arg)) is not None:
            return problem
    return None


def shape(fmt: str) -> list[tuple[str, str, int, int]]:
    """Each token as (kind, text, width, pos), kind being "text" or the operand's class name."""
    tokens = parse_output(fmt, compile_operand)
    return [(type(t.operand).__name__ if t.operand else "text", t.text, t.width, t.pos) for t in tokens]


def field(text: str, pos: int, width: int = 0) -> tuple[str, str, int, int]:
    return ("FieldRef", text, width, pos)


def text(value: str, pos: int) -> tuple[str, str, int, int]:
    return ("text", value, 0, pos)


ACCEPTED = [
    ("x", [text("x", 0)]),
    ("*", []),
    ("**x", [text("*x", 1)]),
    ("%proc.name", [field("proc.name", 0)]),
    ("x %proc.name y", [text("x ", 0), field("proc.name", 2), text(" y", 12)]),
    ("x %proc.namex y", [text("x ", 0), field("proc.name", 2), text("x y", 12)]),
    ("%proc.name.x", [field("proc.name", 0), text(".x", 10)]),
    ("%proc.name%fd.name", [field("proc.name", 0), field("fd.name", 10)]),
    ("*%proc.name", [field("proc.name", 1)]),
    ("%20proc.name|", [field("proc.name", 0, 20), text("|", 12)]),
    ("%007proc.name", [field("proc.name", 0, 7)]),
    ("x %proc.aname[3]", [text("x ", 0), field("proc.aname[3]", 2)]),
    ("%proc.aname[3", [field("proc.aname", 0), text("[3", 11)]),
    ("%evt.dir", [field("evt.dir", 0)]),
    ("x %len(proc.name)", [text("x ", 0), ("Transformer", "len(proc.name)", 0, 2)]),
    ("%toupper( proc.name )!", [("Transformer", "toupper( proc.name )", 0, 0), text("!", 21)]),
    ('%join(",", proc.args) x', [("Transformer", 'join(",", proc.args)', 0, 0), text(" x", 21)]),
    # the [1] does not compile, so the token is the transformer without it
    ("%toupper(proc.name)[1]", [("Transformer", "toupper(proc.name)", 0, 0), text("[1]", 19)]),
    ("u=%proc.name\nc=%proc.args", [text("u=", 0), field("proc.name", 2), text("\nc=", 12), field("proc.args", 15)]),
]  # fmt: skip


@pytest.mark.parametrize(("fmt", "expected"), ACCEPTED)
def test_cuts_formats_as_libsinsp(fmt: str, expected: list[tuple[str, str, int, int]]) -> None:
    assert shape(fmt) == expected


ERRORS = [
    ("", "empty formatting token", Pos(0, 1, 1)),
    ("x %", "invalid formatting syntax: formatting cannot end with a %", Pos(2, 1, 3)),
    ("%", "invalid formatting syntax: formatting cannot end with a %", Pos(0, 1, 1)),
    ("*%", "invalid formatting syntax: formatting cannot end with a %", Pos(1, 1, 2)),
    ("x %12", "invalid formatting syntax: formatting cannot end with a number", Pos(2, 1, 3)),
    ("%1", "invalid formatting syntax: formatting cannot end with a number", Pos(0, 1, 1)),
    # libsinsp reports the error of its last try, one character long, which never parses
    ("x %(proc.name) y", UNKNOWN, Pos(2, 1, 3)),
    ("%%", UNKNOWN, Pos(0, 1, 1)),
    ("% proc.name", UNKNOWN, Pos(0, 1, 1)),
    ("%val(proc.name)", UNKNOWN, Pos(0, 1, 1)),
    ("%nosuch.field", UNKNOWN, Pos(0, 1, 1)),
    ("%toupper(nosuch.field)", UNKNOWN, Pos(0, 1, 1)),
    ("%proc", UNKNOWN, Pos(0, 1, 1)),
    ("a\nb %%", UNKNOWN, Pos(4, 2, 3)),
    ("%proc.name %x.y", UNKNOWN, Pos(11, 1, 12)),
]


@pytest.mark.parametrize(("fmt", "message", "pos"), ERRORS)
def test_rejects_with_libsinsp_message(fmt: str, message: str, pos: Pos) -> None:
    with pytest.raises(ConditionSyntaxError) as caught:
        parse_output(fmt, compile_operand)
    assert (caught.value.message, caught.value.pos) == (message, pos)


def test_tokens_carry_the_parsed_operand() -> None:
    [token] = parse_output("%proc.aname[2]", compile_operand)
    assert token == OutputToken("proc.aname[2]", FieldRef("proc.aname", "2", Pos(1, 1, 2)), 0, 0)


def test_tries_only_the_candidates_that_can_differ() -> None:
    seen: list[Operand] = []

    def recording(operand: Operand) -> str | None:
        seen.append(operand)
        return compile_operand(operand)

    parse_output("%proc.namex and a long tail that never parses as a field", recording)
    assert [op.name for op in seen] == ["proc.namex", "proc.name"]


def test_lets_field_errors_from_the_compiler_through() -> None:
    def failing(operand: Operand) -> str | None:
        raise FieldError("boom")

    with pytest.raises(FieldError):
        parse_output("%proc.name", failing)
