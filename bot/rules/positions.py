"""Turns an offset inside a condition or output back into a line and column of the YAML file."""

from __future__ import annotations

from bot.rules.lists import original_offset

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start-up
if TYPE_CHECKING:
    from bot.rules.compiler import TextRef


def locate(ref: TextRef, pos: int, texts: dict[str, str]) -> tuple[str, int, int] | None:
    """(file, 1-based line, 1-based column) of offset `pos` in the text `ref` describes."""
    if not ref.parts:
        return None
    offset = original_offset(pos, ref.edits) - ref.shift
    part = ref.parts[0]
    for candidate in ref.parts:
        if candidate.start <= offset:
            part = candidate
    text = texts.get(part.file)
    if text is None:
        return None
    node = part.node
    value = str(getattr(node, "value", ""))
    within = max(0, min(offset - part.start, len(value)))
    style = getattr(node, "style", None)
    index = _source_index(text, node.start_mark.index, node.end_mark.index, value, within, style)
    line = text.count("\n", 0, index)
    column = index - (text.rfind("\n", 0, index) + 1)
    return part.file, line + 1, column + 1


def _source_index(text: str, start: int, end: int, value: str, within: int, style: str | None) -> int:
    """Walk the raw scalar and its value together, matching non-blank characters (folding only changes blanks)."""
    i = start
    if style in ("|", ">"):
        newline = text.find("\n", start, end)
        i = newline + 1 if newline != -1 else start
    elif style in ("'", '"'):
        i = start + 1
    target = sum(1 for c in value[:within] if not c.isspace())
    seen = 0
    while i < end:
        c = text[i]
        if not c.isspace():
            if seen == target:
                return i
            seen += 1
            if c == "\\" and style == '"':
                i += 1
        i += 1
    return min(i, max(start, end - 1))
