"""The collected rule set: lists, macros and rules as defined, appended and overridden across files."""

from __future__ import annotations

from collections.abc import Callable

from bot.rules import messages as m
from bot.rules.record import Record
from bot.rules.result import Context
from bot.rules.yamlsrc import Node


class LoadError(Exception):
    """Falco's rule_load_exception: a code, Falco's message and the context it blames."""

    def __init__(self, code: str, message: str, ctx: Context) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ctx = ctx


def fail(cond: bool, code: str, message: str, ctx: Context) -> None:
    """Falco's THROW macro."""
    if cond:
        raise LoadError(code, message, ctx)


class TextPart(Record):
    """A piece of a condition or output and the YAML scalar it came from (appends join several)."""

    __slots__ = ("file", "node", "start")

    def __init__(self, start: int, node: Node, file: str) -> None:
        self.start = start
        self.node = node
        self.file = file


class ListInfo(Record):
    """A `- list:` item after appends."""

    __slots__ = ("ctx", "index", "items", "name", "node", "visibility")

    def __init__(
        self, name: str, items: list[str], ctx: Context, node: Node, index: int = 0, visibility: int = 0
    ) -> None:
        self.name = name
        self.items = items
        self.ctx = ctx
        self.node = node
        self.index = index
        self.visibility = visibility


class MacroInfo(Record):
    """A `- macro:` item after appends."""

    __slots__ = ("cond", "cond_ctx", "ctx", "index", "name", "node", "parts", "visibility")

    def __init__(
        self,
        name: str,
        cond: str,
        ctx: Context,
        cond_ctx: Context,
        parts: list[TextPart],
        node: Node,
        index: int = 0,
        visibility: int = 0,
    ) -> None:
        self.name = name
        self.cond = cond
        self.ctx = ctx
        self.cond_ctx = cond_ctx
        self.parts = parts
        self.node = node
        self.index = index
        self.visibility = visibility


class ExceptionEntry(Record):
    """A scalar or a (possibly nested) sequence inside an exception's fields, comps or values."""

    __slots__ = ("is_list", "item", "items", "valid")

    def __init__(
        self, is_list: bool = False, item: str = "", items: list[ExceptionEntry] | None = None, valid: bool = False
    ) -> None:
        self.is_list = is_list
        self.item = item
        self.items: list[ExceptionEntry] = [] if items is None else items
        self.valid = valid


class ExceptionInfo(Record):
    """One entry of a rule's `exceptions:`."""

    __slots__ = ("comps", "ctx", "fields", "name", "values")

    def __init__(
        self,
        name: str,
        ctx: Context,
        fields: ExceptionEntry | None = None,
        comps: ExceptionEntry | None = None,
        values: list[ExceptionEntry] | None = None,
    ) -> None:
        self.name = name
        self.ctx = ctx
        self.fields = ExceptionEntry() if fields is None else fields
        self.comps = ExceptionEntry() if comps is None else comps
        self.values: list[ExceptionEntry] = [] if values is None else values


