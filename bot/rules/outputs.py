"""A rule's output string checked as Falco checks it: %container.info, the format, deprecated fields."""

from __future__ import annotations

from bot.rules import messages as m
from bot.rules.collector import RuleInfo
from bot.rules.errors import RulesEngineError
from bot.rules.filtercheck import check_output_operand, deprecated_output_fields
from bot.rules.output import OperandMemo, parse_output

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start-up
if TYPE_CHECKING:
    from bot.rules.compiler import Compiler


CONTAINER_INFO = "%container.info"


class OutputChecker:
    """Checks outputs for one compile, caching the verdict of each distinct format per source."""

    def __init__(self, compiler: Compiler) -> None:
        self.compiler = compiler
        self._memo = compiler.caches.outputs
        self.token_memo: dict[str, OperandMemo] = compiler.caches.operands

    def format_error(self, fmt: str, source: str) -> tuple[str | None, int | None]:
        """The formatter's error text for `fmt` (None when it compiles) and the offset it concerns."""
        key = (fmt, source)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        fields = self.compiler.fields_for(source)
        try:
            memo = self.token_memo.setdefault(source, {})
            parse_output(fmt, lambda operand: check_output_operand(operand, fields), memo)  # type: ignore[arg-type]
            hit = (None, None)
        except RulesEngineError as exc:
            hit = (exc.message, exc.pos.offset if exc.pos else None)
        self._memo[key] = hit
        return hit

    def check(self, info: RuleInfo) -> bool:
        """False when the rule is skipped (skip-if-unknown-filter); in strict mode (Falco's) an error raises."""
        from bot.rules.compiler import TextRef, is_unknown_error

        comp = self.compiler
        output = info.output
        out_ctx = info.output_ctx or info.ctx
        ref = TextRef(info.output_parts, [])
        if CONTAINER_INFO in output:
            comp.warn("LOAD_DEPRECATED_ITEM", m.CONTAINER_INFO_DEPRECATED, info.ctx)
            output = output.replace(CONTAINER_INFO, "")
        error, pos = self.format_error(output, info.source)
        if error is not None:
            if is_unknown_error(error) and info.skip_if_unknown_filter:
                comp.warn("LOAD_UNKNOWN_FILTER", error, out_ctx, ref, pos)
                return False
            comp.fail(m.COMPILE_OUTPUT, error, out_ctx, ref, pos)
            return True  # only reached when finding every problem: go on to the condition
        for name in deprecated_output_fields(output):
            at = output.find(name)
            comp.report(
                "warning",
                "LOAD_DEPRECATED_ITEM",
                f"usage of deprecated field '{name}' has been detected in the rule output",
                out_ctx,
                ref,
                at,
            )
        return True
