"""Cut a Falco output format into literal text and `%` operands as libsinsp's formatter (libs 0.25) does."""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.rules.ast import Operand
from bot.rules.condition import parse_operand, pos_at
from bot.rules.errors import ConditionSyntaxError
from bot.rules.record import Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start-up
if TYPE_CHECKING:
    from typing import Final

__all__ = ["OutputToken", "parse_output"]

# After a `%`: the width (group 1, possibly empty), then the run of non-blank, non-% characters (group 2).
_WIDTH_AND_RUN: Final = re.compile(r"([0-9]*)([^\s%]*)")

# A memo of operand parses: the run of non-blank, non-% characters after the `%` -> (operand, length).
OperandMemo = dict[str, tuple[Operand, int]]


class OutputToken(Record):
    """One piece of an output format: literal text, or a `%` operand with its width.

    For literal text `operand` is None, `width` 0 and `text` the text itself. For an operand,
    `text` is its source (`proc.name` in `%20proc.name`) and `width` the decimal width after the
    `%` (0 when there is none). `pos` is the offset in the format of the text or of the `%`.
    """

    __slots__ = ("operand", "pos", "text", "width")

    def __init__(self, text: str, operand: Operand | None, width: int, pos: int) -> None:
        self.text = text
        self.operand = operand
        self.width = width
        self.pos = pos


def parse_output(
    fmt: str, compile_operand: Callable[[Operand], str | None], memo: OperandMemo | None = None
) -> list[OutputToken]:
    """The tokens of `fmt`, or ConditionSyntaxError with libsinsp's message (sinsp_evt_formatter::set_format).

    compile_operand returns None when an operand compiles and the compiler's error text when it
    does not. A leading `*` (print even with missing values) is not a token. `memo`, shared by the
    outputs of one load, remembers operands that compiled within their run of non-blank characters
    (what follows such a run cannot change them), since outputs repeat the same fields.
    """
    if not fmt:
        raise ConditionSyntaxError("empty formatting token", pos_at(fmt, 0))
    tokens: list[OutputToken] = []
    literal_start = 1 if fmt.startswith("*") else 0
    percent = fmt.find("%", literal_start)
    while percent != -1:
        if percent > literal_start:
            tokens.append(OutputToken(fmt[literal_start:percent], None, 0, literal_start))
        if percent == len(fmt) - 1:
            raise ConditionSyntaxError(
                "invalid formatting syntax: formatting cannot end with a %", pos_at(fmt, percent)
            )
        match = _WIDTH_AND_RUN.match(fmt, percent + 1)
        assert match is not None  # both groups may be empty
        digits, run = match.group(1, 2)
        start = match.end(1)
        width = 0
        if digits:
            if start == len(fmt):
                raise ConditionSyntaxError(
                    "invalid formatting syntax: formatting cannot end with a number", pos_at(fmt, percent)
                )
            width = int(digits)
        key = run if memo is not None else ""
        hit = memo.get(key) if key and memo is not None else None
        if hit is not None:
            operand, end = hit[0], start + hit[1]
        else:
            operand, end = _longest_operand(fmt, start, percent, compile_operand)
            if key and memo is not None and end - start <= len(key):
                memo[key] = (operand, end - start)
        tokens.append(OutputToken(fmt[start:end], operand, width, percent))
        literal_start = end
        percent = fmt.find("%", end)
    if literal_start < len(fmt):
        tokens.append(OutputToken(fmt[literal_start:], None, 0, literal_start))
    return tokens


def _longest_operand(
    fmt: str, start: int, percent: int, compile_operand: Callable[[Operand], str | None]
) -> tuple[Operand, int]:
    """The longest prefix of fmt[start:] that parses and compiles as an operand, and its end.

    libsinsp parses fmt[start:start + n] for n = the whole rest, then one character less, and so
    on, keeping the first candidate that compiles (so `%proc.namex` is `%proc.name` and "x").
    Its error when none does is the one for n = 1, which never parses: always "unknown filter:
    unexpected token after '". A parse looks one character past where it failed, and none past
    where it succeeded, so the candidates that would repeat a failure are skipped.
    """
    length = len(fmt) - start
    while True:
        try:
            end_of_candidate = start + length
            operand, end = parse_operand(fmt if end_of_candidate == len(fmt) else fmt[:end_of_candidate], start)
        except ConditionSyntaxError as error:
            message = error.message
            # Candidates that still hold the character the parser failed on fail the same way.
            shorter = (error.pos.offset if error.pos is not None else start) - start
        else:
            problem = compile_operand(operand)
            if problem is None:
                return operand, end
            # Candidates that still hold the whole operand parse (and fail to compile) the same way.
            message, shorter = problem, end - start - 1
        length = min(length - 1, shorter)
        if length <= 0:
            raise ConditionSyntaxError("unknown filter: " + message, pos_at(fmt, percent))
