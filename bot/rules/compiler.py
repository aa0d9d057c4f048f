"""Falco's rules compiler: lists, macros, then each rule's output, condition, fields and event types."""

from __future__ import annotations

from collections.abc import Callable

from bot.rules import messages as m
from bot.rules.ast import Check, Expr, Identifier, Not
from bot.rules.collector import Collector, LoadError, RuleInfo, TextPart
from bot.rules.condition import parse_condition
from bot.rules.errors import ConditionSyntaxError, RulesEngineError
from bot.rules.evttypes import EventTypeAnalysis
from bot.rules.exceptions import exceptions_condition
from bot.rules.filtercheck import Diag, check_leaf, condition_resolver_diags
from bot.rules.lists import Edit, ListTable, compile_lists, substitute_lists
from bot.rules.macros import MacroProblem, MacroResolver, identifiers
from bot.rules.messages import bot_message
from bot.rules.output import OperandMemo
from bot.rules.outputs import OutputChecker
from bot.rules.record import Record
from bot.rules.result import Context

UNKNOWN_MARKERS = ("nonexistent field", "invalid formatting token", "unknown event type", "unknown filter:")


class TextRef(Record):
    """Where a piece of condition text came from, to turn an offset into a file position."""

    __slots__ = ("edits", "parts", "shift")

    def __init__(self, parts: list[TextPart], edits: list[Edit], shift: int = 0) -> None:
        self.parts = parts
        self.edits = edits
        self.shift = shift


class CompiledRule(Record):
    """A rule that compiled: its resolved condition and the event codes it matches."""

    __slots__ = ("codes", "condition", "info")

    def __init__(self, info: RuleInfo, condition: Expr, codes: int) -> None:
        self.info = info
        self.condition = condition
        self.codes = codes


class CompileCaches:
    """Work shared by the compiles of one load (Falco recompiles everything after each file)."""

    __slots__ = ("evttypes", "leaves", "macro_diags", "operands", "outputs", "parsed")

    def __init__(self) -> None:
        # Parses and per-node results are keyed by text or by node identity: the parse cache keeps
        # every tree alive for the whole load, so identities are never reused.
        self.parsed: dict[str, Expr | ConditionSyntaxError] = {}
        self.leaves: dict[tuple[int, str], list[Diag]] = {}
        self.outputs: dict[tuple[str, str], tuple[str | None, int | None]] = {}
        self.operands: dict[str, OperandMemo] = {}
        self.evttypes: dict[tuple[int, bool], int] = {}
        self.macro_diags: dict[tuple[int, str], list[tuple[Diag, str | None]]] = {}


class CompileResult(Record):
    """What compiling produced for later analyses (diff, matrix)."""

    __slots__ = ("lists", "macro_asts", "rules")

    def __init__(
        self,
        lists: ListTable,
        macro_asts: dict[str, Expr | None] | None = None,
        rules: dict[str, CompiledRule] | None = None,
    ) -> None:
        self.lists = lists
        self.macro_asts: dict[str, Expr | None] = {} if macro_asts is None else macro_asts
        self.rules: dict[str, CompiledRule] = {} if rules is None else rules


Report = Callable[[str, str, str, Context, "TextRef | None", int | None], None]


def is_unknown_error(message: str) -> bool:
    """Errors that a rule's `skip-if-unknown-filter: true` turns into a LOAD_UNKNOWN_FILTER warning."""
    return any(marker in message for marker in UNKNOWN_MARKERS)


def snippet(text: str) -> str:
    """How Falco names a condition in a context frame: its first characters, quoted."""
    short = text if len(text) <= 20 else text[:17] + "..."
    return '"' + short.replace("\n", " ") + '"'