class RuleInfo(Record):
    """A `- rule:` item after appends and overrides."""

    __slots__ = (
        "capture", "capture_duration", "cond", "cond_ctx", "cond_parts", "ctx", "desc", "enabled", "exceptions",
        "index", "name", "node", "output", "output_ctx", "output_parts", "priority", "skip_if_unknown_filter",
        "source", "tags", "unknown_source", "visibility", "warn_evttypes",
    )  # fmt: skip

    def __init__(
        self,
        name: str,
        ctx: Context,
        node: Node,
        cond: str = "",
        cond_ctx: Context | None = None,
        cond_parts: list[TextPart] | None = None,
        output: str = "",
        output_ctx: Context | None = None,
        output_parts: list[TextPart] | None = None,
        desc: str = "",
        priority: int = 0,
        source: str = "syscall",
        enabled: bool = True,
        warn_evttypes: bool = True,
        skip_if_unknown_filter: bool = False,
        tags: list[str] | None = None,
        exceptions: list[ExceptionInfo] | None = None,
        capture: bool = False,
        capture_duration: int = 0,
        unknown_source: bool = False,
        index: int = 0,
        visibility: int = 0,
    ) -> None:
        self.name = name
        self.ctx = ctx
        self.node = node
        self.cond = cond
        self.cond_ctx = cond_ctx
        self.cond_parts: list[TextPart] = [] if cond_parts is None else cond_parts
        self.output = output
        self.output_ctx = output_ctx
        self.output_parts: list[TextPart] = [] if output_parts is None else output_parts
        self.desc = desc
        self.priority = priority
        self.source = source
        self.enabled = enabled
        self.warn_evttypes = warn_evttypes
        self.skip_if_unknown_filter = skip_if_unknown_filter
        self.tags: list[str] = [] if tags is None else tags
        self.exceptions: list[ExceptionInfo] = [] if exceptions is None else exceptions
        self.capture = capture
        self.capture_duration = capture_duration
        self.unknown_source = unknown_source
        self.index = index
        self.visibility = visibility


class RuleUpdate(Record):
    """The keys an append or override brings to an existing rule (None: not given)."""

    __slots__ = (
        "capture", "capture_duration", "cond", "cond_node", "ctx", "desc", "enabled", "exceptions", "name",
        "output", "output_node", "priority", "skip_if_unknown_filter", "source", "tags", "warn_evttypes",
    )  # fmt: skip

    def __init__(
        self,
        name: str,
        ctx: Context,
        cond: str | None = None,
        cond_node: Node | None = None,
        output: str | None = None,
        output_node: Node | None = None,
        desc: str | None = None,
        tags: list[str] | None = None,
        exceptions: list[ExceptionInfo] | None = None,
        priority: int | None = None,
        enabled: bool | None = None,
        warn_evttypes: bool | None = None,
        skip_if_unknown_filter: bool | None = None,
        capture: bool | None = None,
        capture_duration: int | None = None,
        source: str | None = None,
    ) -> None:
        self.name = name
        self.ctx = ctx
        self.cond = cond
        self.cond_node = cond_node
        self.output = output
        self.output_node = output_node
        self.desc = desc
        self.tags = tags
        self.exceptions = exceptions
        self.priority = priority
        self.enabled = enabled
        self.warn_evttypes = warn_evttypes
        self.skip_if_unknown_filter = skip_if_unknown_filter
        self.capture = capture
        self.capture_duration = capture_duration
        self.source = source

    def has_any_value(self) -> bool:
        """Whether the update brings anything at all."""
        return any(
            v is not None
            for v in (
                self.cond,
                self.output,
                self.desc,
                self.tags,
                self.exceptions,
                self.priority,
                self.enabled,
                self.warn_evttypes,
                self.skip_if_unknown_filter,
                self.capture,
                self.capture_duration,
            )
        )


class PluginRequirement(Record):
    """One `required_plugin_versions` entry: the plugin and its accepted alternatives."""

    __slots__ = ("alternatives", "ctx")

    def __init__(self, alternatives: list[tuple[str, str]], ctx: Context) -> None:
        self.alternatives = alternatives
        self.ctx = ctx


ExceptionValidator = Callable[[str | None, ExceptionInfo], None]


