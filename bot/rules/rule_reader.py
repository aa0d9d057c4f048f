"""The `- rule:` item in its four shapes, decoded in the order Falco's reader decodes it."""

from __future__ import annotations

from bot.rules import decode as d
from bot.rules import messages as m
from bot.rules.collector import RuleUpdate, TextPart, fail
from bot.rules.result import Context
from bot.rules.yamlsrc import Node, ScalarNode, is_null

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start-up
if TYPE_CHECKING:
    from bot.rules.reader import Reader


YV = m.YAML_VALIDATE
AUTHORING = ("condition", "output", "desc", "priority")


def read_rule(reader: Reader, item: Node, keys: dict[str, Node], parent: Context) -> None:
    """Dispatch a rule item to its shape."""
    from bot.rules.reader import RULE_APPENDABLE, RULE_KEYS, RULE_REPLACEABLE, read_exceptions

    name = d.string(keys, "rule", parent.at(item, m.RULE))
    ctx = parent.at(item, m.RULE, name)
    has_append, o_append, o_replace = reader.read_append_mode(item, keys, RULE_APPENDABLE, RULE_REPLACEABLE, ctx)
    if o_append or o_replace:
        expected = {k for k in (*RULE_APPENDABLE, *RULE_REPLACEABLE) if k in keys}
        if o_append:
            upd = _update(reader, keys, ctx, o_append, expected, "append")
            reader.warn_unknown_keys(keys, RULE_KEYS, ctx)
            reader.col.append_rule(reader.cfg, upd)
        if o_replace:
            upd = _update(reader, keys, ctx, o_replace, expected, "replace")
            if not o_append:
                reader.warn_unknown_keys(keys, RULE_KEYS, ctx)
            reader.col.replace_rule(reader.cfg, upd)
        for key in sorted(expected):
            fail(
                True,
                YV,
                f"Unexpected key '{key}': no corresponding entry under 'override' is defined.",
                ctx.at(keys[key], m.OVERRIDE, key),
            )
    elif has_append:
        upd = RuleUpdate(name=name, ctx=ctx)
        if "condition" in keys:
            node = d.scalar(keys, "condition", ctx)
            assert node is not None
            upd.cond, upd.cond_node = node.value, node
        if "exceptions" in keys:
            upd.exceptions = read_exceptions(reader, keys, ctx, True)
        upd.source = _lenient_source(keys)
        reader.warn_unknown_keys(keys, RULE_KEYS, ctx)
        reader.col.append_rule(reader.cfg, upd)
    elif not any(k in keys for k in AUTHORING):
        upd = RuleUpdate(name=name, ctx=ctx, enabled=d.boolean(keys, "enabled", ctx))
        reader.cfg.warn("LOAD_DEPRECATED_ITEM", m.WARNING_ENABLED, ctx)
        reader.warn_unknown_keys(keys, RULE_KEYS, ctx)
        reader.col.enable_rule(upd)
    else:
        _define(reader, item, keys, name, ctx)


def _define(reader: Reader, item: Node, keys: dict[str, Node], name: str, ctx: Context) -> None:
    """A full rule definition: condition, output, desc and priority are required."""
    from bot.rules.reader import new_rule, parse_priority, read_exceptions

    rule = new_rule(name, ctx, item)
    cond = d.scalar(keys, "condition", ctx)
    assert cond is not None
    rule.cond, rule.cond_ctx = cond.value, ctx.at(cond, m.RULE_CONDITION)
    rule.cond_parts = [TextPart(0, cond, ctx.file)]
    out = d.scalar(keys, "output", ctx)
    assert out is not None
    rule.output_ctx = ctx.at(out, m.RULE_OUTPUT)
    rule.desc = d.string(keys, "desc", ctx)
    priority = d.string(keys, "priority", ctx)
    stripped = out.value.strip(" \t\n\r\f\v")
    rule.output = stripped
    lead = len(out.value) - len(out.value.lstrip(" \t\n\r\f\v"))
    rule.output_parts = [TextPart(-lead, out, ctx.file)]
    parsed = parse_priority(priority)
    fail(parsed is None, YV, "Invalid priority", ctx.at(keys["priority"], m.RULE_PRIORITY))
    assert parsed is not None
    rule.priority = parsed
    rule.source = d.opt_string(keys, "source", ctx) or "syscall"
    rule.enabled = _opt_bool(keys, "enabled", ctx, True)
    rule.warn_evttypes = _opt_bool(keys, "warn_evttypes", ctx, True)
    rule.skip_if_unknown_filter = _opt_bool(keys, "skip-if-unknown-filter", ctx, False)
    rule.tags = _unique(d.sequence(keys, "tags", ctx, optional=True) or [])
    rule.capture = _opt_bool(keys, "capture", ctx, False)
    rule.capture_duration = d.uint(keys, "capture_duration", ctx, 64, optional=True) or 0
    rule.exceptions = read_exceptions(reader, keys, ctx, False)
    from bot.rules.reader import RULE_KEYS

    reader.warn_unknown_keys(keys, RULE_KEYS, ctx)
    reader.col.define_rule(reader.cfg, rule)


def _update(
    reader: Reader,
    keys: dict[str, Node],
    ctx: Context,
    wanted: list[str],
    expected: set[str],
    kind: str,
) -> RuleUpdate:
    """The keys listed under `override:` with one operation, checked against what the item defines."""
    from bot.rules.reader import parse_priority, read_exceptions

    upd = RuleUpdate(name=ctx.locations[-1].item_name, ctx=ctx)
    order = ("condition", "exceptions", "output", "desc", "tags", "priority", "enabled", "warn_evttypes",
             "skip-if-unknown-filter", "capture", "capture_duration")  # fmt: skip
    for key in order:
        if key not in wanted:
            continue
        fail(key not in expected, YV, f"An {kind} override for '{key}' was specified but '{key}' is not defined", ctx)
        expected.discard(key)
        if key == "condition":
            node = d.scalar(keys, key, ctx)
            assert node is not None
            upd.cond, upd.cond_node = node.value, node
        elif key == "output":
            node = d.scalar(keys, key, ctx)
            assert node is not None
            upd.output, upd.output_node = node.value, node
        elif key == "exceptions":
            upd.exceptions = read_exceptions(reader, keys, ctx, kind == "append")
        elif key == "desc":
            upd.desc = d.string(keys, key, ctx)
        elif key == "tags":
            upd.tags = _unique(d.sequence(keys, key, ctx, optional=False) or [])
        elif key == "priority":
            parsed = parse_priority(d.string(keys, key, ctx))
            fail(parsed is None, YV, "Invalid priority", ctx.at(keys[key], m.RULE_PRIORITY))
            upd.priority = parsed
        elif key == "capture_duration":
            upd.capture_duration = d.uint(keys, key, ctx, 64)
        else:
            setattr(upd, key.replace("-", "_"), d.boolean(keys, key, ctx))
    upd.source = _lenient_source(keys)
    return upd


def _lenient_source(keys: dict[str, Node]) -> str | None:
    """An append or override compares `source` only when it names one (an empty value is ignored)."""
    node = keys.get("source")
    if isinstance(node, ScalarNode) and not is_null(node) and node.value:
        return str(node.value)
    return None


def _opt_bool(keys: dict[str, Node], key: str, ctx: Context, default: bool) -> bool:
    value = d.boolean(keys, key, ctx, optional=True)
    return default if value is None else value


def _unique(tags: list[str]) -> list[str]:
    """Tags are a set in Falco; keep the first occurrence order for people."""
    return list(dict.fromkeys(tags))
