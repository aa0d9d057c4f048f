"""Falco's field and event catalogs, with libsinsp's rules for turning a field's text into a field."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from bot import paths
from bot.rules.errors import FieldError
from bot.rules.fieldclasses import (
    FLAG_NAMES,
    EventClass,
    FdClass,
    FieldClass,
    FieldInfo,
    PluginClass,
    ThreadClass,
    _Fail,
    make_field,
    nonexistent,
)
from bot.rules.record import FrozenRecord, assign

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start-up
if TYPE_CHECKING:
    from typing import Any

CONFIG_DIR = os.path.join(paths.CONFIG, "falco")

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
