"""Falco's field and event catalogs, with libsinsp's rules for turning a field's text into a field."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable

from bot.rules.errors import FieldError
from bot.rules.record import FrozenRecord, assign

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start-up
if TYPE_CHECKING:
    from typing import Any

CONFIG_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "config", "falco"
)

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


Lookup = FieldInfo | str


class SourceFields:
    """The fields of one event source, in libsinsp's class order: the first class that matches decides."""

    def __init__(self, source: str, classes: list[FieldClass]) -> None:
        self.source = source
        self.classes = classes
        self._cache: dict[tuple[str, str | None], Lookup] = {}
        self._out_cache: dict[tuple[str, str | None], Lookup] = {}
        self._heads = frozenset(n.split(".", 1)[0] for c in classes for n in c.fields)
        # Facts derived from this source's fields by other modules (filtercheck's per-value verdicts).
        self.memo: dict[Any, Any] = {}

    def resolve(self, name: str, arg: str | None = None) -> FieldInfo:
        """The field `name[arg]` means in a condition; FieldError with libsinsp's text when none."""
        hit = self.lookup(name, arg)
        if isinstance(hit, str):
            raise FieldError(hit)
        return hit

    def lookup(self, name: str, arg: str | None = None) -> Lookup:
        """Like resolve, without exceptions: the FieldInfo or the error text (cached)."""
        key = (name, arg)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._parse(field_text(name, arg), for_output=False)
        return hit

    def lookup_output(self, name: str, arg: str | None = None) -> Lookup:
        """The field as an output format token compiles it (filter-only fields refused)."""
        key = (name, arg)
        hit = self._out_cache.get(key)
        if hit is None:
            hit = self._out_cache[key] = self._parse(field_text(name, arg), for_output=True)
        return hit

    def is_field_text(self, text: str) -> bool:
        """True when `text` compiles as a field here (the check behind the "misused as a const" warning)."""
        dot = text.find(".")
        if dot <= 0 or text[:dot] not in self._heads:
            return False  # every field name is `<head>.<...>`: nothing else can match a class
        return not isinstance(self.lookup(text, None), str)

    def _parse(self, text: str, for_output: bool) -> Lookup:
        """new_filter_check_from_fldname with the exact check: the whole text must be consumed."""
        for cls in self.classes:
            try:
                hit = cls.parse(text, for_output)
            except _Fail as exc:
                return exc.message
            if hit is not None:
                return hit[1] if hit[0] == len(text) else nonexistent(text)
        return nonexistent(text)


def field_text(name: str, arg: str | None) -> str:
    """The text libsinsp parses for a field: `name` or `name[arg]` (an empty argument is dropped)."""
    return f"{name}[{arg}]" if arg else name


class PluginInfo(FrozenRecord):
    """A plugin: the event source it provides (if any), the sources it extracts from, its fields."""

    __slots__ = ("event_source", "extract_sources", "fields", "name")

    name: str
    event_source: str | None
    extract_sources: tuple[str, ...] | None
    fields: tuple[FieldInfo, ...]

    def __init__(
        self,
        name: str,
        event_source: str | None,
        extract_sources: tuple[str, ...] | None,
        fields: tuple[FieldInfo, ...],
    ) -> None:
        assign(self, "name", name)
        assign(self, "event_source", event_source)
        assign(self, "extract_sources", extract_sources)
        assign(self, "fields", fields)


