"""Falco's rules reader: each YAML item decoded, checked and handed to the collector, in Falco's order."""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.rules import decode as d
from bot.rules import messages as m
from bot.rules.collector import (
    Collector,
    ExceptionInfo,
    ListInfo,
    LoadConfig,
    MacroInfo,
    PluginRequirement,
    RuleInfo,
    RuleUpdate,
    TextPart,
    fail,
)
from bot.rules.result import Context
from bot.rules.yamlsrc import (
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
    decode_uint,
    duplicate_keys,
    is_null,
    mapping_index,
)

YV = m.YAML_VALIDATE
Warn = Callable[[str, str, Context], None]

LIST_KEYS = frozenset({"list", "items", "append", "override"})
MACRO_KEYS = frozenset({"macro", "condition", "append", "override"})
RULE_KEYS = frozenset(
    {
        "rule", "condition", "output", "desc", "priority", "source", "enabled", "capture",
        "capture_duration", "warn_evttypes", "skip-if-unknown-filter", "tags", "exceptions",
        "override", "append",
    }
)  # fmt: skip
RULE_APPENDABLE = ("condition", "output", "desc", "tags", "exceptions")
RULE_REPLACEABLE = (
    "condition", "output", "desc", "priority", "tags", "exceptions", "enabled", "warn_evttypes",
    "skip-if-unknown-filter", "capture", "capture_duration",
)  # fmt: skip
PRIORITIES = ("emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug")

_LIST_NAME = re.compile(r"[^()\"'\s=,]+")
_MACRO_NAME = re.compile(r"[a-zA-Z]+[a-zA-Z0-9_]*")


def parse_priority(text: str) -> int | None:
    """Falco's parse_priority: case-insensitive names, `info` for Informational."""
    low = text.lower()
    if low == "info":
        return 6
    return PRIORITIES.index(low) if low in PRIORITIES else None


def parse_semver(text: str) -> tuple[int, int, int] | None:
    """sinsp_version: three unsigned numbers separated by dots (sscanf semantics, suffix ignored)."""
    match = re.match(r"\s*\+?(\d+)\.\s*\+?(\d+)\.\s*\+?(\d+)", text)
    if not match:
        return None
    major, minor, patch = (int(g) for g in match.groups())
    if max(major, minor, patch) >= 1 << 32:
        return None
    return major, minor, patch


