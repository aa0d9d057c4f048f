"""Parse and print Falco conditions exactly as libsinsp's filter parser (libs 0.25, Falco 0.44.1) does."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from functools import cache
from itertools import accumulate, islice

from bot.rules.ast import (
    And,
    Check,
    Expr,
    FieldRef,
    Identifier,
    ListItem,
    ListValue,
    Not,
    Operand,
    Or,
    Pos,
    StrValue,
    Transformer,
    TransformerArg,
    Value,
)
from bot.rules.errors import ConditionSyntaxError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start-up
if TYPE_CHECKING:
    from typing import Final

__all__ = ["escape_value", "format_expr", "parse_condition", "parse_operand", "pos_at"]

# libsinsp's token regexes, with RE2's POSIX [[:space:]] spelled out as " \t\n\v\f\r" (ASCII).
# A field name is an identifier with at least one ".segment": _NAME reads both, and a dot in
# the match is what trying libsinsp's FIELDNAME before its IDENTIFIER amounts to.
_NAME: Final = re.compile(r"[a-zA-Z][a-zA-Z0-9_]*(?:\.[a-zA-Z][a-zA-Z0-9_]*)*")
_FIELD_ARG_BARE: Final = re.compile(r"[^\]\[\"' \t\n\v\f\r]+")
_NUMBER_PATTERN: Final = r"0[xX][0-9a-fA-F]+|[+\-]?[0-9]+\.?[0-9]*(?:[eE][+\-][0-9]+)?"
_NOT_BLANK: Final = re.compile(r"not[ \t\n\v\f\r]+")
# lex_blank() skips exactly these five characters (\b but not \v or \f). Several patterns
# below start with it so that one regex call skips the blanks and reads the next token.
_B: Final = r"[ \t\x08\r\n]"
_BLANK_CHARS: Final = (" ", "\t", "\x08", "\r", "\n")
_BLANK: Final = re.compile(_B + "*")
# One character of a bare string (libsinsp's BARESTR is a run of them).
_BARE_CHAR: Final = r"[^()\"' \t\n\v\f\r=,]"
_BARE: Final = _BARE_CHAR + "+"
# Blanks, then `name(` (a transformer or `val`, group 1) or a bare string (group 2).
_STR_VALUE: Final = re.compile(f"{_B}*(?:([a-zA-Z][a-zA-Z0-9_]*)\\(|({_BARE}))?")
# Blanks, then a bare list item (group 1) with the blanks and comma after it (group 2).
_LIST_ITEM: Final = re.compile(f"{_B}*(?:({_BARE}){_B}*(,)?)?")
_SEPARATOR: Final = re.compile(f"{_B}*(,)?")
_CONNECTIVE: Final = re.compile(f"{_B}*(?:(and|or)({_B}+|\\()?)?")
_LINE_BREAK: Final = re.compile(r"[\r\n]")
_ESCAPE: Final = re.compile(r"\\(.)", re.DOTALL)

# Operators in libsinsp's lookup order (unary, numeric, string, list): the first one that is a
# prefix wins, which is what a regex alternation does.
_UNARY_OPS: Final = ("exists",)
_NUM_OPS: Final = ("<=", "<", ">=", ">")
_STR_OPS: Final = ("==", "=", "!=")
_WORD_STR_OPS: Final = (
    "glob",
    "iglob",
    "contains",
    "icontains",
    "bcontains",
    "startswith",
    "bstartswith",
    "endswith",
    "regex",
)
_LIST_OPS: Final = ("intersects", "in", "pmatch")
_ALL_OPS: Final = _UNARY_OPS + _NUM_OPS + _STR_OPS + _WORD_STR_OPS + _LIST_OPS
# libsinsp's parser::supported_operators(): what an exception's comps may name.
SUPPORTED_OPERATORS: Final = _ALL_OPS
# String operators that take a oneof/anyof/allof modifier.
MODIFIABLE_OPERATORS: Final = frozenset(_STR_OPS + _WORD_STR_OPS)
LIST_OPERATORS: Final = frozenset(_LIST_OPS)
_OPERATOR: Final = re.compile(f"{_B}*(" + "|".join(re.escape(op) for op in _ALL_OPS) + ")")
# A plain term and the connective after it, in one regex call. Groups: 1 `not` prefixes, 2 name,
# 3 bare field argument; 4 `exists`; 5 numeric operator, 6 number; 7 string operator, 8 bare
# value, 9 and 10 quoted value without backslashes; 11 list operator, 12 its items (bare, or
# quoted without backslashes); 13 and 14 the connective, as _CONNECTIVE reads it.
# Atomic groups and possessive quantifiers stop backtracking into a shorter name, number, word
# or item; any term that this does not read exactly as libsinsp does is left to the exact path.
_DQ_BODY: Final = r'[^"\\\x00]*+'
_SQ_BODY: Final = r"[^'\\\x00]*+"
_PLAIN_ITEM: Final = f"""(?:{_BARE_CHAR}++|"{_DQ_BODY}"|'{_SQ_BODY}')"""
_PLAIN_TERM: Final = re.compile(
    r"((?:not[ \t\n\v\f\r]+)*+)"
    f"((?>{_NAME.pattern}))"
    r"(?:\[([^\]\[\"' \t\n\v\f\r]++)\])?"
    f"(?:{_B}*+(?:"
    "(exists)"
    f"|(<=|<|>=|>){_B}*+((?>{_NUMBER_PATTERN}))"
    f"|(==|=|!=|(?:{'|'.join(_WORD_STR_OPS)})(?={_B})){_B}*+"
    rf"""(?:({_BARE_CHAR}++)(?!\()|"({_DQ_BODY})"|'({_SQ_BODY})')"""
    f"|({'|'.join(_LIST_OPS)}){_B}*+\\({_B}*+({_PLAIN_ITEM}(?:{_B}*+,{_B}*+{_PLAIN_ITEM})*+){_B}*+\\)"
    "))?"
    f"{_B}*+(?:(and|or)({_B}+|\\()?)?"
)
# One item of group 12: bare (group 1), or the inside of a double (2) or single (3) quoted string.
_PLAIN_LIST_ITEM: Final = re.compile(f"""({_BARE})|"({_DQ_BODY})"|'({_SQ_BODY})'""")
# Group 12 with only bare items and no \b: items are what this splits off (every other part).
_NOT_BARE_ONLY: Final = re.compile("[\"'\x08]")
_LIST_SEPARATOR: Final = re.compile("([ \t\r\n]*,[ \t\r\n]*)")
_PLUS_2: Final = (2).__add__
_UNARY, _NUM, _STR, _WORD, _LIST = range(5)
# What parse_or reads next: a term, a group after `and(`, or a group after `or(`.
_TERM, _AND_GROUP, _OR_GROUP = range(3)
_OP_KIND: Final = {
    **dict.fromkeys(_UNARY_OPS, _UNARY),
    **dict.fromkeys(_NUM_OPS, _NUM),
    **dict.fromkeys(_STR_OPS, _STR),
    **dict.fromkeys(_WORD_STR_OPS, _WORD),
    **dict.fromkeys(_LIST_OPS, _LIST),
}

# Patterns of the exact path's rarer steps, compiled on first use so that importing the parser stays cheap.


@cache
def _identifier() -> re.Pattern[str]:
    return re.compile(r"[a-zA-Z][a-zA-Z0-9_]*")


@cache
def _field_name() -> re.Pattern[str]:
    return re.compile(r"[a-zA-Z][a-zA-Z0-9_]*(?:\.[a-zA-Z][a-zA-Z0-9_]*)+")


@cache
def _number() -> re.Pattern[str]:
    return re.compile(_NUMBER_PATTERN)


@cache
def _list_operator() -> re.Pattern[str]:
    return re.compile("|".join(_LIST_OPS))


# The closing quote is the first delimiter not preceded by a backslash: libsinsp looks at the
# previous character only, so `"a\\"` is not closed by its last quote.
@cache
def _closing_quote(delimiter: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\\)" + delimiter)


_KEYWORDS: Final = frozenset({"and", "or", "not"})
_MODIFIERS: Final = frozenset({"oneof", "anyof", "allof"})
# Off only in tests, which check that the fast path and the exact one agree.
_USE_FAST_PATH = True

_TRANSFORMERS: Final = frozenset({"tolower", "toupper", "b64", "basename", "len", "join", "concat", "getopt"})
_TRANSFORMER_NAMES: Final = "'val', 'tolower', 'toupper', 'b64', 'basename', 'len', 'join', 'concat', 'getopt'"

_SIMPLE_ESCAPES: Final = {
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    # `\ ` gives a lone backslash: libsinsp tolerates it for old, wrongly escaped rules.
    " ": "\\",
    "\\": "\\",
    "/": "/",
}

ERR_EMPTY: Final = "filter input string is empty"
ERR_OPERATOR: Final = "expected a valid check operator: one of " + ", ".join(f"'{op}'" for op in _ALL_OPS)
ERR_NUM_VALUE: Final = "expected a number value or a field with a valid transformer: " + _TRANSFORMER_NAMES
ERR_STR_VALUE: Final = "expected a string value or a field with a valid transformer: " + _TRANSFORMER_NAMES
ERR_LIST_VALUE: Final = "expected a list, an identifier, or a field with a valid transformer: " + _TRANSFORMER_NAMES
ERR_TRANSFORMER_ARG: Final = (
    "expected field transformer argument: field, transformer, quoted string, number, or transformer list"
)
ERR_TRANSFORMER_LIST_ARG: Final = "expected transformer list argument: field, transformer, quoted string, or number"


def pos_at(text: str, offset: int) -> Pos:
    """The Pos of `offset` in `text`, counting lines as libsinsp does (each \\r and each \\n starts one)."""
    return _Parser(text, 0).at(offset)


def parse_condition(text: str, max_depth: int = 1000) -> Expr:
    """Parse a whole condition, or raise ConditionSyntaxError with libsinsp's message and position."""
    if not text:
        raise ConditionSyntaxError(ERR_EMPTY, Pos(0, 1, 1))
    parser = _Parser(text, max_depth)
    try:
        expr = parser.parse_or(1)
    except RecursionError:
        # Only reachable with a max_depth far above Falco's 1000 (every recursive path here
        # costs at most one Python frame per two libsinsp levels): fail as the limit would.
        raise parser.depth_exceeded() from None
    if parser.pos != len(text):
        raise parser.error(f"unexpected token after '{parser.last}', expecting 'or', 'and'")
    return expr


def parse_operand(text: str, start: int = 0, max_depth: int = 100) -> tuple[Operand, int]:
    """Parse one field or transformer at `start` and return it with the offset just after it.

    This is libsinsp's parse_field_or_transformer: the rest of the text is left alone.
    max_depth defaults to libsinsp's parser default, which the output formatter keeps.
    """
    parser = _Parser(text, max_depth, start)
    try:
        return parser.parse_operand(start), parser.pos
    except RecursionError:
        raise parser.depth_exceeded() from None


def format_expr(expr: Expr | Value | TransformerArg) -> str:
    """Print a node as libsinsp's ast::as_string does (the compiled condition Falco shows).

    Iterative, so that the deepest tree the parser accepts prints without deep recursion.
    """
    out: list[str] = []
    stack: list[_Node | str] = [expr]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        else:
            stack.extend(reversed(_pieces(item)))
    return "".join(out)


_Node = Expr | Value | TransformerArg


def _pieces(node: _Node) -> list[_Node | str]:
    """One node as text pieces and child nodes, in printing order."""
    if isinstance(node, And | Or):
        return _joined("(", node.children, " and " if isinstance(node, And) else " or ", ")")
    if isinstance(node, Not):
        return ["not ", node.child]
    if isinstance(node, Identifier):
        return [node.name]
    if isinstance(node, Check):
        op = node.op if node.modifier is None else f"{node.op} {node.modifier}"
        return [node.lhs, " " + op] if node.rhs is None else [node.lhs, f" {op} ", node.rhs]
    if isinstance(node, FieldRef):
        return [node.name + _format_arg(node.arg)]
    if isinstance(node, Transformer):
        return _joined(node.name + "(", node.args, ", ", ")" + _format_arg(node.arg))
    if isinstance(node, StrValue):
        return [escape_value(node.value)]
    if _is_bare_identifier(node):
        # libsinsp keeps `in x` as a plain value, so it prints without parentheses.
        return [node.values[0]]
    return _joined("(", node.values, ", ", ")")


def _joined(opening: str, children: Sequence[_Node], separator: str, closing: str) -> list[_Node | str]:
    pieces: list[_Node | str] = [opening]
    for index, child in enumerate(children):
        if index:
            pieces.append(separator)
        pieces.append(child)
    pieces.append(closing)
    return pieces


def escape_value(value: str) -> str:
    """libsinsp's escape_str: double-quote a value with blanks, quotes or backslashes, else keep it bare."""
    if _needs_quotes().search(value) is None:
        return value
    return '"' + value.translate(_PRINT_ESCAPES) + '"'


@cache
def _needs_quotes() -> re.Pattern[str]:
    return re.compile(r"[\b\f\n\r\t \\\"']")


_PRINT_ESCAPES: Final = str.maketrans(
    {"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\", '"': '\\"'}
)


def _format_arg(arg: str | None) -> str:
    # libsinsp stores "no argument" as an empty string, so `f[""]` prints as `f`.
    return f"[{escape_value(arg)}]" if arg else ""


def _is_bare_identifier(values: ListValue) -> bool:
    # A parenthesised list starts at its "(", before any item; a bare `in x` shares x's offset.
    items = values.values
    return len(items) == 1 and items[0].pos.offset == values.pos.offset


def _unescape(body: str, delimiter: str) -> tuple[str, str | None]:
    """libsinsp's unescape_str on the text between the quotes: (value, None) or ("", error text)."""
    if "\\" not in body:
        return body, None
    pieces: list[str] = []
    done = 0
    for match in _ESCAPE.finditer(body):
        char = match.group(1)
        replacement = _SIMPLE_ESCAPES.get(char)
        if replacement is None:
            if char == delimiter:
                replacement = char
            elif char == '"':
                return "", "invalid \\\" escape in '-quoted string"
            elif char == "'":
                return "", "invalid \\' escape in \"-quoted string"
            else:
                # libs 0.25 has no \xHH escapes yet: `\x` is rejected like any other letter.
                return "", "unsupported string escape sequence: \\" + char
        pieces.append(body[done : match.start()])
        pieces.append(replacement)
        done = match.end()
    pieces.append(body[done:])
    return "".join(pieces), None


class _Parser:
    """libsinsp's recursive-descent parser over one text.

    `depth` arguments are the depth_guard count of the libsinsp function being emulated, and
    the limit is checked where libsinsp checks it. Some libsinsp functions share a Python frame
    so that every recursive path costs at most one frame per two libsinsp levels: Falco's
    limit of 1000 needs about 500 frames, inside Python's default recursion limit.
    `last` mirrors m_last_token wherever a token can end an expression, for the final
    "unexpected token after" error. The hot paths work on locals and combined regexes: this
    runs on every condition of every rules file.
    """

    __slots__ = ("breaks", "fast_depth", "last", "line1_end", "max_depth", "pos", "text")

    def __init__(self, text: str, max_depth: int, start: int = 0) -> None:
        self.text = text
        self.max_depth = max_depth
        self.pos = start
        self.last = ""
        has_breaks = "\n" in text or "\r" in text
        self.breaks = [m.start() for m in _LINE_BREAK.finditer(text)] if has_breaks else []
        self.line1_end = self.breaks[0] if has_breaks else len(text)
        # Terms below this depth take the fast path: its deepest guard is 4 levels further down.
        self.fast_depth = max_depth - 5 if _USE_FAST_PATH else 0

    # -- positions, errors and small lexers ----------------------------------------------------

    def at(self, offset: int) -> Pos:
        if offset <= self.line1_end:
            return Pos(offset, 1, offset + 1)
        breaks = self.breaks
        line = bisect_left(breaks, offset)
        return Pos(offset, line + 1, offset - breaks[line - 1])

    def error(self, message: str) -> ConditionSyntaxError:
        return ConditionSyntaxError(message, self.at(self.pos))

    def depth_exceeded(self) -> ConditionSyntaxError:
        return self.error(f"exceeded max depth limit of {self.max_depth}")

    def check_depth(self, depth: int) -> None:
        if depth >= self.max_depth:
            raise self.depth_exceeded()

    def skip_blank(self) -> bool:
        start = self.pos
        match = _BLANK.match(self.text, start)
        assert match is not None  # the pattern matches the empty string
        self.pos = match.end()
        return self.pos != start

    def expect(self, literal: str, message: str) -> None:
        if not self.text.startswith(literal, self.pos):
            raise self.error(message)
        self.pos += len(literal)
        self.last = literal

    def lex_quoted(self) -> tuple[str, str | None] | None:
        """A quoted string at pos: None if there is none (pos unchanged), else (value, escape error).

        On an escape error pos is already past the closing quote, as in libsinsp.
        """
        text = self.text
        start = self.pos
        delimiter = text[start : start + 1]
        if delimiter != '"' and delimiter != "'":
            return None
        close = _closing_quote(delimiter).search(text, start + 1)
        # libsinsp scans a C string, so a NUL before the closing quote leaves it unterminated.
        if close is None or "\0" in text[start : close.start()]:
            return None
        self.pos = close.end()
        value, problem = _unescape(text[start + 1 : close.start()], delimiter)
        self.last = value
        return value, problem

    def quoted_value(self) -> StrValue | None:
        start = self.pos
        quoted = self.lex_quoted()
        if quoted is None:
            return None
        if quoted[1] is not None:
            raise self.error(quoted[1])
        return StrValue(quoted[0], True, self.at(start))

    def number_value(self) -> StrValue | None:
        start = self.pos
        match = _number().match(self.text, start)
        if match is None:
            return None
        self.pos = match.end()
        self.last = match.group()
        return StrValue(self.last, False, self.at(start))

    # -- boolean structure ---------------------------------------------------------------------

    def parse_or(self, depth: int, closing: bool = False) -> Expr:
        """libsinsp's parse_or with its parse_and inlined; with `closing`, parse_embedded_remainder too.

        `closing` means a "(" was just lexed, and depth is then the embedded remainder's.
        """
        if closing:
            self.check_depth(depth)
            depth += 1
        self.check_depth(depth)
        if self.text.startswith(_BLANK_CHARS, self.pos):
            self.skip_blank()
        self.check_depth(depth + 1)  # parse_and's guard
        start = chain_start = self.pos
        children: list[Expr] = []
        chain: list[Expr] | None = []  # the and-chain being read; None after an `or(...)` group
        operand = _TERM
        text = self.text
        # term()'s fast path, inline: plain terms make up most of every condition.
        fast = depth + 2 < self.fast_depth
        plain_match = _PLAIN_TERM.match
        while True:
            if operand == _TERM:
                pos = self.pos
                if (
                    fast
                    and not text.startswith("(", pos)
                    and (match := plain_match(text, pos)) is not None
                    and (plain := self.plain_term(match)) is not None
                ):
                    expr = plain
                    self.pos = match.end()
                    keyword, follow = match.group(13, 14)
                else:
                    expr, keyword, follow = self.term(depth + 2)
            else:
                expr = self.parse_or(depth + 2 if operand == _AND_GROUP else depth + 1, True)
                keyword, follow = self.connective(or_only=operand == _OR_GROUP)
            if chain is None or operand == _OR_GROUP:
                children.append(expr)
            else:
                chain.append(expr)
            if keyword is None:
                break
            if follow is None:
                raise self.error(f"expected blank or '(' after '{keyword}'")
            if keyword == "and":
                operand = _AND_GROUP if follow == "(" else _TERM
                continue
            if chain is not None:
                children.append(self.and_node(chain, chain_start))
            if follow == "(":
                operand, chain = _OR_GROUP, None
            else:
                self.check_depth(depth + 1)  # parse_and's guard
                operand, chain, chain_start = _TERM, [], self.pos
        if chain is not None:
            children.append(self.and_node(chain, chain_start))
        if closing:
            self.skip_blank()
            self.expect(")", "expected a ')' token")
        return children[0] if len(children) == 1 else Or(children, self.at(start))

    def and_node(self, chain: list[Expr], start: int) -> Expr:
        return chain[0] if len(chain) == 1 else And(chain, self.at(start))

    def connective(self, or_only: bool) -> tuple[str | None, str | None]:
        """The `and` or `or` at pos and what follows it (a blank, "(" or None), pos moving past them.

        With `or_only` (after an `or(...)` group, where libsinsp's loop only looks for `or`) an
        `and` ends the expression instead, pos staying before it.
        """
        match = _CONNECTIVE.match(self.text, self.pos)
        assert match is not None  # every part of the pattern is optional
        keyword, follow = match.group(1, 2)
        if or_only and keyword == "and":
            self.pos = match.start(1)
            return None, None
        self.pos = match.end()
        return keyword, follow

    def term(self, depth: int) -> tuple[Expr, str | None, str | None]:
        """libsinsp's parse_not at depth, then the connective after it: (expr, and/or, blank or "(").

        pos ends after the connective, or after the blanks when there is none. Plain terms take
        the fast path, which parse_or runs inline before calling this; the rest follows libsinsp
        step by step, parse_check included, so that a group recurses straight back into parse_or
        (two frames per nesting level).
        """
        text = self.text
        self.check_depth(depth)
        start = pos = self.pos
        negate = False
        while text.startswith("not", pos) and (not_blank := _NOT_BLANK.match(text, pos)) is not None:
            negate = not negate
            pos = self.pos = not_blank.end()
        if text.startswith("not(", pos):
            negate = not negate
            self.pos = pos + 4
            expr = self.parse_or(depth + 1, True)
        else:
            self.check_depth(depth + 1)  # parse_check's guard
            self.skip_blank()
            if text.startswith("(", self.pos):
                self.pos += 1
                expr = self.parse_or(depth + 2, True)
            else:
                expr = self.parse_check_operand(self.pos, depth + 1)
        if negate:
            expr = Not(expr, self.at(start))
        return (expr, *self.connective(or_only=False))

    def plain_term(self, match: re.Match[str]) -> Expr | None:
        """The term a _PLAIN_TERM match read, if it is a plain one, else None.

        Plain terms (`[not ...] macro`, or `[not ...] field op value` without transformers,
        escapes or modifiers) make up most of every rules file, so they skip the exact path and
        its depth checks (fast_depth leaves enough headroom). Anything else, errors included,
        is read again by term's exact path.
        """
        nots, name, arg, exists, num_op, number, str_op, bare, dq, sq, list_op, _, _, _ = match.groups()
        start = match.start()
        offset = start + len(nots)
        # Pos(offset, 1, offset + 1) is self.at(offset) on the first line, without the call.
        where = Pos(offset, 1, offset + 1) if offset <= self.line1_end else self.at(offset)
        expr: Expr
        if "." not in name:
            # A macro name. An operator after it is an error, and `tolower(` or `not(` is no name.
            if arg or exists or num_op or str_op or list_op or self.text.startswith("(", match.end(2)):
                return None
            self.last = name
            expr = Identifier(name, where)
        elif str_op is not None:
            if bare is not None:
                if bare in _MODIFIERS:
                    return None
                value, quoted, offset = bare, False, match.start(8)
            else:
                # A quoted value starts at its opening quote.
                value, quoted, offset = (
                    (dq, True, match.start(9) - 1) if sq is None else (sq, True, match.start(10) - 1)
                )
            self.last = value
            at = Pos(offset, 1, offset + 1) if offset <= self.line1_end else self.at(offset)
            # The check and its field start at the same place and share one Pos.
            expr = Check(FieldRef(name, arg, where), str_op, None, StrValue(value, quoted, at), where)
        elif list_op is not None:
            expr = Check(FieldRef(name, arg, where), list_op, None, self.plain_list(match), where)
        elif num_op is not None:
            self.last = number
            value = StrValue(number, False, self.at(match.start(6)))
            expr = Check(FieldRef(name, arg, where), num_op, None, value, where)
        elif exists is not None:
            self.last = exists
            expr = Check(FieldRef(name, arg, where), exists, None, None, where)
        else:
            return None
        # Each `not` toggles: an even number of them cancels out.
        return Not(expr, self.at(start)) if nots and nots.count("not") % 2 else expr

    def plain_list(self, match: re.Match[str]) -> ListValue:
        """The list that group 12 of a _PLAIN_TERM match read."""
        text = self.text
        start, end = match.span(12)
        items: list[ListItem]
        if end <= self.line1_end:
            line, base = 1, -1
        else:
            breaks = self.breaks
            index = bisect_left(breaks, start)
            line, base = index + 1, breaks[index - 1] if index else -1
            if index < len(breaks) and breaks[index] < end:
                line = 0  # the list spans lines: every item's Pos comes from at()
        if line and not _NOT_BARE_ONLY.search(text, start, end):
            # Only bare items on one line, the common case (substituted lists): with no quote and no
            # \b, items and separators partition the text, and each item's offset is the sum of the
            # lengths before it. Its column is its offset from the break before the line, as at() has it.
            segment = text[start:end]
            parts = segment.split(", ")
            count = len(parts) - 1
            if segment.count(",") == count and segment.count(" ") == count and "\t" not in segment:
                # Every separator is exactly ", " (as in substituted lists): the str methods suffice.
                offsets: Iterator[int] = accumulate(map(_PLUS_2, map(len, parts)), initial=start)
                names = parts
            else:
                parts = _LIST_SEPARATOR.split(segment)
                offsets = islice(accumulate(map(len, parts), initial=start), 0, None, 2)
                names = parts[::2]
            items = [
                StrValue(bare, False, Pos(offset, line, offset - base))
                for bare, offset in zip(names, offsets, strict=False)
            ]
        elif line:
            # The whole list is on one line: the column of an item is its offset from the break
            # before the line, which is what at() computes for each offset.
            items = [
                StrValue(bare, False, Pos(item.start(), line, item.start() - base))
                if (bare := item.group(1)) is not None
                else StrValue(item.group(2) if item.group(3) is None else item.group(3), True,
                              Pos(item.start(), line, item.start() - base))
                for item in _PLAIN_LIST_ITEM.finditer(text, start, end)
            ]  # fmt: skip
        else:
            at = self.at
            items = []
            for item in _PLAIN_LIST_ITEM.finditer(text, start, end):
                bare, dq, sq = item.groups()
                where = at(item.start())
                if bare is not None:
                    items.append(StrValue(bare, False, where))
                else:
                    items.append(StrValue(dq if sq is None else sq, True, where))
        self.last = ")"
        # The list starts at its "(", the last one before the first item.
        return ListValue(items, self.at(text.rindex("(", 0, start)))

    def parse_check_operand(self, start: int, depth: int) -> Expr:
        """The rest of parse_check once "(" is ruled out: a field or transformer check, or a macro name."""
        text = self.text
        match = _NAME.match(text, start)
        if match is None:
            self.pos = start
            raise self.error("expected a '(' token, a field check, or an identifier")
        name = match.group()
        end = self.pos = match.end()
        lhs: Operand
        if "." in name:
            if depth + 1 >= self.max_depth:
                self.check_depth(depth + 1)
            arg = self.bracket_arg() if text.startswith("[", end) else None
            lhs = FieldRef(name, arg, self.at(start))
        elif name in _TRANSFORMERS and text.startswith("(", end):
            self.pos = end + 1
            self.skip_blank()
            lhs = self.transformer_rest(name, start, depth + 1)
        else:
            self.last = name
            return Identifier(name, self.at(start))
        return self.parse_condition(lhs, start, depth + 1)

    # -- checks and right-hand sides -----------------------------------------------------------

    def parse_condition(self, lhs: Operand, start: int, depth: int) -> Check:
        self.check_depth(depth)
        text = self.text
        match = _OPERATOR.match(text, self.pos)
        if match is None:
            self.skip_blank()
            raise self.error(ERR_OPERATOR)
        op = match.group(1)
        self.pos = match.end()
        kind = _OP_KIND[op]
        if kind == _UNARY:
            self.last = op
            return Check(lhs, op, None, None, self.at(start))
        if kind == _WORD and not self.skip_blank():
            # A word operator needs a blank; without one libsinsp gives up on string operators
            # and tries the list operators right after the word (so `containsin (a)` is `in (a)`).
            match = _list_operator().match(text, self.pos)
            if match is None:
                raise self.error(ERR_OPERATOR)
            op = match.group()
            self.pos = match.end()
            kind = _LIST
        if kind == _LIST:
            self.check_depth(depth + 1)
            return Check(lhs, op, None, self.list_value(depth + 1), self.at(start))
        if depth + 2 >= self.max_depth:
            self.check_value_depth(depth + 1)
        if kind == _NUM:
            return Check(lhs, op, None, self.num_value(depth + 1), self.at(start))
        match = _STR_VALUE.match(text, self.pos)
        assert match is not None  # every part of the pattern is optional
        bare = match.group(2)
        if bare is not None and not (bare in _MODIFIERS and text.startswith(_BLANK_CHARS, match.end())):
            # The common case, a bare string, read here without further calls.
            self.pos = match.end()
            self.last = bare
            return Check(lhs, op, None, StrValue(bare, False, self.at(match.start(2))), self.at(start))
        modifier = self.lex_modifier(match)
        if modifier is not None:
            return Check(lhs, op, modifier, self.modifier_list(depth + 1), self.at(start))
        return Check(lhs, op, None, self.str_value(match, depth + 1), self.at(start))

    def check_value_depth(self, depth: int) -> None:
        """The guards of a value parser (depth) and of the try_parse_transformer_or_val it starts with."""
        self.check_depth(depth)
        self.skip_blank()
        self.check_depth(depth + 1)

    def lex_modifier(self, value: re.Match[str]) -> str | None:
        # `oneof`, `anyof` or `allof` and a blank make a modifier only before a list or a list
        # name; otherwise the word is an ordinary value (`proc.name = oneof and ...`).
        word = value.group(2)
        if word not in _MODIFIERS:
            return None
        text = self.text
        blank = _BLANK.match(text, value.end())
        assert blank is not None  # the pattern matches the empty string
        after = blank.end()
        if not text.startswith("(", after):
            name = _identifier().match(text, after)
            if name is None or name.group() in _KEYWORDS:
                return None
        self.pos = after
        return word

    def str_value(self, value: re.Match[str], depth: int) -> Value:
        """A string operator's right-hand side other than a plain bare string (`value` is its _STR_VALUE match)."""
        name, bare = value.group(1, 2)
        if name is not None and (name == "val" or name in _TRANSFORMERS):
            self.pos = value.start(1)
            call = self.call_value(depth + 1)
            assert call is not None
            return call
        if name is not None or bare is not None:
            # Any other `word(` is the bare string `word`: bare strings stop at "(".
            token_start = value.start(1) if name is not None else value.start(2)
            self.last = name or bare
            self.pos = token_start + len(self.last)
            return StrValue(self.last, False, self.at(token_start))
        self.pos = value.end()
        quoted = self.quoted_value()
        if quoted is None:
            raise self.error(ERR_STR_VALUE)
        return quoted

    def num_value(self, depth: int) -> Value:
        self.skip_blank()
        value = self.call_value(depth + 1) or self.number_value()
        if value is None:
            raise self.error(ERR_NUM_VALUE)
        return value

    def list_value(self, depth: int) -> Value:
        self.skip_blank()
        start = self.pos
        if self.text.startswith("(", start):
            self.pos += 1
            return self.paren_list(start, depth + 1)
        self.check_depth(depth + 1)  # try_parse_transformer_or_val's guard
        value = self.call_value(depth + 1)
        if value is not None:
            return value
        return self.bare_list(start, ERR_LIST_VALUE)

    def modifier_list(self, depth: int) -> ListValue:
        start = self.pos
        if self.text.startswith("(", start):
            self.pos += 1
            return self.paren_list(start, depth + 1)
        return self.bare_list(start, "expected a list or an identifier")

    def bare_list(self, start: int, message: str) -> ListValue:
        # libsinsp keeps a bare name after a list operator as one plain value.
        match = _identifier().match(self.text, start)
        if match is None:
            raise self.error(message)
        self.pos = match.end()
        self.last = match.group()
        return ListValue([StrValue(self.last, False, self.at(start))], self.at(start))

    def paren_list(self, start: int, item_depth: int) -> ListValue:
        """The rest of `(a, "b", c)` after its "(", read as libsinsp reads it.

        libsinsp swallows any error on the first item and then expects ")", so `in ("a\\q")`
        is an empty list rather than an escape error.
        """
        text = self.text
        items: list[ListItem] = []
        if item_depth >= self.max_depth:
            self.skip_blank()  # every item fails its guard: the first failure is swallowed
        else:
            pos = self.pos
            while True:
                match = _LIST_ITEM.match(text, pos)
                assert match is not None  # every part of the pattern is optional
                bare = match.group(1)
                if bare is not None:
                    items.append(StrValue(bare, False, self.at(match.start(1))))
                    comma = match.group(2)
                else:
                    self.pos = match.end()
                    quoted = self.quoted_list_item(not items)
                    if quoted is None:
                        break
                    items.append(quoted)
                    match = _SEPARATOR.match(text, self.pos)
                    assert match is not None  # every part of the pattern is optional
                    comma = match.group(1)
                pos = self.pos = match.end()
                if comma is None:
                    break
        self.expect(")", "expected a ')' token")
        return ListValue(items, self.at(start))

    def quoted_list_item(self, first: bool) -> StrValue | None:
        """A quoted list item at pos; for a bad first item None (libsinsp swallows it), else raise."""
        start = self.pos
        quoted = self.lex_quoted()
        if quoted is None:
            problem = "expected a string value"
        elif quoted[1] is None:
            return StrValue(quoted[0], True, self.at(start))
        else:
            problem = quoted[1]
        if first:
            return None
        raise self.error(problem)

    # -- fields and transformers ---------------------------------------------------------------

    def parse_operand(self, start: int) -> Operand:
        """libsinsp's parse_field_or_transformer (depth 1) at start."""
        self.check_depth(1)
        match = _NAME.match(self.text, start)
        if match is not None:
            name = match.group()
            end = match.end()
            if "." in name:
                self.pos = end
                return self.field_rest(name, start, 2)
            if name in _TRANSFORMERS and self.text.startswith("(", end):
                self.pos = end + 1
                self.skip_blank()
                return self.transformer_rest(name, start, 2)
        # libsinsp leaves out the closing quote here, and nothing has been lexed yet, so the
        # text is always "unexpected token after '".
        raise self.error("unexpected token after '")

    def call_value(self, depth: int) -> Transformer | None:
        """libsinsp's try_parse_transformer_or_val at depth (pos past blanks): a transformer or `val(f)`."""
        text = self.text
        start = self.pos
        match = _identifier().match(text, start)
        if match is None or not text.startswith("(", match.end()):
            return None
        name = match.group()
        if name == "val":
            self.pos = match.end() + 1
            return self.val_rest(start, depth)
        if name not in _TRANSFORMERS:
            return None
        self.pos = match.end() + 1
        self.skip_blank()
        return self.transformer_rest(name, start, depth + 1)

    def val_rest(self, start: int, depth: int) -> Transformer:
        self.skip_blank()
        field_start = self.pos
        match = _field_name().match(self.text, field_start)
        if match is None:
            raise self.error("expected a field within 'val' transformer")
        self.pos = match.end()
        field = self.field_rest(match.group(), field_start, depth + 1)
        self.skip_blank()
        self.expect(")", "expected a ')' token closing the transformer")
        return Transformer("val", [field], self.bracket_arg(), self.at(start))

    def field_rest(self, name: str, start: int, depth: int) -> FieldRef:
        """libsinsp's parse_field_remainder: the optional `[arg]` after a lexed field name."""
        self.check_depth(depth)
        return FieldRef(name, self.bracket_arg(), self.at(start))

    def bracket_arg(self) -> str | None:
        """An `[arg]` right after a field name or a transformer's ")" (no blank allowed)."""
        text = self.text
        if not text.startswith("[", self.pos):
            return None
        self.pos += 1
        quoted = self.lex_quoted()
        if quoted is not None:
            if quoted[1] is not None:
                raise self.error(quoted[1])
            arg = quoted[0]
        else:
            match = _FIELD_ARG_BARE.match(text, self.pos)
            if match is None:
                raise self.error("expected a valid field argument: a quoted string or a bare string")
            self.pos = match.end()
            arg = match.group()
        self.expect("]", "expected a ']' token")
        return arg

    def transformer_rest(self, name: str, start: int, depth: int) -> Transformer:
        """libsinsp's parse_field_or_transformer_remainder: arguments and ")" after a lexed "name(".

        Its parse_field_transformer_arg (depth + 1) and transformer lists are read here rather
        than in helpers, so that each nesting level, direct or through a list, costs one frame.
        """
        self.check_depth(depth)
        self.skip_blank()
        text = self.text
        args: list[TransformerArg] = []
        while True:
            self.check_depth(depth + 1)
            self.skip_blank()
            arg_start = self.pos
            if text.startswith("(", arg_start):
                self.pos += 1
                self.skip_blank()
                items: list[ListItem] = []
                if text.startswith(")", self.pos):
                    self.pos += 1
                else:
                    while True:
                        item_start = self.pos
                        head = self.argument_head(ERR_TRANSFORMER_LIST_ARG, depth + 2)
                        if isinstance(head, str):
                            self.skip_blank()
                            items.append(self.transformer_rest(head, item_start, depth + 2))
                        else:
                            items.append(head)
                        self.skip_blank()
                        if not text.startswith(",", self.pos):
                            break
                        self.pos += 1
                        self.skip_blank()
                    self.expect(")", "expected ')'")
                args.append(ListValue(items, self.at(arg_start)))
            else:
                head = self.argument_head(ERR_TRANSFORMER_ARG, depth + 2)
                args.append(self.transformer_rest(head, arg_start, depth + 2) if isinstance(head, str) else head)
            self.skip_blank()
            if not text.startswith(",", self.pos):
                break
            self.pos += 1
        self.skip_blank()
        self.expect(")", "expected a ')' token closing the transformer")
        return Transformer(name, args, self.bracket_arg(), self.at(start))

    def argument_head(self, message: str, depth: int) -> StrValue | FieldRef | str:
        """A number, quoted string or field at pos; for a transformer, its name once "name(" is lexed."""
        text = self.text
        start = self.pos
        match = _NAME.match(text, start)
        if match is not None:
            name = match.group()
            end = match.end()
            if name in _TRANSFORMERS and text.startswith("(", end):
                self.pos = end + 1
                return name
            if "." in name:
                self.pos = end
                return self.field_rest(name, start, depth)
        value = self.number_value() or self.quoted_value()
        if value is None:
            raise self.error(message)
        return value