def line_col(text: str, offset: int) -> tuple[int, int]:
    """libsinsp's 1-based line and column of an offset in a condition."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


class Compiler:
    """Compiles everything collected so far; `report` receives every diagnostic, errors raise in strict mode."""

    def __init__(
        self,
        col: Collector,
        report: Report,
        strict: bool,
        fields_for: Callable[[str], object],
        events: tuple[int, Callable[[str], int]],
        max_depth: int,
        max_condition_bytes: int,
        caches: CompileCaches | None = None,
    ) -> None:
        self.caches = caches or CompileCaches()
        self.col = col
        self.report = report
        self.strict = strict
        self.fields_for = fields_for
        self.all_codes, self.codes_of = events
        self.max_depth = max_depth
        self.max_condition_bytes = max_condition_bytes
        self.evttypes: EventTypeAnalysis | None = None  # one per compile: its memo spans the rules
        self.result = CompileResult(ListTable())
        self._leaf_memo = self.caches.leaves
        self._macro_diags = self.caches.macro_diags

    def fail(self, code: str, message: str, ctx: Context, ref: TextRef | None = None, pos: int | None = None) -> None:
        """Report an error; in strict mode (Falco's behaviour) it ends the compile."""
        self.report("error", code, message, ctx, ref, pos)
        if self.strict:
            raise LoadError(code, message, ctx)

    def warn(self, code: str, message: str, ctx: Context, ref: TextRef | None = None, pos: int | None = None) -> None:
        """Report a warning."""
        self.report("warning", code, message, ctx, ref, pos)

    def parse(self, text: str, ctx: Context, parts: list[TextPart], shift: int = 0) -> tuple[Expr | None, TextRef]:
        """Lists substituted, then the condition parsed (errors: LOAD_ERR_COMPILE_CONDITION)."""
        resolved, edits = substitute_lists(text, self.result.lists)
        ref = TextRef(parts, edits, shift)
        if len(resolved) > self.max_condition_bytes:
            message = bot_message("condition_too_big", size=len(resolved), limit=self.max_condition_bytes)
            self.fail(m.COMPILE_CONDITION, message, ctx)
            return None, ref
        parsed = self.caches.parsed.get(resolved)
        if parsed is None:
            try:
                parsed = parse_condition(resolved, self.max_depth)
            except ConditionSyntaxError as exc:
                parsed = exc.with_traceback(None)  # cached: must not keep this frame (and the compiler) alive
            self.caches.parsed[resolved] = parsed
        try:
            if isinstance(parsed, ConditionSyntaxError):
                raise parsed
            return parsed, ref
        except ConditionSyntaxError as exc:
            pos = exc.pos.offset if exc.pos else 0
            line, col = line_col(resolved, pos)
            self.fail(m.COMPILE_CONDITION, exc.message, ctx.in_text(snippet(resolved), line, col, pos,
                                                                    m.CONDITION_EXPRESSION), ref, pos)  # fmt: skip
            return None, ref

    def run(self) -> CompileResult:
        """compile(): lists, macros, rules, then unused macros and lists."""
        try:
            self.result.lists = compile_lists(self.col)
            refs = self.compile_macros()
            self.resolver = MacroResolver(
                self.result.macro_asts, refs, {n: i.index for n, i in self.col.macros.items()}
            )
            self.used_macros: set[str] = set()
            self.resolve_macro_references()
            self.outputs = OutputChecker(self)
            for info in self.col.rules.values():
                if info.unknown_source:
                    continue
                try:
                    self.compile_rule(info)
                except LoadError:
                    if self.strict:
                        raise
            for name, minfo in self.col.macros.items():
                if name not in self.used_macros:
                    self.warn("LOAD_UNUSED_MACRO", m.UNUSED_MACRO, minfo.ctx)
            for lst in self.result.lists.lists:
                if not lst.used:
                    self.warn("LOAD_UNUSED_LIST", m.UNUSED_LIST, self.col.lists[lst.name].ctx)
            return self.result
        finally:
            self.outputs = None  # type: ignore[assignment]  # it points back here: break the cycle

    def compile_macros(self) -> dict[str, list[Identifier]]:
        """Every macro parsed on its own, in definition order."""
        refs: dict[str, list[Identifier]] = {}
        self.macro_refs: dict[str, TextRef] = {}
        for name, info in self.col.macros.items():
            try:
                ast, ref = self.parse(info.cond, info.cond_ctx, info.parts)
            except LoadError:
                if self.strict:
                    raise
                ast, ref = None, TextRef(info.parts, [])
            self.result.macro_asts[name] = ast
            self.macro_refs[name] = ref
            if ast is not None:
                refs[name] = identifiers(ast)
        return refs

    def resolve_macro_references(self) -> None:
        """Each macro's references checked against the macros visible to it."""
        order = list(self.col.macros.values())
        for info in order:
            ast = self.result.macro_asts.get(info.name)
            if ast is None:
                continue
            res = self.resolver.resolve_macro(info.name, info.visibility, ())
            self.used_macros |= res.used
            problem = res.first_error()
            if problem is not None:
                try:
                    self.macro_problem(problem, info.ctx, info.cond)
                except LoadError:
                    if self.strict:
                        raise

    def macro_problem(self, problem: MacroProblem, ctx: Context, text: str, ref: TextRef | None = None) -> None:
        """Undefined macro or reference loop, blamed on the condition being resolved (`ref`: its own text)."""
        message = (
            f"reference loop in macro '{problem.name}'"
            if problem.kind == "loop"
            else f"Undefined macro '{problem.name}' used in filter."
        )
        owner_ref = self.macro_refs.get(problem.owner) if problem.owner else ref
        line, col = problem.pos.line, problem.pos.col
        frame = ctx.in_text(snippet(text), line, col, problem.pos.offset, m.CONDITION_EXPRESSION)
        self.fail(m.VALIDATE, message, frame, owner_ref, problem.pos.offset)

    def compile_rule(self, info: RuleInfo) -> None:
        """One rule: exceptions, output, condition, macros, fields, event types."""
        cond_ctx = info.cond_ctx or info.ctx
        condition = info.cond
        shift = 0
        if info.exceptions:
            try:
                condition = exceptions_condition(condition, info.exceptions)
            except LoadError as exc:
                self.fail(exc.code, exc.message, exc.ctx)
                return
            shift = 1
        if not self.outputs.check(info):
            return
        ast, ref = self.parse(condition, cond_ctx, info.cond_parts, shift)
        if ast is None:
            return
        res = self.resolver.resolve(ast, None)
        self.used_macros |= res.used
        problem = res.first_error()
        if problem is not None:
            self.macro_problem(problem, info.ctx, condition, ref)
            return
        if not self.check_fields(info, ast, ref, condition, cond_ctx):
            return
        codes = self.all_codes
        if info.source == "syscall":
            if self.evttypes is None:
                self.evttypes = EventTypeAnalysis(self.all_codes, self.codes_of, self.expansion, self.caches.evttypes)
            codes = self.evttypes.codes(ast)
            count = codes.bit_count()
            if info.warn_evttypes and (count == 0 or count > 100):
                self.warn("LOAD_NO_EVTTYPE", m.NO_EVTTYPE, info.ctx)
        self.result.rules[info.name] = CompiledRule(info, ast, codes)

    def expansion(self, ident: Identifier) -> Expr | None:
        """The parsed condition a macro reference stands for."""
        return self.result.macro_asts.get(ident.name)

    def check_fields(self, info: RuleInfo, ast: Expr, ref: TextRef, condition: str, cond_ctx: Context) -> bool:
        """libsinsp's compile of the resolved condition, in Falco's phases (resolve, compile, evttype)."""
        fields = self.fields_for(info.source)
        diags = self.leaf_diags(ast, fields, info.source, None)
        by_id = {id(d): owner for d, owner in diags}
        for diag in condition_resolver_diags(d for d, _ in diags):
            self.emit(diag, by_id.get(id(diag)), ref, condition, cond_ctx, info, "warning")
        for phase in ("compile", "evttype"):
            for diag, owner in diags:
                if diag.phase == phase and diag.severity == "error":
                    self.emit(diag, owner, ref, condition, cond_ctx, info, "error")
                    return False
            if phase == "compile":
                for diag, owner in diags:
                    if diag.phase == "compile" and diag.severity == "warning":
                        self.emit(diag, owner, ref, condition, cond_ctx, info, "warning")
        return True

    def emit(
        self, diag: Diag, owner: str | None, ref: TextRef, condition: str, cond_ctx: Context, info: RuleInfo, kind: str
    ) -> None:
        """Report one leaf diagnostic in the rule's condition context; errors may be skipped by policy."""
        where = ref if owner is None else self.macro_refs.get(owner)
        pos = diag.pos.offset if diag.pos else None
        line, col = (diag.pos.line, diag.pos.col) if diag.pos else (1, 1)
        frame = cond_ctx.in_text(snippet(condition), line, col, pos or 0, m.CONDITION_EXPRESSION)
        if kind == "warning":
            self.report("warning", diag.code, diag.message, frame, where, pos)
        elif info.skip_if_unknown_filter and diag.skippable:
            self.warn("LOAD_UNKNOWN_FILTER", diag.message, frame, where, pos)
        else:
            self.fail(m.COMPILE_CONDITION, diag.message, frame, where, pos)

    def leaf_diags(self, expr: Expr, fields: object, source: str, owner: str | None) -> list[tuple[Diag, str | None]]:
        """Diagnostics of every comparison in `expr`, macros expanded, left to right (memoised per macro)."""
        out: list[tuple[Diag, str | None]] = []
        stack: list[tuple[Expr, str | None]] = [(expr, owner)]
        while stack:
            node, own = stack.pop()
            if isinstance(node, Check):
                key = (id(node), source)
                diags = self._leaf_memo.get(key)
                if diags is None:
                    try:
                        diags = check_leaf(node, fields)  # type: ignore[arg-type]
                    except RulesEngineError as exc:
                        diags = [Diag("error", m.COMPILE_CONDITION, exc.message, exc.pos or node.pos, phase="compile")]
                    self._leaf_memo[key] = diags
                out.extend((d, own) for d in diags)
            elif isinstance(node, Identifier):
                out.extend(self.macro_diags(node.name, fields, source))
            elif isinstance(node, Not):
                stack.append((node.child, own))
            else:
                stack.extend((child, own) for child in reversed(node.children))
        return out

    def macro_diags(self, name: str, fields: object, source: str) -> list[tuple[Diag, str | None]]:
        """The diagnostics of one macro's expansion for one source, computed once."""
        ast = self.result.macro_asts.get(name)
        key = (id(ast), source)
        hit = self._macro_diags.get(key)
        if hit is None:
            self._macro_diags[key] = []  # guards against loops while computing
            hit = [] if ast is None else self.leaf_diags(ast, fields, source, name)
            self._macro_diags[key] = hit
        return hit
