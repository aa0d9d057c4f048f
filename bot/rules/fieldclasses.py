"""Falco's field classes: libsinsp's rules for turning a field's text (name and argument) into a field."""

from __future__ import annotations

import re

from bot.rules.record import FrozenRecord, assign

# EPF_* bits, in the order scripts/build_catalogs.py writes them (checked against fields.json on load).
FLAG_NAMES = (
    "EPF_FILTER_ONLY",
    "EPF_PRINT_ONLY",
    "EPF_TABLE_ONLY",
    "EPF_DEPRECATED",
    "EPF_ARG_REQUIRED",
    "EPF_ARG_ALLOWED",
    "EPF_ARG_INDEX",
    "EPF_ARG_KEY",
    "EPF_IS_LIST",
    "EPF_NO_RHS",
    "EPF_NO_TRANSFORMER",
    "EPF_NO_PTR_STABILITY",
)
EPF_FILTER_ONLY = 1 << 0
EPF_PRINT_ONLY = 1 << 1
EPF_TABLE_ONLY = 1 << 2
EPF_DEPRECATED = 1 << 3
EPF_ARG_REQUIRED = 1 << 4
EPF_ARG_ALLOWED = 1 << 5
EPF_ARG_INDEX = 1 << 6
EPF_ARG_KEY = 1 << 7
EPF_IS_LIST = 1 << 8
EPF_NO_RHS = 1 << 9
EPF_NO_TRANSFORMER = 1 << 10

# C isspace() and sinsp_numparser's sscanf("%d%c") == 1: optional blanks, a sign, digits, nothing after.
C_SPACE = " \t\n\v\f\r"
NUMBER_RE = re.compile(r"[ \t\n\v\f\r]*[+-]?[0-9]+")


def nonexistent(text: str) -> str:
    """libsinsp's text for a field no filtercheck class accepts."""
    return f"filter_check called with nonexistent field {text}"


class _Fail(Exception):
    """A filtercheck class rejected the text with a message (libsinsp throws from parse_field_name)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FieldInfo(FrozenRecord):
    """One field as libsinsp knows it after parsing: the table entry, or a custom one (evt.rawarg.<p>)."""

    __slots__ = ("arg", "arg_index", "arg_key", "deprecated", "flags", "is_list", "name", "plugin", "type")

    name: str
    type: str
    is_list: bool
    arg: str  # "none" | "allowed" | "required"
    arg_index: bool
    arg_key: bool
    flags: int
    deprecated: str | None
    plugin: str | None

    def __init__(
        self,
        name: str,
        type: str,
        is_list: bool,
        arg: str,
        arg_index: bool,
        arg_key: bool,
        flags: int,
        deprecated: str | None,
        plugin: str | None,
    ) -> None:
        assign(self, "name", name)
        assign(self, "type", type)
        assign(self, "is_list", is_list)
        assign(self, "arg", arg)
        assign(self, "arg_index", arg_index)
        assign(self, "arg_key", arg_key)
        assign(self, "flags", flags)
        assign(self, "deprecated", deprecated)
        assign(self, "plugin", plugin)

    @property
    def filter_only(self) -> bool:
        return bool(self.flags & EPF_FILTER_ONLY)

    @property
    def print_only(self) -> bool:
        return bool(self.flags & EPF_PRINT_ONLY)

    @property
    def no_rhs(self) -> bool:
        return bool(self.flags & EPF_NO_RHS)

    @property
    def no_transformer(self) -> bool:
        return bool(self.flags & EPF_NO_TRANSFORMER)


def make_field(name: str, kind: str, flags: int, desc: str | None, plugin: str | None) -> FieldInfo:
    """A FieldInfo from a catalog row."""
    arg = "required" if flags & EPF_ARG_REQUIRED else "allowed" if flags & EPF_ARG_ALLOWED else "none"
    return FieldInfo(
        name=name,
        type=kind,
        is_list=bool(flags & EPF_IS_LIST),
        arg=arg,
        arg_index=bool(flags & EPF_ARG_INDEX),
        arg_key=bool(flags & EPF_ARG_KEY),
        flags=flags,
        deprecated=desc if flags & EPF_DEPRECATED else None,
        plugin=plugin,
    )


Parsed = tuple[int, FieldInfo] | None


class FieldClass:
    """A table of fields with libsinsp's default parse: the longest field name that prefixes the text."""

    def __init__(self, name: str, fields: list[FieldInfo], plugin: str | None = None) -> None:
        self.name = name
        self.plugin = plugin
        self.fields = {f.name: f for f in fields}
        self.lengths = sorted({len(n) for n in self.fields}, reverse=True)

    def longest(self, text: str) -> FieldInfo | None:
        """The longest field name that `text` starts with (no word boundary needed, as in libsinsp)."""
        size = len(text)
        for n in self.lengths:
            if n <= size:
                hit = self.fields.get(text[:n])
                if hit is not None:
                    return hit
        return None

    def base_parse(self, text: str, for_output: bool) -> Parsed:
        """sinsp_filter_check::parse_field_name: longest prefix; filter-only fields refused in outputs."""
        hit = self.longest(text)
        if hit is None:
            return None
        if for_output and hit.flags & EPF_FILTER_ONLY:
            raise _Fail(f"{text} is filter only and cannot be used as a display field")
        return len(hit.name), hit

    def parse(self, text: str, for_output: bool) -> Parsed:
        """How many characters of `text` this class accepts as one field, or None when it has none."""
        return self.base_parse(text, for_output)

    def field(self, name: str) -> FieldInfo:
        return self.fields[name]


