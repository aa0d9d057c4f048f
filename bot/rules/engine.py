"""The engine's entry points: Falco's per-file verdict, and every problem found in one pass."""

from __future__ import annotations

import functools
import gc
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

from bot.rules import messages as m
from bot.rules.collector import Collector, LoadConfig, LoadError
from bot.rules.compiler import CompileCaches, Compiler, CompileResult, TextRef
from bot.rules.exceptions import validate_exception
from bot.rules.positions import locate
from bot.rules.reader import Reader
from bot.rules.record import FrozenRecord, Record, assign
from bot.rules.result import Context, Diagnostic, FileResult
from bot.rules.yamlsrc import (
    Limits,
    MappingNode,
    Node,
    SequenceNode,
    YamlLimitError,
    YamlParseError,
    compose_documents,
    is_null,
    mapping_index,
)

DEFAULT_ENGINE_VERSION = (0, 62, 0)
DEFAULT_PLUGINS = frozenset({"container"})


class EngineOptions(FrozenRecord):
    """How to load: the engine version to emulate, which plugins are loaded, and the input limits."""

    __slots__ = ("engine_version", "extra_plugins", "limits", "plugins")

    engine_version: tuple[int, int, int]
    plugins: frozenset[str] | None
    extra_plugins: frozenset[str]
    limits: Limits

    def __init__(
        self,
        engine_version: tuple[int, int, int] = DEFAULT_ENGINE_VERSION,
        plugins: frozenset[str] | None = None,
        extra_plugins: frozenset[str] = frozenset(),
        limits: Limits | None = None,
    ) -> None:
        assign(self, "engine_version", engine_version)
        assign(self, "plugins", plugins)
        assign(self, "extra_plugins", extra_plugins)
        assign(self, "limits", Limits() if limits is None else limits)


class RulesFile(FrozenRecord):
    """One input file: its name as shown to people and its content."""

    __slots__ = ("content", "name")

    name: str
    content: str | bytes

    def __init__(self, name: str, content: str | bytes) -> None:
        assign(self, "name", name)
        assign(self, "content", content)


class Validation(Record):
    """Everything found in one pass: diagnostics in file order, the rule set, and the plugins used."""

    __slots__ = ("collector", "compiled", "diagnostics", "plugins")

    def __init__(
        self,
        diagnostics: list[Diagnostic],
        collector: Collector,
        compiled: CompileResult | None,
        plugins: frozenset[str],
    ) -> None:
        self.diagnostics = diagnostics
        self.collector = collector
        self.compiled = compiled
        self.plugins = plugins

    @property
    def errors(self) -> list[Diagnostic]:
        """Only the errors."""
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        """Only the warnings."""
        return [d for d in self.diagnostics if d.severity == "warning"]


class _Source:
    """A file decoded and composed once, shared by the plugin pre-scan and the reader."""

    def __init__(self, file: RulesFile, limits: Limits) -> None:
        self.name = file.name
        self.text = ""
        self.docs: list[Node | None] = []
        self.failure: tuple[str, str, int, int, int] | None = None
        raw = file.content
        size = len(raw.encode("utf-8", "surrogatepass")) if isinstance(raw, str) else len(raw)
        if size > limits.max_file_bytes:
            msg = m.bot_message("file_too_big", size=size, limit=limits.max_file_bytes)
            self.failure = ("LOAD_ERR_FILE_READ", msg, 0, 0, 0)
            return
        if isinstance(raw, bytes):
            data = raw
            try:
                raw = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                line = data.count(b"\n", 0, exc.start)
                detail = m.bot_message("invalid_utf8", byte=data[exc.start], offset=exc.start)
                self.failure = (m.YAML_PARSE, f"yaml-cpp: error at line {line + 1}: {detail}", line, 0, exc.start)
                return
        self.text = raw
        try:
            self.docs = compose_documents(raw, limits)
        except (YamlParseError, YamlLimitError) as exc:
            self.failure = (m.YAML_PARSE, exc.message, exc.line, exc.column, exc.offset)

    @functools.cached_property
    def required_plugins(self) -> set[str]:
        """Plugin names (with alternatives) that the file's required_plugin_versions items name (scanned once)."""
        names: set[str] = set()
        for doc in self.docs:
            if not isinstance(doc, SequenceNode):
                continue
            for item in doc.value:
                if not isinstance(item, MappingNode):
                    continue
                reqs = mapping_index(item).get("required_plugin_versions")
                if not isinstance(reqs, SequenceNode):
                    continue
                for entry in reqs.value:
                    if isinstance(entry, MappingNode):
                        names |= _names(entry)
        return names


