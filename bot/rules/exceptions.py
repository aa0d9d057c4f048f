"""Rule exceptions: their checks (validate_exception_info) and the condition text they add."""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.rules import messages as m
from bot.rules.collector import ExceptionEntry, ExceptionInfo, fail
from bot.rules.condition import LIST_OPERATORS, MODIFIABLE_OPERATORS, SUPPORTED_OPERATORS
from bot.rules.lists import quote_item

OPERATORS = SUPPORTED_OPERATORS
STRING_OPS = MODIFIABLE_OPERATORS
MODIFIERS = frozenset({"oneof", "anyof", "allof"})
LIST_OPS = LIST_OPERATORS
_WS = re.compile(r"\s+")

FieldDefined = Callable[[str, str], bool]


def normalize_comp(comp: str) -> str:
    """Whitespace trimmed and collapsed, so `  startswith   oneof ` reads `startswith oneof`."""
    return _WS.sub(" ", comp.strip())


def is_modifier_op(comp: str) -> bool:
    """`<string operator> oneof|anyof|allof`."""
    parts = comp.split(" ")
    return len(parts) == 2 and parts[0] in STRING_OPS and parts[1] in MODIFIERS


def is_supported_comp(comp: str) -> bool:
    """An operator an exception may use."""
    return comp in OPERATORS or is_modifier_op(comp)


def is_list_op(comp: str) -> bool:
    """Operators whose right-hand side is a list (values get parentheses)."""
    return comp in LIST_OPS or is_modifier_op(comp)


def validate_exception(source: str | None, ex: ExceptionInfo, field_defined: FieldDefined) -> None:
    """Falco's validate_exception_info; comps get their defaults and are normalised in place."""
    vx = m.VALIDATE
    if ex.fields.is_list:
        if not ex.comps.valid:
            ex.comps = ExceptionEntry(True, "", [ExceptionEntry(False, "=", [], True) for _ in ex.fields.items], True)
        fail(len(ex.fields.items) != len(ex.comps.items), vx, "Fields and comps lists must have equal length", ex.ctx)
        for comp in ex.comps.items:
            comp.item = normalize_comp(comp.item)
            fail(
                not is_supported_comp(comp.item),
                vx,
                f"'{comp.item}' is not a supported comparison operator",
                ex.ctx,
            )
        if source is not None:
            for fld in ex.fields.items:
                fail(
                    not field_defined(source, fld.item),
                    vx,
                    f"'{fld.item}' is not a supported filter field",
                    ex.ctx,
                )
    else:
        if not ex.comps.valid:
            ex.comps = ExceptionEntry(False, "in", [], True)
        fail(ex.comps.is_list, vx, "Fields and comps must both be strings", ex.ctx)
        ex.comps.item = normalize_comp(ex.comps.item)
        fail(
            ex.comps.item not in LIST_OPS and not is_modifier_op(ex.comps.item),
            vx,
            "When fields is a single value, comps must be one of (in, pmatch, intersects) "
            "or a modifier operator (e.g. startswith oneof)",
            ex.ctx,
        )
        if source is not None:
            fail(
                not field_defined(source, ex.fields.item),
                vx,
                f"'{ex.fields.item}' is not a supported filter field",
                ex.ctx,
            )


def _paren(item: str) -> str:
    return item if item.startswith("(") else "(" + item + ")"


def exceptions_condition(condition: str, exceptions: list[ExceptionInfo]) -> str:
    """build_rule_exception_infos: `(cond) and not (...)` for every exception with values."""
    condition = "(" + condition + ")"
    for ex in exceptions:
        if not ex.fields.is_list:
            icond = ""
            for val in ex.values:
                fail(val.is_list, m.VALIDATE, "Expected values array to contain a list of strings", ex.ctx)
                icond += f"({ex.fields.item} {ex.comps.item} (" if not icond else ", "
                icond += quote_item(val.item)
            icond += "))" if icond else ""
        else:
            icond = "("
            for values in ex.values:
                fail(
                    len(ex.fields.items) != len(values.items),
                    m.VALIDATE,
                    "Fields and values lists must have equal length",
                    ex.ctx,
                )
                icond += "" if icond == "(" else " or "
                icond += "("
                for k, fld in enumerate(ex.fields.items):
                    icond += "" if k == 0 else " and "
                    value = values.items[k]
                    comp = ex.comps.items[k].item
                    if value.is_list:
                        istr = "(" + ", ".join(quote_item(v.item) for v in value.items) + ")"
                    elif is_list_op(comp):
                        istr = _paren(value.item)
                    else:
                        istr = quote_item(value.item)
                    icond += f" {fld.item} {comp} {istr}"
                icond += ")"
            icond += ")"
            if icond == "()":
                icond = ""
        condition += " and not " + icond if icond else ""
    return condition