class Reader:
    """Reads the items of one document sequence into a collector."""

    def __init__(self, collector: Collector, cfg: LoadConfig, engine: tuple[int, int, int]) -> None:
        self.col = collector
        self.cfg = cfg
        self.engine = engine
        self.item: MappingNode | None = None  # the top-level item being read

    def warn_unknown_keys(self, keys: dict[str, Node], allowed: frozenset[str], ctx: Context) -> None:
        """LOAD_UNKNOWN_KEY for every key Falco would ignore."""
        if allowed.issuperset(keys):
            return  # the common case
        item = self.item
        # The key node of each key (its first occurrence), to point at the key rather than its value.
        key_nodes = {} if item is None else {k.value: k for k, _ in reversed(item.value) if isinstance(k, ScalarNode)}
        for key in keys:
            if key not in allowed:
                where = ctx.pointing_at(key_nodes.get(key, keys[key]))
                self.cfg.warn("LOAD_UNKNOWN_KEY", f"Unknown key '{key}'. The key will be ignored.", where)

    def read_item(self, item: Node, parent: Context) -> None:
        """One top-level element, dispatched as Falco dispatches it."""
        if not isinstance(item, MappingNode):
            fail(
                True,
                YV,
                "Unexpected element type. Each element should be a yaml associative array.",
                parent.at(item, m.RULES_CONTENT_ITEM),
            )
        assert isinstance(item, MappingNode)
        keys = mapping_index(item)
        self.item = item
        if len(keys) != len(item.value):
            for dup in duplicate_keys(item):
                self.cfg.warn(
                    "BOT_DUPLICATE_KEY",
                    m.bot_message("duplicate_key", key=dup.value),
                    parent.at(dup, m.VALUE_FOR, dup.value),
                )
        if "required_engine_version" in keys:
            self.read_engine_version(item, keys, parent)
        elif "required_plugin_versions" in keys:
            self.read_plugin_versions(keys, parent)
        elif "list" in keys:
            self.read_list(item, keys, parent)
        elif "macro" in keys:
            self.read_macro(item, keys, parent)
        elif "rule" in keys:
            self.read_rule(item, keys, parent)
        else:
            self.cfg.warn("LOAD_UNKNOWN_ITEM", "Unknown top level item", parent.at(item, m.RULES_CONTENT_ITEM))

    def read_engine_version(self, item: Node, keys: dict[str, Node], parent: Context) -> None:
        """`required_engine_version`: an integer N (meaning 0.N.0) or a semver string."""
        ctx = parent.at(item, m.REQUIRED_ENGINE_VERSION)
        self.warn_unknown_keys(keys, frozenset({"required_engine_version"}), ctx)
        node = d.scalar(keys, "required_engine_version", ctx)
        assert node is not None
        as_int = decode_uint(node.value, 32)
        if as_int is not None:
            version: tuple[int, int, int] = (0, as_int, 0)
        else:
            parsed = parse_semver(node.value)
            fail(
                parsed is None,
                YV,
                f"Unable to parse engine version '{node.value}' as a semver string. Expected \"x.y.z\" semver format.",
                ctx,
            )
            assert parsed is not None
            version = parsed
        eng = self.engine
        compatible = eng[0] == version[0] and eng >= version
        fail(
            not compatible,
            m.VALIDATE,
            f"Rules require engine version {'.'.join(map(str, version))}, "
            f"but engine version is {'.'.join(map(str, eng))}",
            ctx,
        )
        if self.col.required_engine_version is None or self.col.required_engine_version < version:
            self.col.required_engine_version = version
            self.col.engine_version_ctx = ctx

    def read_plugin_versions(self, keys: dict[str, Node], parent: Context) -> None:
        """`required_plugin_versions`: entries with name, version and optional alternatives."""
        seq = keys["required_plugin_versions"]
        ctx = parent.at(seq, m.REQUIRED_PLUGIN_VERSIONS)
        self.warn_unknown_keys(keys, frozenset({"required_plugin_versions"}), ctx)
        fail(not isinstance(seq, SequenceNode), YV, "Value of required_plugin_versions must be a sequence", ctx)
        for plugin in seq.value:
            tmp = ctx.at(plugin, m.REQUIRED_PLUGIN_VERSIONS_ENTRY)
            fail(not isinstance(plugin, MappingNode), YV, "Plugin version must be a mapping", tmp)
            pkeys = mapping_index(plugin)
            name = d.string(pkeys, "name", tmp)
            pctx = ctx.at(plugin, m.REQUIRED_PLUGIN_VERSIONS_ENTRY, name)
            alternatives = [(name, d.string(pkeys, "version", pctx))]
            alts = pkeys.get("alternatives")
            if alts is not None:
                fail(
                    not isinstance(alts, SequenceNode),
                    YV,
                    "Value of plugin version alternatives must be a sequence",
                    pctx,
                )
                for alt in alts.value:
                    actx = pctx.at(alt, m.REQUIRED_PLUGIN_VERSIONS_ALTERNATIVE)
                    fail(not isinstance(alt, MappingNode), YV, "Plugin version alternative must be a mapping", actx)
                    akeys = mapping_index(alt)
                    alt_name = d.string(akeys, "name", actx)
                    actx = pctx.at(alt, m.REQUIRED_PLUGIN_VERSIONS_ALTERNATIVE, alt_name)
                    alternatives.append((alt_name, d.string(akeys, "version", actx)))
            seen: set[str] = set()
            for alt_name, version in alternatives:
                fail(
                    parse_semver(version) is None,
                    m.VALIDATE,
                    f"Invalid required version '{version}' for plugin '{alt_name}'",
                    pctx,
                )
                fail(
                    alt_name in seen,
                    m.VALIDATE,
                    f"Defined multiple alternative version requirements for plugin '{alt_name}'",
                    pctx,
                )
                seen.add(alt_name)
            self.col.plugin_requirements.append(PluginRequirement(alternatives, pctx))

    def read_overrides(
        self, item: Node, keys: dict[str, Node], appendable: tuple[str, ...], replaceable: tuple[str, ...], ctx: Context
    ) -> tuple[list[str], list[str]]:
        """The `override:` mapping split into keys to append and keys to replace (decode_overrides)."""
        val = keys.get("override")
        if val is None or not isinstance(val, MappingNode):
            return [], []
        octx = ctx.at(item, m.OVERRIDE)
        append: list[str] = []
        replace: list[str] = []
        for knode, vnode in val.value:
            key = str(knode.value) if isinstance(knode, ScalarNode) else ""
            op = str(vnode.value) if isinstance(vnode, ScalarNode) and not is_null(vnode) else ""
            if op == "append":
                fail(
                    key not in appendable,
                    YV,
                    f"Key '{key}' cannot be appended to, use 'replace' instead",
                    octx.at(knode, m.OVERRIDE, key),
                )
                append.append(key)
            elif op == "replace":
                fail(key not in replaceable, YV, f"Key '{key}' cannot be replaced", octx.at(knode, m.OVERRIDE, key))
                replace.append(key)
            else:
                allowed = ("append " if key in appendable else "") + ("replace " if key in replaceable else "")
                fail(
                    True,
                    YV,
                    f"Invalid override operation for key '{key}': '{op}'. Allowed values are: {allowed}",
                    octx.at(vnode, m.VALUE_FOR, key),
                )
        return append, replace

    def read_append_mode(
        self, item: Node, keys: dict[str, Node], appendable: tuple[str, ...], replaceable: tuple[str, ...], ctx: Context
    ) -> tuple[bool, list[str], list[str]]:
        """The legacy `append: true` (deprecated) and the `override:` keys, which exclude each other."""
        append = bool(d.boolean(keys, "append", ctx, optional=True))
        if append:
            self.cfg.warn("LOAD_DEPRECATED_ITEM", m.WARNING_APPEND, ctx)
        o_append, o_replace = self.read_overrides(item, keys, appendable, replaceable, ctx)
        fail(append and bool(o_append or o_replace), YV, m.ERROR_OVERRIDE_APPEND, ctx)
        return append, o_append, o_replace

    def read_list(self, item: Node, keys: dict[str, Node], parent: Context) -> None:
        """`- list:` items, appended or defined."""
        name = d.string(keys, "list", parent.at(item, m.LIST))
        ctx = parent.at(item, m.LIST, name)
        if not _LIST_NAME.fullmatch(name):
            self.cfg.warn("LOAD_INVALID_LIST_NAME", m.INVALID_LIST_NAME, ctx)
        items = d.sequence(keys, "items", ctx, optional=False)
        append, o_append, _ = self.read_append_mode(item, keys, ("items",), ("items",), ctx)
        info = ListInfo(name, items or [], ctx, item)
        self.warn_unknown_keys(keys, LIST_KEYS, ctx)
        if append or "items" in o_append:
            self.col.append_list(info)
        else:
            self.col.define_list(info)

    def read_macro(self, item: Node, keys: dict[str, Node], parent: Context) -> None:
        """`- macro:` items, appended or defined."""
        name = d.string(keys, "macro", parent.at(item, m.MACRO))
        ctx = parent.at(item, m.MACRO, name)
        if not _MACRO_NAME.fullmatch(name):
            self.cfg.warn("LOAD_INVALID_MACRO_NAME", m.INVALID_MACRO_NAME, ctx)
        cond_node = d.scalar(keys, "condition", ctx)
        assert cond_node is not None
        cond_ctx = ctx.at(cond_node, m.MACRO_CONDITION)
        append, o_append, _ = self.read_append_mode(item, keys, ("condition",), ("condition",), ctx)
        parts = [TextPart(0, cond_node, ctx.file)]
        info = MacroInfo(name, cond_node.value, ctx, cond_ctx, parts, item)
        self.warn_unknown_keys(keys, MACRO_KEYS, ctx)
        if append or "condition" in o_append:
            self.col.append_macro(info)
        else:
            self.col.define_macro(info)

    def read_rule(self, item: Node, keys: dict[str, Node], parent: Context) -> None:
        """`- rule:` items in their four shapes: definition, enable-only, legacy append, override."""
        from bot.rules.rule_reader import read_rule

        read_rule(self, item, keys, parent)


