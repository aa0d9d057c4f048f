"""Whether an exception's field (possibly inside transformers) exists for a source (falco_source::is_field_defined)."""

from __future__ import annotations

from bot.rules.ast import FieldRef, ListValue, Transformer
from bot.rules.condition import parse_operand
from bot.rules.errors import RulesEngineError


def is_field_defined(text: str, fields: object) -> bool:
    """True when `text` is one field or transformer expression whose fields all resolve."""
    try:
        operand, end = parse_operand(text, 0)
    except RulesEngineError:
        return False
    if text[end:].strip():
        return False
    stack: list[object] = [operand]
    while stack:
        node = stack.pop()
        if isinstance(node, FieldRef):
            try:
                fields.resolve(node.name, node.arg)  # type: ignore[attr-defined]
            except RulesEngineError:
                return False
        elif isinstance(node, Transformer):
            stack.extend(node.args)
        elif isinstance(node, ListValue):
            stack.extend(node.values)
    return True
