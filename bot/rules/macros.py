"""Macro references resolved as Falco's filter_macro_resolver does: visibility, loops, unknown names."""

from __future__ import annotations

from bot.rules.ast import And, Check, Expr, Identifier, Not, Or, Pos
from bot.rules.record import Record


class MacroProblem(Record):
    """A reference that failed: `loop` (reference loop) or `unknown` (undefined macro)."""

    __slots__ = ("kind", "name", "owner", "pos")

    def __init__(self, kind: str, name: str, pos: Pos, owner: str | None) -> None:
        self.kind = kind
        self.name = name
        self.pos = pos
        self.owner = owner  # macro whose text holds the reference, None for the top-level condition


class Resolution(Record):
    """What resolving one condition found: macros used, and problems in discovery order."""

    __slots__ = ("loops", "unknown", "used")

    def __init__(
        self,
        used: set[str] | None = None,
        loops: list[MacroProblem] | None = None,
        unknown: list[MacroProblem] | None = None,
    ) -> None:
        self.used: set[str] = set() if used is None else used
        self.loops: list[MacroProblem] = [] if loops is None else loops
        self.unknown: list[MacroProblem] = [] if unknown is None else unknown

    def first_error(self) -> MacroProblem | None:
        """Falco complains about the first loop, else the first unknown macro."""
        if self.loops:
            return self.loops[0]
        return self.unknown[0] if self.unknown else None


def identifiers(expr: Expr) -> list[Identifier]:
    """Macro references of one condition, left to right."""
    out: list[Identifier] = []
    stack: list[Expr] = [expr]
    pop = stack.pop
    while stack:
        node = pop()
        kind = node.__class__
        # Exact classes first (the AST's own), then isinstance for anything derived from them.
        if kind is Check:
            continue
        if kind is And or kind is Or:
            stack.extend(reversed(node.children))  # type: ignore[union-attr]
        elif kind is Identifier:
            out.append(node)  # type: ignore[arg-type]
        elif kind is Not:
            stack.append(node.child)  # type: ignore[union-attr]
        elif isinstance(node, (And, Or)):
            stack.extend(reversed(node.children))
        elif isinstance(node, Not):
            stack.append(node.child)
        elif isinstance(node, Identifier):
            out.append(node)
        elif not isinstance(node, Check):  # pragma: no cover - the AST has no other kinds
            raise TypeError(type(node).__name__)
    return out


class MacroResolver:
    """Resolves references against parsed macro conditions, memoising each macro's expansion."""

    def __init__(self, asts: dict[str, Expr | None], refs: dict[str, list[Identifier]], index: dict[str, int]) -> None:
        self.index = index  # macro name -> definition index, for visibility
        self.asts = asts
        self.refs = refs
        self._memo: dict[str, Resolution] = {}

    def resolve(
        self, expr: Expr, visible: int | None, owner: str | None = None, path: tuple[str, ...] = ()
    ) -> Resolution:
        """Resolve `expr`; macros defined at an index below `visible` are visible (None: all, as for rules)."""
        res = Resolution()
        for ident in identifiers(expr) if owner is None else self.refs.get(owner, []):
            self._visit(ident, visible, owner, path, res)
        return res

    def _visit(
        self, ident: Identifier, visible: int | None, owner: str | None, path: tuple[str, ...], res: Resolution
    ) -> None:
        name = ident.name
        known = name in self.asts if visible is None else self.index.get(name, visible) < visible
        if not known:
            res.unknown.append(MacroProblem("unknown", name, ident.pos, owner))
            return
        if name in path:
            res.loops.append(MacroProblem("loop", name, ident.pos, owner))
            return
        res.used.add(name)
        if self.asts.get(name) is None:
            return  # the macro failed to parse; its own error is reported where it is defined
        if visible is None:
            sub = self._memo.get(name)
            if sub is None:
                sub = self.resolve_macro(name, None, (name,))
                self._memo[name] = sub
            if path and not sub.loops and sub.used.intersection(path):
                sub = self.resolve_macro(name, None, (*path, name))  # a loop through the outer path
        else:
            sub = self.resolve_macro(name, visible, (*path, name))
        res.used.update(sub.used)
        res.loops.extend(sub.loops)
        res.unknown.extend(sub.unknown)

    def resolve_macro(self, name: str, visible: int | None, path: tuple[str, ...]) -> Resolution:
        """Resolve the references inside macro `name`."""
        res = Resolution()
        for ident in self.refs.get(name, []):
            self._visit(ident, visible, name, path, res)
        return res


def substitute(expr: Expr, asts: dict[str, Expr | None], depth: int = 0) -> Expr:
    """A copy of `expr` with every macro reference replaced by the macro's condition (for printing)."""
    if depth > 200:
        return expr
    if isinstance(expr, And):
        return And([substitute(c, asts, depth + 1) for c in expr.children], expr.pos)
    if isinstance(expr, Or):
        return Or([substitute(c, asts, depth + 1) for c in expr.children], expr.pos)
    if isinstance(expr, Not):
        return Not(substitute(expr.child, asts, depth + 1), expr.pos)
    if isinstance(expr, Identifier):
        target = asts.get(expr.name)
        return expr if target is None else substitute(target, asts, depth + 1)
    return expr