def read_exceptions(reader: Reader, keys: dict[str, Node], parent: Context, append: bool) -> list[ExceptionInfo]:
    """A rule's `exceptions:` (read_rule_exceptions)."""
    exs = keys.get("exceptions")
    if exs is None or is_null(exs):
        return []
    exes_ctx = parent.at(exs, m.EXCEPTIONS)
    fail(not isinstance(exs, SequenceNode), YV, "Rule exceptions must be a sequence", exes_ctx)
    out: list[ExceptionInfo] = []
    for ex in exs.value:
        tmp = exes_ctx.at(ex, m.EXCEPTION)
        fail(not isinstance(ex, MappingNode), YV, "Rule exception must be a mapping", tmp)
        ekeys = mapping_index(ex)
        name = d.string(ekeys, "name", tmp)
        ex_ctx = parent.at(ex, m.EXCEPTION, name)
        info = ExceptionInfo(name, ex_ctx)
        if any(e.name == name for e in out):
            reader.cfg.warn(
                "LOAD_EXCEPTION_NAME_NOT_UNIQUE", f"Multiple definitions of exception '{name}' in the same rule", ex_ctx
            )
        fields = ekeys.get("fields")
        fail(fields is None and not append, YV, "Item has no mapping for key 'fields'", ex_ctx)
        if fields is not None:
            info.fields = d.exception_entry(fields, "fields", ex_ctx)
        comps = ekeys.get("comps")
        if comps is not None:
            info.comps = d.exception_entry(comps, "comps", ex_ctx)
        values = ekeys.get("values")
        if values is not None:
            vals_ctx = ex_ctx.at(values, m.EXCEPTION_VALUES)
            fail(not isinstance(values, SequenceNode), YV, "Rule exception values must be a sequence", vals_ctx)
            for val in values.value:
                info.values.append(d.exception_entry(val, "", vals_ctx.at(val, m.EXCEPTION_VALUE)))
        elif append:
            reader.cfg.warn("LOAD_APPEND_NO_VALUES", "Overriding/appending exception with no values", ex_ctx)
        out.append(info)
    return out


def new_rule(name: str, ctx: Context, item: Node) -> RuleInfo:
    """An empty rule definition to fill in."""
    return RuleInfo(name=name, ctx=ctx, node=item)


def new_update(name: str, ctx: Context) -> RuleUpdate:
    """An empty rule update to fill in."""
    return RuleUpdate(name=name, ctx=ctx)
