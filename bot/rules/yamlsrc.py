"""YAML reading with positions: composes documents with libyaml and answers as yaml-cpp would."""

from __future__ import annotations

import re

import yaml
from yaml.nodes import MappingNode as MappingNode
from yaml.nodes import Node as Node
from yaml.nodes import ScalarNode as ScalarNode
from yaml.nodes import SequenceNode as SequenceNode

from bot.rules.record import FrozenRecord, assign

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start-up
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "Limits",
    "MappingNode",
    "Node",
    "ScalarNode",
    "SequenceNode",
    "YamlLimitError",
    "YamlParseError",
    "compose_documents",
    "decode_bool",
    "decode_uint",
    "duplicate_keys",
    "is_null",
    "mapping_index",
]

_NULL_TAG = "tag:yaml.org,2002:null"
_STR_TAG = "tag:yaml.org,2002:str"
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})


DataError = yaml.YAMLError  # what load_data raises on text that is not YAML


def load_data(source: Any) -> Any:
    """Plain data (phrase books, catalogs, a repository policy) from YAML text or a file, with libyaml's safe loader.

    The one place outside the rules reader that parses YAML, so that PyYAML has a single importer.
    """
    return yaml.load(source, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


class _Resolver(yaml.resolver.BaseResolver):
    """Only what yaml-cpp distinguishes: a plain null scalar, else a string (Falco converts scalars itself)."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            return _NULL_TAG if implicit[0] and value in _NULLS else _STR_TAG
        return str(self.DEFAULT_SEQUENCE_TAG if kind is SequenceNode else self.DEFAULT_MAPPING_TAG)


def _loader_class() -> Any:
    """libyaml's parser and composer (PyYAML's wheels ship it) with the minimal resolver above."""
    try:
        from yaml.cyaml import CParser as parser  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - PyYAML built without libyaml
        from yaml.composer import Composer
        from yaml.parser import Parser
        from yaml.reader import Reader
        from yaml.scanner import Scanner

        class parser(Reader, Scanner, Parser, Composer):  # type: ignore[no-redef]
            def __init__(self, stream: str) -> None:
                Reader.__init__(self, stream)
                Scanner.__init__(self)
                Parser.__init__(self)
                Composer.__init__(self)

    class Loader(parser, yaml.constructor.SafeConstructor, _Resolver):
        def __init__(self, stream: str) -> None:
            parser.__init__(self, stream)
            yaml.constructor.SafeConstructor.__init__(self)
            _Resolver.__init__(self)

    return Loader


_Loader: Any = _loader_class()


class Limits(FrozenRecord):
    """Bounds that keep hostile input from exhausting the machine; each is a setting."""

    __slots__ = ("max_alias_nodes", "max_condition_bytes", "max_condition_depth", "max_file_bytes", "max_yaml_depth")

    max_file_bytes: int
    max_yaml_depth: int
    max_condition_depth: int
    max_alias_nodes: int
    max_condition_bytes: int

    def __init__(
        self,
        max_file_bytes: int = 10 * 1024 * 1024,
        max_yaml_depth: int = 1000,
        max_condition_depth: int = 1000,
        max_alias_nodes: int = 200_000,
        max_condition_bytes: int = 1024 * 1024,
    ) -> None:
        assign(self, "max_file_bytes", max_file_bytes)
        assign(self, "max_yaml_depth", max_yaml_depth)
        assign(self, "max_condition_depth", max_condition_depth)
        assign(self, "max_alias_nodes", max_alias_nodes)
        # A condition after list substitution (lists referenced many times can multiply the text).
        assign(self, "max_condition_bytes", max_condition_bytes)


# libyaml's problem texts and the yaml-cpp texts Falco prints for the same mistakes.
_YAML_CPP_TEXTS = (
    ("mapping values are not allowed", "illegal map value"),
    ("did not find expected key", "end of map not found"),
    ("did not find expected '-' indicator", "end of sequence not found"),
    ("did not find expected ',' or ']'", "end of sequence flow not found"),
    ("did not find expected ',' or '}'", "end of map flow not found"),
    ("found character that cannot start any token", "unknown token"),
    ("found undefined alias", "the referenced anchor is not defined"),
    ("found unknown escape character", "unknown escape character"),
)


def _yaml_cpp_text(problem: str) -> str:
    for libyaml, yaml_cpp in _YAML_CPP_TEXTS:
        if problem.startswith(libyaml):
            return yaml_cpp
    return problem


class YamlParseError(Exception):
    """A document that libyaml cannot parse; carries a yaml-cpp style message and a 0-based mark."""

    def __init__(self, message: str, line: int, column: int, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.offset = offset


class YamlLimitError(Exception):
    """An input beyond one of the configured limits."""

    def __init__(self, message: str, line: int = 0, column: int = 0, offset: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.offset = offset


_DEEP_INDENT = 200
_LONG_DASH_CHAIN = 100
_INDENT = re.compile(r"\n[ \t]{" + str(_DEEP_INDENT) + "}")
_DASH_CHAIN = re.compile(r"-[ \t]+-[ \t]+-")  # three compact nested sequences: rare, so check precisely


def _depth_bound(text: str) -> int:
    """A cheap upper bound of the nesting depth: flow brackets + indentation + compact `- - -` chains."""
    if _INDENT.search(text) or _DASH_CHAIN.search(text):
        return len(text)
    return text.count("[") + text.count("{") + _DEEP_INDENT + _LONG_DASH_CHAIN


def _check_depth(text: str, limit: int) -> None:
    """Walk libyaml's events (iteratively, in C) and refuse nesting deeper than `limit`."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                if depth > limit:
                    mark: Any = event.start_mark
                    from bot.rules.messages import bot_message

                    raise YamlLimitError(
                        bot_message("too_deep", limit=limit),
                        mark.line,
                        mark.column,
                        mark.index,
                    )
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
    except yaml.YAMLError:
        return  # the composer reports the syntax error with its own text


