"""The event types a condition can match (libsinsp's ppm_event_codes), as bit sets."""

from __future__ import annotations

from collections.abc import Callable

from bot.rules.ast import And, Check, Expr, FieldRef, Identifier, ListValue, Not, StrValue

EVTTYPE_FIELDS = frozenset({"evt.type", "syscall.type"})
POSITIVE_OPS = frozenset({"=", "==", "in"})


class EventTypeAnalysis:
    """Computes matched event codes; `and` intersects, `or` unites, `not` complements at the leaves."""

    def __init__(
        self,
        all_codes: int,
        codes_of: Callable[[str], int],
        expansion: Callable[[Identifier], Expr | None],
        memo: dict[tuple[int, bool], int] | None = None,
    ) -> None:
        self.all = all_codes
        self.codes_of = codes_of
        self.expansion = expansion
        self._memo: dict[tuple[int, bool], int] = memo if memo is not None else {}

    def codes(self, expr: Expr, inverted: bool = False) -> int:
        """The bit set of event codes `expr` (negated when `inverted`) can match."""
        # Nodes are memoised by identity; a comparison is not (it is cheap), nor is a macro reference
        # (what it names may change between the compiles of one load), but the macro's own tree is.
        if isinstance(expr, Check):
            return self._leaf(expr, inverted)
        if isinstance(expr, Identifier):
            target = self.expansion(expr)
            return self.all if target is None else self.codes(target, inverted)
        key = (id(expr), inverted)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        if isinstance(expr, Not):
            result = self.codes(expr.child, not inverted)
        else:
            intersect = isinstance(expr, And) != inverted
            acc = self.all if intersect else 0
            leaf = self._leaf
            codes = self.codes
            for child in expr.children:
                sub = leaf(child, inverted) if isinstance(child, Check) else codes(child, inverted)
                acc = acc & sub if intersect else acc | sub
            result = acc
        self._memo[key] = result
        return result

    def _leaf(self, check: Check, inverted: bool) -> int:
        lhs = check.lhs
        if not isinstance(lhs, FieldRef) or lhs.name not in EVTTYPE_FIELDS or check.modifier is not None:
            return self.all
        op = check.op
        if op == "!=":
            inverted = not inverted
        elif op not in POSITIVE_OPS:
            return self.all
        rhs = check.rhs
        names: list[str] = []
        if isinstance(rhs, StrValue):
            names.append(rhs.value)
        elif isinstance(rhs, ListValue):
            names.extend(v.value for v in rhs.values if isinstance(v, StrValue))
        else:
            return self.all
        codes = 0
        for name in names:
            codes |= self.codes_of(name)
        return self.all & ~codes if inverted else codes
