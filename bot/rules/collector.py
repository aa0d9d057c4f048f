"""The collected rule set: lists, macros and rules as defined, appended and overridden across files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bot.rules import messages as m
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


@dataclass(slots=True)
class TextPart:
    """A piece of a condition or output and the YAML scalar it came from (appends join several)."""

    start: int
    node: Node
    file: str


@dataclass(slots=True)
class ListInfo:
    """A `- list:` item after appends."""

    name: str
    items: list[str]
    ctx: Context
    node: Node
    index: int = 0
    visibility: int = 0


@dataclass(slots=True)
class MacroInfo:
    """A `- macro:` item after appends."""

    name: str
    cond: str
    ctx: Context
    cond_ctx: Context
    parts: list[TextPart]
    node: Node
    index: int = 0
    visibility: int = 0


@dataclass(slots=True)
class ExceptionEntry:
    """A scalar or a (possibly nested) sequence inside an exception's fields, comps or values."""

    is_list: bool = False
    item: str = ""
    items: list[ExceptionEntry] = field(default_factory=list)
    valid: bool = False


@dataclass(slots=True)
class ExceptionInfo:
    """One entry of a rule's `exceptions:`."""

    name: str
    ctx: Context
    fields: ExceptionEntry = field(default_factory=ExceptionEntry)
    comps: ExceptionEntry = field(default_factory=ExceptionEntry)
    values: list[ExceptionEntry] = field(default_factory=list)


@dataclass(slots=True)
class RuleInfo:
    """A `- rule:` item after appends and overrides."""

    name: str
    ctx: Context
    node: Node
    cond: str = ""
    cond_ctx: Context | None = None
    cond_parts: list[TextPart] = field(default_factory=list)
    output: str = ""
    output_ctx: Context | None = None
    output_parts: list[TextPart] = field(default_factory=list)
    desc: str = ""
    priority: int = 0
    source: str = "syscall"
    enabled: bool = True
    warn_evttypes: bool = True
    skip_if_unknown_filter: bool = False
    tags: list[str] = field(default_factory=list)
    exceptions: list[ExceptionInfo] = field(default_factory=list)
    capture: bool = False
    capture_duration: int = 0
    unknown_source: bool = False
    index: int = 0
    visibility: int = 0


@dataclass(slots=True)
class RuleUpdate:
    """The keys an append or override brings to an existing rule (None: not given)."""

    name: str
    ctx: Context
    cond: str | None = None
    cond_node: Node | None = None
    output: str | None = None
    output_node: Node | None = None
    desc: str | None = None
    tags: list[str] | None = None
    exceptions: list[ExceptionInfo] | None = None
    priority: int | None = None
    enabled: bool | None = None
    warn_evttypes: bool | None = None
    skip_if_unknown_filter: bool | None = None
    capture: bool | None = None
    capture_duration: int | None = None
    source: str | None = None

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


@dataclass(slots=True)
class PluginRequirement:
    """One `required_plugin_versions` entry: the plugin and its accepted alternatives."""

    alternatives: list[tuple[str, str]]
    ctx: Context


ExceptionValidator = Callable[[str | None, ExceptionInfo], None]


@dataclass
class Collector:
    """Falco's rule_loader::collector: the items of every file loaded so far, in definition order."""

    lists: dict[str, ListInfo] = field(default_factory=dict)
    macros: dict[str, MacroInfo] = field(default_factory=dict)
    rules: dict[str, RuleInfo] = field(default_factory=dict)
    plugin_requirements: list[PluginRequirement] = field(default_factory=list)
    required_engine_version: tuple[int, int, int] | None = None
    engine_version_ctx: Context | None = None
    next_index: int = 0

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


@dataclass
class LoadConfig:
    """What the collector needs from the engine: known sources, exception checks, and a warning sink."""

    sources: frozenset[str]
    warn: Callable[[str, str, Context], None]
    validate_exception: ExceptionValidator
