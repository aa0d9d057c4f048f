"""Falco's decode_val family: typed values out of YAML nodes, with the loader's exact error texts."""

from __future__ import annotations

from bot.rules import messages as m
from bot.rules.collector import ExceptionEntry, fail
from bot.rules.result import Context
from bot.rules.yamlsrc import Node, ScalarNode, SequenceNode, decode_bool, decode_uint, is_null

YV = m.YAML_VALIDATE
_STR_TAG = "tag:yaml.org,2002:str"


def scalar(keys: dict[str, Node], key: str, ctx: Context, optional: bool = False) -> ScalarNode | None:
    """The scalar node under `key`, checked as decode_val_generic checks it."""
    val = keys.get(key)
    if val is None:
        fail(not optional, YV, f"Item has no mapping for key '{key}'", ctx)
        return None
    if isinstance(val, ScalarNode) and val.value and val.tag == _STR_TAG:
        return val  # the common case, decided without building contexts
    fail(is_null(val), YV, f"Mapping for key '{key}' is empty", ctx)
    valctx = ctx.at(val, m.VALUE_FOR, key)
    fail(not isinstance(val, ScalarNode), YV, "Value is not a scalar value", valctx)
    assert isinstance(val, ScalarNode)
    fail(val.value == "", YV, "Value must be non-empty", valctx)
    return val


def string(keys: dict[str, Node], key: str, ctx: Context) -> str:
    """A required string value."""
    node = scalar(keys, key, ctx)
    assert node is not None
    return str(node.value)


def opt_string(keys: dict[str, Node], key: str, ctx: Context) -> str | None:
    """An optional string value."""
    node = scalar(keys, key, ctx, optional=True)
    return None if node is None else str(node.value)


def boolean(keys: dict[str, Node], key: str, ctx: Context, optional: bool = False) -> bool | None:
    """A bool as yaml-cpp converts it."""
    if optional and key not in keys:
        return None  # what scalar() gives, without its call
    node = scalar(keys, key, ctx, optional)
    if node is None:
        return None
    value = decode_bool(node.value)
    fail(value is None, YV, "Can't decode YAML scalar value", ctx.at(node, m.VALUE_FOR, key))
    return value


def uint(keys: dict[str, Node], key: str, ctx: Context, bits: int, optional: bool = False) -> int | None:
    """An unsigned integer as yaml-cpp converts it."""
    if optional and key not in keys:
        return None  # what scalar() gives, without its call
    node = scalar(keys, key, ctx, optional)
    if node is None:
        return None
    value = decode_uint(node.value, bits)
    fail(value is None, YV, "Can't decode YAML scalar value", ctx.at(node, m.VALUE_FOR, key))
    return value


def sequence(keys: dict[str, Node], key: str, ctx: Context, optional: bool) -> list[str] | None:
    """A sequence of scalars (`items`, `tags`), as decode_seq reads it."""
    val = keys.get(key)
    if val is None:
        fail(not optional, YV, f"Item has no mapping for key '{key}'", ctx)
        return None
    valctx = ctx.at(val, m.VALUE_FOR, key)
    fail(not isinstance(val, SequenceNode), YV, "Value is not a sequence", valctx)
    out: list[str] = []
    assert isinstance(val, SequenceNode)
    items = val.value
    for item in items:
        if not isinstance(item, ScalarNode):
            break
    else:
        return [item.value for item in items]  # the common case, without a context per item
    for item in items:
        fail(not isinstance(item, ScalarNode), YV, "sequence value is not scalar", valctx.at(item, m.LIST_ITEM))
        out.append(item.value)
    return out


def exception_entry(val: Node, key: str, ctx: Context, depth: int = 0) -> ExceptionEntry:
    """A scalar or nested sequence of an exception's fields/comps/values (decode_exception_info_entry)."""
    valctx = ctx.at(val, m.VALUE_FOR, key)
    out = ExceptionEntry()
    if isinstance(val, ScalarNode) and not is_null(val):
        fail(val.value == "", YV, "Value must be non-empty", valctx)
        out.item = val.value
    elif isinstance(val, SequenceNode):
        out.is_list = True
        fail(depth > 16, YV, "Could not decode scalar value", valctx)
        for v in val.value:
            out.items.append(exception_entry(v, "", valctx.at(v, m.EXCEPTION), depth + 1))
    # Falco's entry::is_valid(): a non-empty list or a non-empty scalar.
    out.valid = bool(out.items) if out.is_list else bool(out.item)
    return out