class FieldCatalog:
    """Every field and event Falco 0.44 knows, from config/falco/*.json."""

    def __init__(self, config_dir: str | None = None) -> None:
        if config_dir is None:
            # The same data as config/falco/*.json, as bytecode: no JSON parser at start-up.
            from bot.rules import catalog_data

            fields, events, params = catalog_data.FIELDS, catalog_data.EVENTS, catalog_data.EVENT_PARAMS
        else:
            fields = _read(os.path.join(config_dir, "fields.json"))
            events = _read(os.path.join(config_dir, "events.json"))
            params = _read(os.path.join(config_dir, "event_params.json"))
        if tuple(fields["flag_bits"]) != FLAG_NAMES:
            raise ValueError("config/falco/fields.json was built with another flag order")
        self.libs_commit: str = fields["libs_commit"]
        self.event_params: dict[str, str] = {name: kind for name, kind in params["params"]}
        self._load_events(events)
        self._load_fields(fields)
        self._sources: dict[tuple[str, frozenset[str]], SourceFields] = {}

    def _load_events(self, events: dict[str, Any]) -> None:
        self.event_code_names: list[str] = events["codes"]
        self.event_code_count = len(self.event_code_names)
        self.all_event_codes = (1 << self.event_code_count) - 1
        self.event_table_names = frozenset(events["event_names"])
        self.ppm_sc_names = frozenset(events["ppm_sc_names"])
        self.event_types = self.event_table_names | self.ppm_sc_names
        generic = sum(1 << i for i in events["generic"])
        self._codes: dict[str, int] = {}
        for name, idx in events["event_names"].items():
            # names_to_event_set matches names from code 2 on: the generic "syscall" codes never match.
            bits = sum(1 << i for i in idx if i not in events["generic"])
            if bits:
                self._codes[name] = bits
        for name in self.ppm_sc_names:
            self._codes.setdefault(name, generic)

    def _load_fields(self, fields: dict[str, Any]) -> None:
        deprecated: dict[str, str] = fields["libsinsp_deprecated_desc"]
        self.libsinsp: list[FieldClass] = []
        for idx, cls in enumerate(fields["libsinsp_classes"]):
            rows = [make_field(n, t, f, deprecated.get(n), None) for n, t, f in cls["fields"]]
            self.libsinsp.append(self._libsinsp_class(idx, cls["name"], rows))
        self.plugins: dict[str, PluginInfo] = {}
        for name, plugin in fields["plugins"].items():
            rows = [make_field(n, t, f, None, name) for n, t, f in plugin["fields"]]
            extract = plugin["extract_sources"]
            self.plugins[name] = PluginInfo(
                name, plugin["event_source"], tuple(extract) if extract is not None else None, tuple(rows)
            )
        self.aliases: dict[str, str] = fields["plugin_aliases"]
        self.falco_deprecated: dict[str, str] = {n: msg for n, msg in fields["falco_deprecated_fields"]}
        self._plugin_classes = {n: PluginClass(f"{n} (plugin)", list(p.fields), n) for n, p in self.plugins.items()}

    def _libsinsp_class(self, idx: int, name: str, rows: list[FieldInfo]) -> FieldClass:
        if name == "evt" and idx == 1:
            return EventClass(name, rows, self.event_params, set(self.event_table_names))
        if name == "process":
            return ThreadClass(name, rows)
        if name == "fd":
            return FdClass(name, rows)
        return FieldClass(name, rows)

    def has_plugin(self, name: str) -> bool:
        """True for a plugin whose fields we know (aliases included)."""
        return self.aliases.get(name, name) in self.plugins

    def plugin(self, name: str) -> PluginInfo | None:
        return self.plugins.get(self.aliases.get(name, name))

    def sources(self, plugins: Iterable[str]) -> set[str]:
        """Valid `source:` values: syscall plus the event source of each loaded source plugin."""
        out = {"syscall"}
        for name in plugins:
            info = self.plugin(name)
            if info is not None and info.event_source is not None:
                out.add(info.event_source)
        return out

    def fields_for(self, source: str, plugins: frozenset[str]) -> SourceFields:
        """The fields a rule of `source` may use with `plugins` loaded (cached)."""
        key = (source, plugins)
        hit = self._sources.get(key)
        if hit is None:
            hit = self._sources[key] = SourceFields(source, self._classes_for(source, plugins))
        return hit

    def _classes_for(self, source: str, plugins: frozenset[str]) -> list[FieldClass]:
        """libsinsp's classes (only the generic evt.* ones for plugin sources), then compatible plugins."""
        classes = list(self.libsinsp) if source == "syscall" else [self.libsinsp[0]]
        loaded = {self.aliases.get(p, p) for p in plugins}
        # Source plugins first, then extractors, json last: the order Falco's default config loads them.
        for name in sorted(loaded & self.plugins.keys(), key=lambda n: (self._plugin_rank(n), n)):
            info = self.plugins[name]
            if _extracts(info, source):
                classes.append(self._plugin_classes[name])
        return classes

    def _plugin_rank(self, name: str) -> int:
        info = self.plugins[name]
        if info.event_source is not None:
            return 0
        return 2 if info.extract_sources is None else 1

    def is_event_type(self, name: str) -> bool:
        """True for a valid `evt.type` value: an event-table name or a ppm_sc (syscall) name."""
        return name in self.event_types

    def event_codes(self, name: str) -> int:
        """The event codes `evt.type = name` matches, as a bit set (0 when none)."""
        return self._codes.get(name, 0)

    def event_codes_api(self) -> tuple[int, Callable[[str], int]]:
        """(all event codes, codes of a name), for the event-type analysis."""
        return self.all_event_codes, self.event_codes

    def falco_deprecated_message(self, name: str) -> str | None:
        """Falco's LOAD_DEPRECATED_ITEM text for a deprecated field name, or None."""
        return self.falco_deprecated.get(name)


def _extracts(info: PluginInfo, source: str) -> bool:
    """Whether a plugin's fields apply to `source` (its own source, or one it extracts from, or any)."""
    if info.event_source == source:
        return True
    if info.extract_sources is not None:
        return source in info.extract_sources
    return info.event_source is None


def _read(path: str) -> dict[str, Any]:
    import json  # only when the catalog loads, not when the engine is imported

    with open(path, encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


_CATALOG: FieldCatalog | None = None


def get_catalog() -> FieldCatalog:
    """The catalog, loaded on first use."""
    global _CATALOG
    if _CATALOG is None:
        _CATALOG = FieldCatalog()
    return _CATALOG


def is_event_type(name: str) -> bool:
    """True for a valid `evt.type` value (event-table or ppm_sc name)."""
    return get_catalog().is_event_type(name)


def event_codes(name: str) -> int:
    """The event codes of `evt.type = name` as a bit set."""
    return get_catalog().event_codes(name)


def __getattr__(name: str) -> int:
    # ALL_EVENT_CODES and EVENT_CODE_COUNT are computed from the catalog, so only on first access.
    if name == "ALL_EVENT_CODES":
        return get_catalog().all_event_codes
    if name == "EVENT_CODE_COUNT":
        return get_catalog().event_code_count
    raise AttributeError(name)
