"""What the engine reports: diagnostics with Falco's context stack, and the verdict per file."""

from __future__ import annotations

from bot.rules.record import FrozenRecord, Record, assign
from bot.rules.yamlsrc import Node


class Location(FrozenRecord):
    """One frame of Falco's context: what item, and where (yaml-cpp 0-based line and column)."""

    __slots__ = ("column", "item_name", "item_type", "line", "name", "offset")

    item_type: str
    item_name: str
    name: str
    line: int
    column: int
    offset: int

    def __init__(self, item_type: str, item_name: str, name: str, line: int, column: int, offset: int) -> None:
        assign(self, "item_type", item_type)
        assign(self, "item_name", item_name)
        assign(self, "name", name)
        assign(self, "line", line)
        assign(self, "column", column)
        assign(self, "offset", offset)


class Context:
    """A stack of locations, outermost first, as Falco's rule_loader::context keeps it.

    Built as a linked list of frames so that creating one (thousands per file) stays cheap;
    `locations` materialises the stack only when a diagnostic needs it.
    """

    __slots__ = ("_frame", "file", "parent")

    def __init__(self, file: str, parent: Context | None = None, frame: tuple[object, ...] | None = None) -> None:
        self.file = file
        self.parent = parent
        self._frame = frame

    @property
    def locations(self) -> tuple[Location, ...]:
        """The frames, outermost first."""
        out: list[Location] = []
        ctx: Context | None = self
        while ctx is not None and ctx._frame is not None:
            frame = ctx._frame
            if frame[0] is None:
                ctx = ctx.parent
                continue
            if len(frame) == 3:
                item_type, item_name, node = frame
                mark = node.start_mark  # type: ignore[attr-defined]
                out.append(Location(str(item_type), str(item_name), self.file, mark.line, mark.column, mark.index))
            else:
                out.append(Location(*frame))  # type: ignore[arg-type]
            ctx = ctx.parent
        return tuple(reversed(out))

    def at(self, node: Node, item_type: str, item_name: str = "") -> Context:
        """This context with one more frame for `node`."""
        return Context(self.file, self, (item_type, item_name, node))

    def pointing_at(self, node: Node) -> Context:
        """The same Falco context, with a more precise place for people (not shown as a frame)."""
        return Context(self.file, self, (None, "", node))

    def human_mark(self) -> tuple[int, int] | None:
        """0-based line and column of the innermost frame in this file, hidden frames included."""
        ctx: Context | None = self
        while ctx is not None and ctx._frame is not None:
            frame = ctx._frame
            if len(frame) == 3:
                mark = frame[2].start_mark  # type: ignore[attr-defined]
                return int(mark.line), int(mark.column)
            if frame[2] == self.file:
                return int(frame[3]), int(frame[4])  # type: ignore[call-overload]
            ctx = ctx.parent
        return None

    def at_mark(self, item_type: str, line: int, column: int, offset: int) -> Context:
        """This context with one more frame at an explicit position in the file."""
        return Context(self.file, self, (item_type, "", self.file, line, column, offset))

    def in_text(self, snippet_name: str, line: int, column: int, offset: int, item_type: str) -> Context:
        """A frame inside a condition or output text (Falco names it by a quoted snippet)."""
        return Context(self.file, self, (item_type, "", snippet_name, line, column, offset))


class Diagnostic(Record):
    """One error or warning; `line`/`column` are 1-based in the file, for people."""

    __slots__ = ("code", "column", "context", "deprecated_field", "line", "message", "origin", "path", "severity")

    def __init__(
        self,
        severity: str,
        code: str,
        message: str,
        context: Context,
        path: str = "",
        line: int | None = None,
        column: int | None = None,
        deprecated_field: str | None = None,
        origin: str = "falco",
    ) -> None:
        self.severity = severity
        self.code = code
        self.message = message
        self.context = context
        self.path = path
        self.line = line
        self.column = column
        self.deprecated_field = deprecated_field
        self.origin = origin

    @property
    def file(self) -> str:
        """The file whose load result carries the diagnostic (Falco's view)."""
        return self.context.file

    def item(self) -> tuple[str, str]:
        """The blamed item: the innermost frame that names one, else the innermost frame."""
        for loc in reversed(self.context.locations):
            if loc.item_name:
                return loc.item_type, loc.item_name
        if self.context.locations:
            return self.context.locations[-1].item_type, ""
        return "", ""


class FileResult(Record):
    """Falco's load result for one file: success, its errors and warnings in Falco's order."""

    __slots__ = ("errors", "name", "warnings")

    def __init__(
        self, name: str, errors: list[Diagnostic] | None = None, warnings: list[Diagnostic] | None = None
    ) -> None:
        self.name = name
        self.errors: list[Diagnostic] = [] if errors is None else errors
        self.warnings: list[Diagnostic] = [] if warnings is None else warnings

    @property
    def successful(self) -> bool:
        """True when the file loaded (warnings allowed)."""
        return not self.errors
