"""The syntax tree of a Falco condition, with the position of every node."""

from __future__ import annotations

from bot.rules.record import Record


class Pos(Record):
    """A place in a condition text: 0-based offset, 1-based line and column (as libsinsp counts)."""

    __slots__ = ("col", "line", "offset")

    def __init__(self, offset: int, line: int, col: int) -> None:
        self.offset = offset
        self.line = line
        self.col = col


class And(Record):
    """`a and b and c` (n-ary, at least two children)."""

    __slots__ = ("children", "pos")

    def __init__(self, children: list[Expr], pos: Pos) -> None:
        self.children = children
        self.pos = pos


class Or(Record):
    """`a or b or c` (n-ary, at least two children)."""

    __slots__ = ("children", "pos")

    def __init__(self, children: list[Expr], pos: Pos) -> None:
        self.children = children
        self.pos = pos


class Not(Record):
    """`not a`."""

    __slots__ = ("child", "pos")

    def __init__(self, child: Expr, pos: Pos) -> None:
        self.child = child
        self.pos = pos


class Identifier(Record):
    """A bare identifier used as a check: a macro reference."""

    __slots__ = ("name", "pos")

    def __init__(self, name: str, pos: Pos) -> None:
        self.name = name
        self.pos = pos


class FieldRef(Record):
    """A field, e.g. `proc.name` or `proc.aname[2]`; `arg` is the raw text inside the brackets."""

    __slots__ = ("arg", "name", "pos")

    def __init__(self, name: str, arg: str | None, pos: Pos) -> None:
        self.name = name
        self.arg = arg
        self.pos = pos


class Transformer(Record):
    """A transformer call, e.g. `tolower(proc.name)`, `join(",", proc.args)`, or `val(proc.pname)`."""

    __slots__ = ("arg", "args", "name", "pos")

    def __init__(self, name: str, args: list[TransformerArg], arg: str | None, pos: Pos) -> None:
        self.name = name
        self.args = args
        self.arg = arg
        self.pos = pos


class StrValue(Record):
    """A literal value: a bare string, a number, or a quoted string (already unescaped)."""

    __slots__ = ("pos", "quoted", "value")

    def __init__(self, value: str, quoted: bool, pos: Pos) -> None:
        self.value = value
        self.quoted = quoted
        self.pos = pos


class ListValue(Record):
    """A parenthesised list of values `(a, "b c", 3)`; a bare identifier after a list operator is a one-item list."""

    __slots__ = ("pos", "values")

    def __init__(self, values: list[ListItem], pos: Pos) -> None:
        self.values = values
        self.pos = pos


class Check(Record):
    """A comparison `lhs op [modifier] rhs`, or `lhs exists` (rhs is None)."""

    __slots__ = ("lhs", "modifier", "op", "pos", "rhs")

    def __init__(self, lhs: Operand, op: str, modifier: str | None, rhs: Value | None, pos: Pos) -> None:
        self.lhs = lhs
        self.op = op
        self.modifier = modifier
        self.rhs = rhs
        self.pos = pos


Operand = FieldRef | Transformer
TransformerArg = FieldRef | Transformer | StrValue | ListValue
ListItem = StrValue | FieldRef | Transformer
Value = StrValue | ListValue | FieldRef | Transformer
Expr = And | Or | Not | Identifier | Check