def _parse_index_arg(text: str, start: int) -> int:
    """`[N]` at `start`: the end of the bracket, or 0 when libsinsp's parsed32 would fail."""
    close = text.find("]")
    if close == -1 or not NUMBER_RE.fullmatch(text[start + 1 : close]):
        return 0
    return close + 1


class EventClass(FieldClass):
    """The syscall `evt` class: evt.arg, evt.rawarg, evt.around, evt.abspath, evt.type.is are custom."""

    def __init__(self, name: str, fields: list[FieldInfo], params: dict[str, str], events: set[str]) -> None:
        super().__init__(name, fields)
        self.params = params
        self.param_lengths = sorted({len(p) for p in params}, reverse=True)
        self.events = events

    def longest_param(self, rest: str) -> str | None:
        """sinsp_utils::find_longest_matching_evt_param: the longest parameter name prefixing `rest`."""
        for n in self.param_lengths:
            if n <= len(rest) and rest[:n] in self.params:
                return rest[:n]
        return None

    def parse(self, text: str, for_output: bool) -> Parsed:
        if text.startswith("evt.arg") and not text.startswith("evt.args"):
            return self.parse_arg(text, "evt.arg", raw=False)
        if text.startswith("evt.rawarg"):
            return self.parse_arg(text, "evt.rawarg", raw=True)
        if text.startswith("evt.around"):
            return self.parse_around(text)
        if text.startswith("evt.abspath"):
            size = len("evt.abspath.src") if text.startswith(("evt.abspath.src", "evt.abspath.dst")) else 11
            return size, self.field("evt.abspath")
        if text.startswith("evt.type.is"):
            return self.parse_type_is(text)
        return self.base_parse(text, for_output)

    def parse_arg(self, text: str, base: str, raw: bool) -> Parsed:
        """extract_arg for evt.arg / evt.rawarg: `[N]` (not for rawarg) or `.<parameter name>`."""
        n = len(base)
        info = self.field(base)
        nxt = text[n : n + 1]
        if nxt == "[":
            if raw:
                raise _Fail("evt.arg fields must be expressed explicitly")
            close = text.find("]")
            numstr = text[n + 1 : close] if close != -1 else text[n + 1 :]
            if not NUMBER_RE.fullmatch(numstr):
                raise _Fail(f"{numstr} is not a valid number")
            return (close + 1 if close != -1 else 0), info
        if nxt == ".":
            rest = text[n + 1 :]
            param = self.longest_param(rest)
            if param is None:
                raise _Fail(f"unknown event argument {rest}")
            if raw:
                # evt.rawarg takes the type of the parameter found (its first occurrence in the event table).
                info = make_field(base, self.params[param], info.flags, None, None)
            return n + len(param) + 1, info
        raise _Fail(f"filter syntax error: {text}")

    def parse_around(self, text: str) -> Parsed:
        """evt.around[<ns>]: a number in brackets; `.` or nothing is a syntax error."""
        nxt = text[10:11]
        if nxt == "[":
            close = text.find("]")
            numstr = text[11:close] if close != -1 else text[11:]
            if not NUMBER_RE.fullmatch(numstr):
                raise _Fail(f"{numstr} is not a valid number")
            return (close + 1 if close != -1 else 0), self.field("evt.around")
        if nxt == ".":
            raise _Fail("wrong syntax for evt.around")
        raise _Fail(f"filter syntax error: {text}")

    def parse_type_is(self, text: str) -> Parsed:
        """evt.type.is.<event name or number>; an unknown name consumes nothing."""
        if text[11:12] != ".":
            raise _Fail(f"filter syntax error: {text}")
        itype = text[12:]
        if NUMBER_RE.fullmatch(itype) or itype in self.events:
            return len(text), self.field("evt.type.is")
        return 0, self.field("evt.type.is")


# Thread-class fields with an optional `[N]` ancestor level, in the order libsinsp tests them (aexepath first).
_ANCESTOR_FIELDS = ("proc.apid", "proc.aname", "proc.aexepath", "proc.aexe", "proc.acmdline")
# Fields whose argument syntax libsinsp 0.25 parses in code we could not read: any `[...]` is accepted.
_LOOSE_ARG_FIELDS = ("proc.args", "proc.aargs")