def compose_documents(text: str, limits: Limits) -> list[Node | None]:
    """All documents of `text` as position-carrying nodes (None for an empty document)."""
    if _depth_bound(text) > limits.max_yaml_depth:
        _check_depth(text, limits.max_yaml_depth)
    try:
        docs: list[Node | None] = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark: Any = exc.problem_mark or exc.context_mark
        problem = _yaml_cpp_text(exc.problem or exc.context or "invalid YAML")
        if mark is None:
            raise YamlParseError(f"yaml-cpp: error: {problem}", 0, 0, 0) from None
        raise YamlParseError(
            f"yaml-cpp: error at line {mark.line + 1}, column {mark.column + 1}: {problem}",
            mark.line,
            mark.column,
            mark.index,
        ) from None
    except yaml.YAMLError as exc:
        raise YamlParseError(f"yaml-cpp: error: {exc}", 0, 0, 0) from None
    if "*" in text and _has_anchor(text):
        _check_expansion(docs, limits.max_alias_nodes)
    return docs


_ANCHOR_BEFORE = frozenset(" \t\n[{,-:")
_ANCHOR_AFTER_NOT = frozenset(" \t\r\n[]{},")


def _has_anchor(text: str) -> bool:
    """Whether `text` may define a YAML anchor (`&name` after a blank or an indicator); '&' itself is rare."""
    at = text.find("&")
    while at != -1:
        before = text[at - 1] if at else "\n"
        after = text[at + 1 : at + 2]
        if before in _ANCHOR_BEFORE and after and after not in _ANCHOR_AFTER_NOT:
            return True
        at = text.find("&", at + 1)
    return False


def _check_expansion(docs: list[Node | None], limit: int) -> None:
    """Refuse documents whose aliases expand to more than `limit` nodes (billion-laughs bombs).

    The composer shares aliased nodes, so the expanded size is computed over the graph with one
    memoised size per node, iteratively.
    """
    sizes: dict[int, int] = {}
    for doc in docs:
        if doc is None:
            continue
        stack: list[tuple[Node, bool]] = [(doc, False)]
        while stack:
            node, done = stack.pop()
            key = id(node)
            if key in sizes:
                continue
            children = _children(node)
            if done or not children:
                sizes[key] = 1 + sum(sizes.get(id(c), 0) for c in children)
                if sizes[key] > limit:
                    from bot.rules.messages import bot_message

                    mark: Any = node.start_mark
                    raise YamlLimitError(bot_message("too_many_nodes", limit=limit), mark.line, mark.column, mark.index)
                continue
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def is_null(node: Node) -> bool:
    """yaml-cpp's IsNull: a plain `~`, `null`, `Null`, `NULL` or empty scalar."""
    return node.tag == _NULL_TAG


def mapping_index(node: MappingNode) -> dict[str, Node]:
    """Key text to value node; the first of duplicate keys wins, as yaml-cpp's lookup does."""
    out: dict[str, Node] = {}
    for key, value in node.value:
        if isinstance(key, ScalarNode) and key.value not in out:
            out[key.value] = value
    return out


def duplicate_keys(node: MappingNode) -> list[ScalarNode]:
    """Keys that repeat an earlier key of the same mapping."""
    seen: set[str] = set()
    dups: list[ScalarNode] = []
    for key, _ in node.value:
        if isinstance(key, ScalarNode):
            if key.value in seen:
                dups.append(key)
            seen.add(key.value)
    return dups


_TRUE = frozenset({"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})
_FALSE = frozenset({"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"})


def decode_bool(text: str) -> bool | None:
    """yaml-cpp's convert<bool>: the y/yes/true/on words in flexible case, else None."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


_INT = re.compile(r"\+?(?:0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)\s*")


def decode_uint(text: str, bits: int) -> int | None:
    """yaml-cpp's convert<uintN>: a C++ stream read with base detection, the whole text consumed."""
    if not _INT.fullmatch(text):
        return None
    digits = text.strip().lstrip("+")
    if digits[:2] in ("0x", "0X"):
        value = int(digits[2:], 16)
    elif len(digits) > 1 and digits[0] == "0":
        value = int(digits[1:], 8)
    else:
        value = int(digits)
    return value if value < (1 << bits) else None