class Collector(Record):
    """Falco's rule_loader::collector: the items of every file loaded so far, in definition order."""

    __slots__ = (
        "engine_version_ctx", "lists", "macros", "next_index", "plugin_requirements", "required_engine_version",
        "rules",
    )  # fmt: skip

    def __init__(
        self,
        lists: dict[str, ListInfo] | None = None,
        macros: dict[str, MacroInfo] | None = None,
        rules: dict[str, RuleInfo] | None = None,
        plugin_requirements: list[PluginRequirement] | None = None,
        required_engine_version: tuple[int, int, int] | None = None,
        engine_version_ctx: Context | None = None,
        next_index: int = 0,
    ) -> None:
        self.lists: dict[str, ListInfo] = {} if lists is None else lists
        self.macros: dict[str, MacroInfo] = {} if macros is None else macros
        self.rules: dict[str, RuleInfo] = {} if rules is None else rules
        self.plugin_requirements: list[PluginRequirement] = [] if plugin_requirements is None else plugin_requirements
        self.required_engine_version = required_engine_version
        self.engine_version_ctx = engine_version_ctx
        self.next_index = next_index

    def _next(self) -> int:
        self.next_index += 1
        return self.next_index - 1

    def define_list(self, info: ListInfo) -> None:
        """A new list, or a redefinition that keeps the original's place."""
        idx = self._next()
        prev = self.lists.get(info.name)
        info.index = prev.index if prev else idx
        info.visibility = idx
        self.lists[info.name] = info

    def append_list(self, info: ListInfo) -> None:
        """Items appended to an existing list."""
        prev = self.lists.get(info.name)
        fail(prev is None, m.VALIDATE, m.ERROR_NO_PREVIOUS_LIST, info.ctx)
        assert prev is not None
        prev.items.extend(info.items)
        prev.visibility = self._next()

    def define_macro(self, info: MacroInfo) -> None:
        """A new macro, or a redefinition that keeps the original's place."""
        idx = self._next()
        prev = self.macros.get(info.name)
        info.index = prev.index if prev else idx
        info.visibility = idx
        self.macros[info.name] = info

    def append_macro(self, info: MacroInfo) -> None:
        """Condition text appended to an existing macro."""
        prev = self.macros.get(info.name)
        fail(prev is None, m.VALIDATE, m.ERROR_NO_PREVIOUS_MACRO, info.ctx)
        assert prev is not None
        start = len(prev.cond) + 1
        prev.cond = prev.cond + " " + info.cond
        prev.parts.extend(TextPart(start + p.start, p.node, p.file) for p in info.parts)
        prev.visibility = self._next()

    # -- rules ---------------------------------------------------------------

    def define_rule(self, cfg: LoadConfig, info: RuleInfo) -> None:
        """A full rule definition (a redefinition replaces the rule in place)."""
        prev = self.rules.get(info.name)
        fail(
            prev is not None and prev.source != info.source,
            m.VALIDATE,
            "Rule has been re-defined with a different source",
            info.ctx,
        )
        known = info.source in cfg.sources
        if not known:
            info.unknown_source = True
            cfg.warn("LOAD_UNKNOWN_SOURCE", f"Unknown source {info.source}, skipping", info.ctx)
        for ex in info.exceptions:
            fail(
                not ex.fields.valid,
                m.VALIDATE,
                "Rule exception item must have fields property with a list of fields",
                ex.ctx,
            )
            cfg.validate_exception(info.source if known else None, ex)
        idx = self._next()
        info.index = prev.index if prev else idx
        info.visibility = idx
        self.rules[info.name] = info

    def _updatable(self, cfg: LoadConfig, upd: RuleUpdate, missing: str, empty: str) -> RuleInfo:
        prev = self.rules.get(upd.name)
        fail(prev is None, m.VALIDATE, missing, upd.ctx)
        assert prev is not None
        fail(
            upd.source is not None and upd.source != prev.source,
            m.VALIDATE,
            "Rule has been re-defined with a different source",
            upd.ctx,
        )
        fail(not upd.has_any_value(), m.VALIDATE, empty, upd.ctx)
        return prev

    def append_rule(self, cfg: LoadConfig, upd: RuleUpdate) -> None:
        """`append: true` or `override: {key: append}`: text joined, tags united, exceptions merged."""
        prev = self._updatable(
            cfg, upd, m.ERROR_NO_PREVIOUS_RULE_APPEND, "Appended rule must have exceptions or condition property"
        )
        source = None if prev.unknown_source else prev.source
        if upd.cond and upd.cond_node is not None:
            prev.cond_parts.append(TextPart(len(prev.cond) + 1, upd.cond_node, upd.ctx.file))
            prev.cond = prev.cond + " " + upd.cond
        if upd.output and upd.output_node is not None:
            prev.output_parts.append(TextPart(len(prev.output) + 1, upd.output_node, upd.ctx.file))
            prev.output = prev.output + " " + upd.output
        if upd.desc:
            prev.desc = prev.desc + " " + upd.desc
        if upd.tags is not None:
            prev.tags.extend(t for t in upd.tags if t not in prev.tags)
        for ex in upd.exceptions or []:
            old = next((e for e in prev.exceptions if e.name == ex.name), None)
            if old is None:
                fail(
                    not ex.fields.valid,
                    m.VALIDATE,
                    "Rule exception must have fields property with a list of fields",
                    ex.ctx,
                )
                fail(
                    not ex.values,
                    m.VALIDATE,
                    "Rule exception must have values property with a list of values",
                    ex.ctx,
                )
                cfg.validate_exception(source, ex)
                prev.exceptions.append(ex)
            else:
                fail(
                    ex.fields.valid,
                    m.VALIDATE,
                    "Can not append exception fields to existing exception, only values",
                    ex.ctx,
                )
                fail(
                    ex.comps.valid,
                    m.VALIDATE,
                    "Can not append exception comps to existing exception, only values",
                    ex.ctx,
                )
                old.values.extend(ex.values)
        prev.visibility = self._next()

    def replace_rule(self, cfg: LoadConfig, upd: RuleUpdate) -> None:
        """`override: {key: replace}`: the given keys overwrite the rule's."""
        prev = self._updatable(
            cfg, upd, m.ERROR_NO_PREVIOUS_RULE_REPLACE, "The rule must have at least one field that can be replaced"
        )
        source = None if prev.unknown_source else prev.source
        if upd.cond is not None and upd.cond_node is not None:
            prev.cond = upd.cond
            prev.cond_parts = [TextPart(0, upd.cond_node, upd.ctx.file)]
            prev.cond_ctx = upd.ctx.at(upd.cond_node, m.RULE_CONDITION)
        if upd.output is not None and upd.output_node is not None:
            prev.output = upd.output
            prev.output_parts = [TextPart(0, upd.output_node, upd.ctx.file)]
            prev.output_ctx = upd.ctx.at(upd.output_node, m.RULE_OUTPUT)
        if upd.desc is not None:
            prev.desc = upd.desc
        if upd.tags is not None:
            prev.tags = list(upd.tags)
        if upd.exceptions is not None:
            for ex in upd.exceptions:
                cfg.validate_exception(source, ex)
            prev.exceptions = upd.exceptions
        for attr in ("priority", "enabled", "warn_evttypes", "skip_if_unknown_filter", "capture", "capture_duration"):
            value = getattr(upd, attr)
            if value is not None:
                setattr(prev, attr, value)
        prev.visibility = self._next()

    def enable_rule(self, upd: RuleUpdate) -> None:
        """The deprecated standalone `enabled:` item."""
        prev = self.rules.get(upd.name)
        fail(prev is None, m.VALIDATE, "Rule has 'enabled' key but no rule by that name already exists", upd.ctx)
        assert prev is not None
        if upd.enabled is not None:
            prev.enabled = upd.enabled


class LoadConfig(Record):
    """What the collector needs from the engine: known sources, exception checks, and a warning sink."""

    __slots__ = ("sources", "validate_exception", "warn")

    def __init__(
        self, sources: frozenset[str], warn: Callable[[str, str, Context], None], validate_exception: ExceptionValidator
    ) -> None:
        self.sources = sources
        self.warn = warn
        self.validate_exception = validate_exception