def _names(entry: MappingNode) -> set[str]:
    keys = mapping_index(entry)
    out = {keys["name"].value} if "name" in keys and isinstance(keys["name"].value, str) else set()
    alts = keys.get("alternatives")
    if isinstance(alts, SequenceNode):
        for alt in alts.value:
            if isinstance(alt, MappingNode):
                out |= _names(alt)
    return out


def _ignore_warning(code: str, message: str, ctx: Context) -> None:
    """A warning sink for a finished run."""


def _ignore_exception(source: str | None, ex: object) -> None:
    """An exception validator for a finished run."""


class _Run:
    """One load of a sequence of files into one collector, reporting into a diagnostics list."""

    def __init__(self, files: Sequence[RulesFile], options: EngineOptions) -> None:
        from bot.rules.catalog import get_catalog

        self.options = options
        self.sources = [_Source(f, options.limits) for f in files]
        self.texts = {s.name: s.text for s in self.sources}
        plugins = set(DEFAULT_PLUGINS if options.plugins is None else options.plugins) | set(options.extra_plugins)
        if options.plugins is None:
            for src in self.sources:
                plugins |= src.required_plugins
        self.catalog = get_catalog()
        self.plugins = frozenset(p for p in plugins if self.catalog.has_plugin(p))
        self.collector = Collector()
        self.sink: list[Diagnostic] = []
        self.caches = CompileCaches()
        self._fields: dict[str, object] = {}
        self.cfg = LoadConfig(
            sources=frozenset(self.catalog.sources(self.plugins)),
            warn=lambda code, msg, ctx: self.report("warning", code, msg, ctx),
            validate_exception=lambda source, ex: validate_exception(source, ex, self.field_defined),
        )

    def close(self) -> None:
        """Drop the callbacks that point back at this run, so it is freed without the cyclic GC."""
        self.cfg.warn = _ignore_warning
        self.cfg.validate_exception = _ignore_exception

    def fields_for(self, source: str) -> object:
        hit = self._fields.get(source)
        if hit is None:
            hit = self._fields[source] = self.catalog.fields_for(source, self.plugins)
        return hit

    def field_defined(self, source: str, text: str) -> bool:
        from bot.rules.fielddefs import is_field_defined

        return is_field_defined(text, self.fields_for(source))

    def report(
        self,
        severity: str,
        code: str,
        message: str,
        ctx: Context,
        ref: TextRef | None = None,
        pos: int | None = None,
    ) -> None:
        diag = Diagnostic(severity, code, message, ctx, path=ctx.file)
        located = locate(ref, pos, self.texts) if ref is not None and pos is not None else None
        if located is not None:
            diag.path, diag.line, diag.column = located
        else:
            mark = ctx.human_mark()
            if mark is not None:
                diag.line, diag.column = mark[0] + 1, mark[1] + 1
        if code.startswith("BOT_"):
            diag.origin = "bot"
        if code == "LOAD_DEPRECATED_ITEM" and message.startswith("usage of deprecated field '"):
            diag.deprecated_field = message.split("'")[1]
        self.sink.append(diag)

    def read(self, src: _Source, strict: bool) -> bool:
        """Reader::read: parse errors fail the file; in strict mode the first error stops it."""
        root = Context(src.name)
        if src.failure is not None:
            code, msg, line, col, off = src.failure
            self.report("error", code, msg, root.at_mark(m.RULES_CONTENT, line, col, off) if line or col else root)
            return False
        for name in sorted(src.required_plugins):
            if not self.catalog.has_plugin(name):
                self.report("warning", "BOT_UNKNOWN_PLUGIN", m.bot_message("unknown_plugin", name=name), root)
        reader = Reader(self.collector, self.cfg, self.options.engine_version)
        ok = True
        for doc in src.docs:
            if doc is None or is_null(doc):
                continue
            try:
                if not isinstance(doc, (SequenceNode, MappingNode)):
                    raise LoadError(m.YAML_VALIDATE, "Rules content is not yaml", root)
                if not isinstance(doc, SequenceNode):
                    raise LoadError(m.YAML_VALIDATE, "Rules content is not yaml array of objects", root)
            except LoadError as exc:
                self.report("error", exc.code, exc.message, exc.ctx)
                if strict:
                    return False
                ok = False
                continue
            for item in doc.value:
                if is_null(item):
                    continue
                try:
                    reader.read_item(item, root)
                except LoadError as exc:
                    self.report("error", exc.code, exc.message, exc.ctx)
                    if strict:
                        return False
                    ok = False
        return ok

    def compile(self, strict: bool) -> CompileResult | None:
        all_codes, codes_of = self.catalog.event_codes_api()
        compiler = Compiler(
            self.collector,
            self.report,
            strict,
            self.fields_for,
            (all_codes, codes_of),
            self.options.limits.max_condition_depth,
            self.options.limits.max_condition_bytes,
            self.caches,
        )
        try:
            return compiler.run()
        except LoadError:
            return None


