"""The difference between two versions of a rule set: items added, removed and changed, key by key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.rules.collector import Collector, ExceptionEntry, ExceptionInfo, RuleInfo

RULE_KEYS = ("condition", "output", "desc", "priority", "source", "enabled", "tags", "exceptions",
             "warn_evttypes", "skip-if-unknown-filter", "capture", "capture_duration")  # fmt: skip


@dataclass(frozen=True)
class ItemChange:
    """One item that differs: its kind (rule, macro, list), name, and the keys that changed."""

    kind: str
    name: str
    change: str  # added | removed | changed
    keys: tuple[str, ...] = ()
    file: str | None = None
    line: int | None = None


@dataclass
class RuleSetDiff:
    """Every change between a base and a head rule set, in a stable order."""

    changes: list[ItemChange] = field(default_factory=list)
    engine_version: tuple[tuple[int, int, int] | None, tuple[int, int, int] | None] = (None, None)
    plugins: tuple[list[list[tuple[str, str]]], list[list[tuple[str, str]]]] = ([], [])

    def to_json(self) -> dict[str, Any]:
        """The diff in the Report (`rules_diff`)."""
        return {
            "changes": [
                {
                    "kind": c.kind,
                    "name": c.name,
                    "change": c.change,
                    "keys": list(c.keys),
                    "file": c.file,
                    "line": c.line,
                }
                for c in self.changes
            ],
            "required_engine_version": [".".join(map(str, v)) if v else None for v in self.engine_version],
        }

    def of(self, kind: str, change: str | None = None) -> list[ItemChange]:
        """The changes of one kind, optionally of one change type."""
        return [c for c in self.changes if c.kind == kind and (change is None or c.change == change)]

    @property
    def empty(self) -> bool:
        """True when nothing changed."""
        return (
            not self.changes and self.engine_version[0] == self.engine_version[1] and self.plugins[0] == self.plugins[1]
        )


def _entry(e: ExceptionEntry) -> Any:
    return [_entry(i) for i in e.items] if e.is_list else e.item


def _exception(ex: ExceptionInfo) -> Any:
    return (ex.name, _entry(ex.fields), _entry(ex.comps), [_entry(v) for v in ex.values])


def rule_values(rule: RuleInfo) -> dict[str, Any]:
    """The comparable value of every key of a rule, as loaded (after appends and overrides)."""
    return {
        "condition": " ".join(rule.cond.split()),
        "output": " ".join(rule.output.split()),
        "desc": " ".join(rule.desc.split()),
        "priority": rule.priority,
        "source": rule.source,
        "enabled": rule.enabled,
        "tags": sorted(rule.tags),
        "exceptions": [_exception(e) for e in rule.exceptions],
        "warn_evttypes": rule.warn_evttypes,
        "skip-if-unknown-filter": rule.skip_if_unknown_filter,
        "capture": rule.capture,
        "capture_duration": rule.capture_duration,
    }


def _where(info: Any) -> tuple[str | None, int | None]:
    ctx = info.ctx
    loc = ctx.locations[-1] if ctx.locations else None
    return ctx.file, (loc.line + 1 if loc else None)


def _compare(kind: str, base: dict[str, Any], head: dict[str, Any], values: Any, out: list[ItemChange]) -> None:
    for name, info in head.items():
        file, line = _where(info)
        if name not in base:
            out.append(ItemChange(kind, name, "added", (), file, line))
            continue
        old, new = values(base[name]), values(info)
        keys = tuple(k for k in new if old.get(k) != new.get(k))
        if keys:
            out.append(ItemChange(kind, name, "changed", keys, file, line))
    for name, info in base.items():
        if name not in head:
            file, line = _where(info)
            out.append(ItemChange(kind, name, "removed", (), file, line))


def diff_rulesets(base: Collector, head: Collector) -> RuleSetDiff:
    """Rules, macros and lists added, changed (which keys) and removed, plus engine and plugin requirements."""
    out: list[ItemChange] = []
    _compare("rule", base.rules, head.rules, rule_values, out)
    _compare("macro", base.macros, head.macros, lambda m: {"condition": " ".join(m.cond.split())}, out)
    _compare("list", base.lists, head.lists, lambda li: {"items": list(li.items)}, out)
    return RuleSetDiff(
        out,
        (base.required_engine_version, head.required_engine_version),
        ([r.alternatives for r in base.plugin_requirements], [r.alternatives for r in head.plugin_requirements]),
    )
