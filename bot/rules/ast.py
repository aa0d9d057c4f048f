"""The syntax tree of a Falco condition, with the position of every node."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Pos:
    """A place in a condition text: 0-based offset, 1-based line and column (as libsinsp counts)."""

    offset: int
    line: int
    col: int


@dataclass(slots=True)
class And:
    """`a and b and c` (n-ary, at least two children)."""

    children: list[Expr]
    pos: Pos


@dataclass(slots=True)
class Or:
    """`a or b or c` (n-ary, at least two children)."""

    children: list[Expr]
    pos: Pos


@dataclass(slots=True)
class Not:
    """`not a`."""

    child: Expr
    pos: Pos


@dataclass(slots=True)
class Identifier:
    """A bare identifier used as a check: a macro reference."""

    name: str
    pos: Pos


@dataclass(slots=True)
class FieldRef:
    """A field, e.g. `proc.name` or `proc.aname[2]`; `arg` is the raw text inside the brackets."""

    name: str
    arg: str | None
    pos: Pos


@dataclass(slots=True)
class Transformer:
    """A transformer call, e.g. `tolower(proc.name)`, `join(",", proc.args)`, or `val(proc.pname)`."""

    name: str
    args: list[TransformerArg]
    arg: str | None
    pos: Pos


@dataclass(slots=True)
class StrValue:
    """A literal value: a bare string, a number, or a quoted string (already unescaped)."""

    value: str
    quoted: bool
    pos: Pos


@dataclass(slots=True)
class ListValue:
    """A parenthesised list of values `(a, "b c", 3)`; a bare identifier after a list operator is a one-item list."""

    values: list[ListItem]
    pos: Pos


@dataclass(slots=True)
class Check:
    """A comparison `lhs op [modifier] rhs`, or `lhs exists` (rhs is None)."""

    lhs: Operand
    op: str
    modifier: str | None
    rhs: Value | None
    pos: Pos


Operand = FieldRef | Transformer
TransformerArg = FieldRef | Transformer | StrValue | ListValue
ListItem = StrValue | FieldRef | Transformer
Value = StrValue | ListValue | FieldRef | Transformer
Expr = And | Or | Not | Identifier | Check