def _parse_loose(text: str, info: FieldInfo) -> Parsed:
    """`name` or `name[anything]`."""
    n = len(info.name)
    if text[n : n + 1] == "[":
        close = text.find("]", n)
        return (close + 1 if close != -1 else 0), info
    return n, info


class ThreadClass(FieldClass):
    """The `process` class: ancestors (`proc.aname[2]`), `proc.env[NAME]`, `thread.cgroup.<subsys>`."""

    def parse(self, text: str, for_output: bool) -> Parsed:
        for name in _ANCESTOR_FIELDS:
            if text.startswith(name):
                return self.parse_ancestor(text, name)
        for name in ("proc.env", "proc.aenv"):
            if text.startswith(name):
                return self.parse_env(text, name)
        if text.startswith("thread.cgroup") and not text.startswith("thread.cgroups"):
            return self.parse_cgroup(text)
        for name in _LOOSE_ARG_FIELDS:
            if text.startswith(name) and text[len(name) : len(name) + 1] in ("", "["):
                return _parse_loose(text, self.field(name))
        return self.base_parse(text, for_output)

    def parse_ancestor(self, text: str, name: str) -> Parsed:
        # libsinsp catches the parse error: a bad level leaves nothing consumed (so: nonexistent field).
        n = len(name)
        if text[n : n + 1] == "[":
            return _parse_index_arg(text, n), self.field(name)
        return (n if text == name else 0), self.field(name)

    def parse_env(self, text: str, name: str) -> Parsed:
        n = len(name)
        if text[n : n + 1] == "[":
            close = text.find("]", n)
            return (close + 1 if close != -1 else 0), self.field(name)
        return (n if text == name else 0), self.field(name)

    def parse_cgroup(self, text: str) -> Parsed:
        """thread.cgroup.<letters_and_underscores> or thread.cgroup[<subsys>]; nothing else."""
        info = self.field("thread.cgroup")
        n = len("thread.cgroup")
        nxt = text[n : n + 1]
        if nxt == ".":
            end = n + 1
            while end < len(text) and ((text[end].isascii() and text[end].isalpha()) or text[end] == "_"):
                end += 1
            return end, info
        if nxt == "[":
            close = text.find("]", n)
            return (close + 1 if close != -1 else 0), info
        raise _Fail(f"filter syntax error: {text}")


class FdClass(FieldClass):
    """The `fd` class: fd.types takes an optional argument."""

    def parse(self, text: str, for_output: bool) -> Parsed:
        if text.startswith("fd.types") and text[8:9] in ("", "["):
            return _parse_loose(text, self.field("fd.types"))
        return self.base_parse(text, for_output)


def _index_error(arg: str) -> str | None:
    """sinsp_filter_check_plugin::extract_arg_index: why `arg` is not an index, or None."""
    message = None
    if arg == "" or (len(arg) > 1 and arg[0] == "0"):
        message = " has an invalid index argument starting with 0: "
    if any(c not in "0123456789" for c in arg):
        message = " has an invalid index argument not composed only by digits: "
    if message is None and int(arg) > 0xFFFFFFFFFFFFFFFF:
        message = " has an invalid index argument not representable on 64 bit: "
    return message


class PluginClass(FieldClass):
    """A plugin's fields: `name[arg]` with the plugin's index/key/required rules."""

    def parse(self, text: str, for_output: bool) -> Parsed:
        hit = self.base_parse(text, for_output)
        if hit is None:
            return None
        res, info = hit
        val = text.split(" ", 1)[0].strip(C_SPACE)
        arg_pos = val.find("[")
        if arg_pos == -1:
            if info.arg == "required":
                raise _Fail(f"filter '{text}': {info.name} requires an argument but none provided")
            return res, info
        if res != arg_pos:
            return None  # only a prefix of the name before '[' matched: not this class
        return self.parse_arg(text, val, arg_pos, info), info

    def parse_arg(self, text: str, val: str, arg_pos: int, info: FieldInfo) -> int:
        if arg_pos + 1 >= len(val):
            raise _Fail(f"filter '{text}': {info.name} terminates with incomplete argument brackets")
        rest = val[arg_pos + 1 :]
        close = rest.find("]")
        if close == -1:
            raise _Fail(f"filter '{text}': {info.name} has unbalanced argument brackets")
        arg = rest[:close]
        if info.arg == "none":
            refused = "does not allow nor require an argument but one is provided"
            raise _Fail(f"filter '{text}': {info.name} {refused}: {arg}")
        # Fields that take an index or a key (container.mount.dest[/var/run/docker.sock]) accept any text.
        if info.arg_index and not info.arg_key:
            message = _index_error(arg)
            if message is not None:
                raise _Fail(f"filter {text} {info.name}{message}{arg}")
        return arg_pos + close + 2