@contextmanager
def _engine_run() -> Iterator[None]:
    """Deep conditions recurse once per level; the cyclic GC is paused (the engine builds no cycles to free)."""
    if sys.getrecursionlimit() < 20000:
        sys.setrecursionlimit(20000)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if threading.active_count() == 1:
                # Everything the run allocated sits in the youngest generation; re-enabling as is would make
                # the next allocation traverse all of it. freeze()+unfreeze() moves it to the oldest
                # generation without a traversal (it is still collected there if it ever becomes garbage).
                gc.freeze()
                gc.unfreeze()
            # Where other threads share the heap (`serve`, `worker`), that would move their young objects too, out
            # of the collector's accounting (the oldest generation's trigger would then not fire), and undo the
            # web process's start-up freeze: there the collector simply resumes, one traversal per run.
            gc.enable()


def load_like_falco(files: Sequence[RulesFile], options: EngineOptions | None = None) -> list[FileResult]:
    """Falco's `-V a -V b`: each file read (stopping at its first error) then everything compiled."""
    with _engine_run():
        return _load_like_falco(files, options)


def _load_like_falco(files: Sequence[RulesFile], options: EngineOptions | None) -> list[FileResult]:
    run = _Run(files, options or EngineOptions())
    results: list[FileResult] = []
    for src in run.sources:
        start = len(run.sink)
        if run.read(src, strict=True):
            run.compile(strict=True)
        result = FileResult(src.name)
        for diag in run.sink[start:]:
            if diag.origin == "bot" and diag.severity == "warning":
                continue
            (result.errors if diag.severity == "error" else result.warnings).append(diag)
        results.append(result)
    run.close()
    return results


def validate(files: Sequence[RulesFile], options: EngineOptions | None = None) -> Validation:
    """Every problem in one pass: all files read without stopping, then one compile of the whole set. Inside
    `shared_loads()`, the same files with the same options give the first pass's result again."""
    memo = _SHARED.get()
    if memo is None:
        with _engine_run():
            return _validate(files, options)
    key = (tuple(files), options or EngineOptions())
    if key not in memo:
        with _engine_run():
            memo[key] = _validate(files, options)
    return memo[key]


_SHARED: ContextVar[dict[tuple[tuple[RulesFile, ...], EngineOptions], Validation] | None] = ContextVar(
    "shared_loads", default=None
)


@contextmanager
def shared_loads() -> Iterator[None]:
    """Within the block, each rule set is read and compiled once: a review loads its base and its head for several
    checks (the rules check, the tags check, the diff, the ATT&CK view), which only read the results."""
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def _validate(files: Sequence[RulesFile], options: EngineOptions | None) -> Validation:
    run = _Run(files, options or EngineOptions())
    for src in run.sources:
        run.read(src, strict=False)
    compiled = run.compile(strict=False)
    run.close()
    return Validation(_dedupe(run.sink), run.collector, compiled, run.plugins)


def _dedupe(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    """The same finding at the same place is listed once (macros shared by many rules)."""
    seen: set[tuple[str, str, str, int | None, int | None, str]] = set()
    out: list[Diagnostic] = []
    for d in diags:
        key = (d.code, d.message, d.path, d.line, d.column, d.severity)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out
