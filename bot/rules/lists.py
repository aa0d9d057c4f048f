"""Lists as Falco uses them: nested lists expanded, and list names substituted into condition text."""

from __future__ import annotations

import heapq
import re
from functools import lru_cache

from bot.rules.collector import Collector
from bot.rules.record import Record

_BLANKS = " \t\n\r"
_DELIMS = _BLANKS + "(),="
_TOKEN_SPLIT = re.compile(r"[ \t\n\r(),=]+")


class CompiledList(Record):
    """A list with its items expanded, and whether any condition or list used it."""

    __slots__ = ("items", "name", "order", "substitution", "used")

    def __init__(self, name: str, items: list[str], order: int, used: bool = False, substitution: str = "") -> None:
        self.name = name
        self.items = items
        self.order = order
        self.used = used
        self.substitution = substitution


class Edit(Record):
    """One substitution: text[start:end] of the input became new_len characters."""

    __slots__ = ("end", "new_len", "start")

    def __init__(self, start: int, end: int, new_len: int) -> None:
        self.start = start
        self.end = end
        self.new_len = new_len


class ListTable(Record):
    """The compiled lists in definition order, with a name index for fast candidate lookup."""

    __slots__ = ("by_name", "lists", "odd_names")

    def __init__(
        self,
        lists: list[CompiledList] | None = None,
        by_name: dict[str, CompiledList] | None = None,
        odd_names: list[CompiledList] | None = None,
    ) -> None:
        self.lists: list[CompiledList] = [] if lists is None else lists
        self.by_name: dict[str, CompiledList] = {} if by_name is None else by_name
        self.odd_names: list[CompiledList] = [] if odd_names is None else odd_names


def quote_item(item: str) -> str:
    """Falco's quote_item: items with a space get double quotes unless already quoted."""
    if " " in item and item[:1] not in ('"', "'"):
        return '"' + item + '"'
    return item


def compile_lists(col: Collector) -> ListTable:
    """compile_list_infos: one level of list-in-list expansion, for lists defined earlier."""
    table = ListTable()
    used_names: list[str] = []
    for order, info in enumerate(col.lists.values()):
        items: list[str] = []
        for item in info.items:
            ref = col.lists.get(item)
            if ref is not None and ref.index < info.visibility:
                used_names.append(ref.name)
                items.extend(ref.items)
            else:
                items.append(item)
        compiled = CompiledList(info.name, items, order)
        joined = ", ".join(items)
        # Each separator holds one space: any other space is in an item, which may need quotes.
        compiled.substitution = (
            joined if joined.count(" ") == len(items) - 1 else ", ".join(quote_item(i) for i in items)
        )
        table.lists.append(compiled)
        table.by_name[info.name] = compiled
        # Names that splitting a condition on blanks and delimiters cannot yield as a token (str.split
        # also splits on other blanks, such as \v) are looked for as substrings instead.
        if info.name.split() != [info.name] or any(c in _DELIMS for c in info.name):
            table.odd_names.append(compiled)
    for name in used_names:
        table.by_name[name].used = True
    return table


def _resolve_one(cnd: str, lst: CompiledList, edits: list[Edit]) -> tuple[str, bool]:
    """Falco's resolve_list for one list, recording each edit for position mapping."""
    name = lst.name
    sub = lst.substitution
    used = False
    start = cnd.find(name)
    while start != -1:
        end = start + len(name)
        if (start == 0 or cnd[start - 1] in _DELIMS) and (end >= len(cnd) or cnd[end] in _DELIMS):
            while start > 0 and cnd[start - 1] in _BLANKS:
                start -= 1
            while end < len(cnd) and cnd[end] in _BLANKS:
                end += 1
            if not sub:
                if start > 0 and cnd[start - 1] == ",":
                    start -= 1
                elif end < len(cnd) and cnd[end] == ",":
                    end += 1
            lead = " " if start > 0 else ""
            edits.append(Edit(start, end, len(lead) + len(sub) + 1))
            cnd = cnd[:start] + lead + sub + " " + cnd[end:]
            start += len(sub) + 1
            used = True
        start = cnd.find(name, start + 1)
    return cnd, used


@lru_cache(maxsize=4096)
def _condition_tokens(cnd: str) -> frozenset[str]:
    """The distinct blank- or delimiter-separated tokens of a condition (Falco's mode substitutes
    the same conditions again in each of its compiles)."""
    return frozenset(cnd.replace("(", " ").replace(")", " ").replace(",", " ").replace("=", " ").split())


@lru_cache(maxsize=4096)
def _tokens(text: str) -> frozenset[str]:
    """The distinct tokens of a list's substitution (lists are substituted into many conditions)."""
    return frozenset(_TOKEN_SPLIT.split(text))


def substitute_lists(cnd: str, table: ListTable) -> tuple[str, list[Edit]]:
    """Every list name in `cnd` replaced by its items, in list order, exactly as Falco does it."""
    edits: list[Edit] = []
    if not table.lists:
        return cnd, edits
    by_name = table.by_name
    # Candidates: every token that names a list (a superset of the names that occur between
    # delimiters, which _resolve_one checks; a list that does not occur changes nothing).
    heap = [by_name[t].order for t in _condition_tokens(cnd) if t in by_name]
    heap.extend(lst.order for lst in table.odd_names if lst.name in cnd)
    if not heap:
        return cnd, edits
    heapq.heapify(heap)
    done = -1
    while heap:
        order = heapq.heappop(heap)
        if order <= done:
            continue
        done = order
        lst = table.lists[order]
        cnd, used = _resolve_one(cnd, lst, edits)
        if used:
            lst.used = True
            for token in _tokens(lst.substitution):
                ref = by_name.get(token)
                if ref is not None and ref.order > done:
                    heapq.heappush(heap, ref.order)
    return cnd, edits


def original_offset(offset: int, edits: list[Edit]) -> int:
    """Map an offset in the substituted text back to the text as written (best effort)."""
    for edit in reversed(edits):
        new_end = edit.start + edit.new_len
        if offset >= new_end:
            offset = offset - new_end + edit.end
        elif offset >= edit.start:
            offset = edit.start
    return offset
