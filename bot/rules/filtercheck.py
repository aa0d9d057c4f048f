"""What libsinsp's filter compiler (and Falco around it) says about one comparison of a condition."""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.rules.ast import Check, FieldRef, ListValue, Pos, StrValue, Transformer, TransformerArg
from bot.rules.catalog import SourceFields, get_catalog
from bot.rules.fieldclasses import C_SPACE, FieldInfo
from bot.rules.record import Record
from bot.rules.valuetypes import (
    compare_error_cached,
    modifier_error,
    parse_error,
    regex_is_simple,
    type_name,
    unhex_ok,
)

COMPILE_ERROR = "LOAD_ERR_COMPILE_CONDITION"
COMPILE_WARNING = "LOAD_COMPILE_CONDITION"
DEPRECATED_ITEM = "LOAD_DEPRECATED_ITEM"
UNSAFE_NA_CHECK = "LOAD_UNSAFE_NA_CHECK"

# Falco's filter_warning_resolver: `ka.*`/`jevt.*` compared for equality with the literal <NA>.
NA_VALUE = "<NA>"
NA_FIELD_PREFIXES = ("ka.", "jevt.")
NA_OPERATORS = frozenset({"==", "=", "!=", "in", "intersects", "pmatch"})
# Operators libsinsp's event-code search reads on evt.type / syscall.type.
EVTTYPE_OPERATORS = frozenset({"==", "=", "!=", "in"})
EVTTYPE_FIELDS = frozenset({"evt.type", "syscall.type"})
# parser::supported_field_transformers(true), in libsinsp's order.
TRANSFORMER_NAMES = ("val", "tolower", "toupper", "b64", "basename", "len", "join", "concat", "getopt")
SINGLE_TRANSFORMERS = frozenset({"tolower", "toupper", "b64", "basename", "len"})
REGEX_HINT = "may be optimized with simpler operators such as '=', 'contains', 'startswith', 'endswith'"
# std::to_string(cmpop) for the operators that refuse a right-hand field.
NO_RHS_FIELD_OPS = {"pmatch": "PMATCH", "regex": "REGEX"}
MULTI_NAME = "NA"  # the name of the mock field behind join/concat/getopt checks
MULTI_LIST_NAME = "INTERNAL"  # ... and of the list a list-valued one yields
_SPACES = re.compile(f"[{C_SPACE}]")


class Diag(Record):
    """One finding about a comparison, with Falco's load-result code and libsinsp's text.

    `phase` tells when Falco reports it: "resolve" warnings (deprecated fields, <NA> checks) come from
    Falco's pass over the whole condition before compiling, once per condition and even when the compile
    fails; "compile" errors stop at the first one, and "compile" warnings are only reported when the whole
    condition compiled; "evttype" errors come from the event-type analysis after a successful compile.
    `pos` is where libsinsp's compiler stood (its last visited node), as Falco reports it.
    """

    __slots__ = ("code", "deprecated_field", "message", "phase", "pos", "severity", "skippable")

    def __init__(
        self,
        severity: str,
        code: str,
        message: str,
        pos: Pos | None,
        skippable: bool = False,
        deprecated_field: str | None = None,
        phase: str = "compile",
    ) -> None:
        self.severity = severity
        self.code = code
        self.message = message
        self.pos = pos
        self.skippable = skippable
        self.deprecated_field = deprecated_field
        self.phase = phase


class _Fail(Exception):
    """A compile error while visiting the operands (raised only on the error path)."""

    def __init__(self, message: str, pos: Pos | None, skippable: bool = False) -> None:
        super().__init__(message)
        self.diag = Diag("error", COMPILE_ERROR, message, pos, skippable)


class Operand(Record):
    """A compiled field or transformer chain: what libsinsp's filtercheck knows about it."""

    __slots__ = (
        "field", "is_list", "last_pos", "name", "no_rhs", "no_transformer", "orig_is_list", "orig_type", "type",
    )  # fmt: skip

    def __init__(
        self,
        name: str,
        type: str,
        is_list: bool,
        orig_type: str,
        orig_is_list: bool,
        no_rhs: bool,
        no_transformer: bool,
        field: FieldInfo | None,
        last_pos: Pos,
    ) -> None:
        self.name = name  # the field name messages use (the underlying field's, through single transformers)
        self.type = type  # the transformed type
        self.is_list = is_list  # the transformed list-ness
        self.orig_type = orig_type  # the untransformed field's type (what multi-value transformers check)
        self.orig_is_list = orig_is_list
        self.no_rhs = no_rhs
        self.no_transformer = no_transformer
        self.field = field  # the underlying field, when the chain ends in one
        self.last_pos = last_pos  # the last node libsinsp visited, where it reports an error


def _skippable(message: str) -> bool:
    # Falco's err_is_unknown_type_or_field: the errors `skip-if-unknown-filter: true` turns into warnings.
    return "nonexistent field" in message or "unknown event type" in message


def _field_operand(node: FieldRef, fields: SourceFields, for_output: bool) -> Operand:
    hit = fields.lookup_output(node.name, node.arg) if for_output else fields.lookup(node.name, node.arg)
    if isinstance(hit, str):
        raise _Fail(hit, node.pos, _skippable(hit))
    return Operand(
        hit.name, hit.type, hit.is_list, hit.type, hit.is_list, hit.no_rhs, hit.no_transformer, hit, node.pos
    )


def compile_operand(node: FieldRef | Transformer, fields: SourceFields, for_output: bool = False) -> Operand:
    """The filtercheck a field or transformer expression compiles to; raises _Fail like libsinsp throws."""
    if isinstance(node, FieldRef):
        return _field_operand(node, fields, for_output)
    if node.name in SINGLE_TRANSFORMERS or node.name == "val":
        return _single_transformer(node, fields, for_output)
    if node.name in ("join", "concat", "getopt"):
        return _multi_transformer(node, fields, for_output)
    raise _Fail(f"filter error: unknown transformer '{node.name}'", node.pos)


def _arg_operand(arg: TransformerArg, fields: SourceFields, for_output: bool, pos: Pos) -> Operand:
    """A transformer argument: a field, a transformer, or a literal (libsinsp's rawstring check)."""
    if isinstance(arg, (FieldRef, Transformer)):
        return compile_operand(arg, fields, for_output)
    if isinstance(arg, ListValue):
        last = pos
        for item in arg.values:
            if isinstance(item, (FieldRef, Transformer)):
                last = compile_operand(item, fields, for_output).last_pos
        return Operand(MULTI_NAME, "PT_CHARBUF", True, "PT_CHARBUF", True, False, False, None, last)
    return Operand(MULTI_NAME, "PT_CHARBUF", False, "PT_CHARBUF", False, False, False, None, arg.pos)


def _single_transformer(node: Transformer, fields: SourceFields, for_output: bool) -> Operand:
    """val() (identity) or tolower/toupper/b64/basename/len on one field or transformer."""
    if len(node.args) != 1:
        raise _Fail(f"filter error: transformer '{node.name}' requires exactly one argument", node.pos)
    inner = _arg_operand(node.args[0], fields, for_output, node.pos)
    if node.arg is not None:
        raise _Fail(f"filter error: transformer '{node.name}' does not support field arguments", inner.last_pos)
    if node.name == "val":
        return inner
    if inner.no_transformer:
        raise _Fail(f"field '{inner.name}' does not support transformers", inner.last_pos)
    result = transform_type(node.name, inner.type, inner.is_list)
    if result is None:
        on = "list field" if inner.is_list else "field"
        raise _Fail(
            f"can't add field transformer: type '{type_name(inner.type)}' is not supported by "
            f"'{node.name}' transformer applied on {on} '{inner.name}'",
            inner.last_pos,
        )
    inner.type, inner.is_list = result
    return inner


def transform_type(name: str, kind: str, is_list: bool) -> tuple[str, bool] | None:
    """The type a single-value transformer yields (sinsp_filter_*_transformer::transform_type), or None."""
    if name == "len":
        if is_list:
            return "PT_UINT64", False
        return ("PT_UINT64", False) if kind in ("PT_CHARBUF", "PT_BYTEBUF", "PT_FSPATH", "PT_FSRELPATH") else None
    if name == "b64":
        return (kind, is_list) if kind in ("PT_CHARBUF", "PT_BYTEBUF") else None
    return (kind, is_list) if kind in ("PT_CHARBUF", "PT_FSPATH", "PT_FSRELPATH") else None


def _multi_transformer(node: Transformer, fields: SourceFields, for_output: bool) -> Operand:
    """join / concat / getopt: argument checks of the multi-value transformers, then the field argument."""
    args = [_arg_operand(a, fields, for_output, node.pos) for a in node.args]
    last = args[-1].last_pos if args else node.pos
    types = [(a.orig_type, a.orig_is_list) for a in args]
    message = _multi_args_error(node.name, types)
    if message is None:
        message = _multi_field_arg_error(node.name, node.arg)
    if message is not None:
        raise _Fail(message, last)
    is_list = node.name == "getopt" and node.arg is None
    name = MULTI_LIST_NAME if is_list else MULTI_NAME
    return Operand(name, "PT_CHARBUF", is_list, "PT_CHARBUF", False, False, False, None, last)


def _multi_args_error(name: str, types: list[tuple[str, bool]]) -> str | None:
    """The constructor checks of sinsp_filter_multivalue_transformer_{join,concat,getopt}."""
    if name == "join":
        if len(types) != 2:
            return "join() requires exactly 2 arguments: separator and list"
        if types[0][1]:
            return "join() first argument (separator) must be a single value, not a list"
        return None if types[1][1] else "join() second argument must be a list"
    if name == "concat":
        if len(types) < 2:
            return "concat() requires at least 2 arguments"
        ok = all(kind == "PT_CHARBUF" and not is_list for kind, is_list in types)
        return None if ok else "concat() arguments must be strings"
    if len(types) != 2:
        return "getopt() requires exactly 2 arguments: args list and optstring"
    if not types[0][1]:
        return "getopt() first argument must be a list"
    if types[1][1]:
        return "getopt() second argument (optstring) must be a single value"
    ok = types[0][0] == "PT_CHARBUF" and types[1][0] == "PT_CHARBUF"
    return None if ok else "getopt() arguments must be strings"


def _multi_field_arg_error(name: str, arg: str | None) -> str | None:
    """set_arg: only getopt takes `[c]`, one option character."""
    if arg is None:
        return None
    if name != "getopt":
        return f"transformer '{name}' does not support field arguments"
    return None if len(arg) == 1 else "getopt() field argument must be a single option character"


def _resolver_diags(check: Check) -> list[Diag]:
    """Falco's filter_warning_resolver on one comparison: the <NA> check, then deprecated fields."""
    lhs = check.lhs
    if isinstance(lhs, FieldRef):
        # The common case, kept free of list building: one field on the left.
        if lhs.name not in _deprecated_fields() and not lhs.name.startswith(NA_FIELD_PREFIXES):
            return []
        refs = [lhs]
    else:
        refs = _field_refs(lhs)
    out: list[Diag] = []
    if refs and refs[-1].name.startswith(NA_FIELD_PREFIXES) and check.op in NA_OPERATORS and _has_na(check):
        out.append(Diag("warning", UNSAFE_NA_CHECK, "", check.pos, phase="resolve"))
        if isinstance(check.rhs, (FieldRef, Transformer)):
            refs = refs + _field_refs(check.rhs)
    deprecated = _deprecated_fields()
    seen: set[str] = set()
    for ref in refs:
        message = deprecated.get(ref.name)
        if message is not None and ref.name not in seen:
            seen.add(ref.name)
            out.append(Diag("warning", DEPRECATED_ITEM, message, ref.pos, deprecated_field=ref.name, phase="resolve"))
    return out


def _deprecated_fields() -> dict[str, str]:
    """Falco's deprecated fields and their LOAD_DEPRECATED_ITEM texts, in Falco's order."""
    return get_catalog().falco_deprecated


def condition_resolver_diags(diags: Iterable[Diag]) -> list[Diag]:
    """The "resolve" warnings of a whole condition as Falco reports them: at most one <NA> warning, then
    one warning per deprecated field, in Falco's field order (a set of codes, then a set of fields)."""
    na: Diag | None = None
    fields: dict[str, Diag] = {}
    for diag in diags:
        if diag.phase != "resolve":
            continue
        if diag.code == UNSAFE_NA_CHECK:
            na = na or diag
        elif diag.deprecated_field is not None:
            fields.setdefault(diag.deprecated_field, diag)
    order = list(_deprecated_fields())
    out = [na] if na is not None else []
    return out + [fields[name] for name in sorted(fields, key=order.index)]


def _has_na(check: Check) -> bool:
    rhs = check.rhs
    if isinstance(rhs, StrValue):
        return rhs.value == NA_VALUE
    if isinstance(rhs, ListValue):
        return any(isinstance(v, StrValue) and v.value == NA_VALUE for v in rhs.values)
    return False


def _field_refs(node: object) -> list[FieldRef]:
    """Every field reference under an operand, in visiting order."""
    if isinstance(node, FieldRef):
        return [node]
    out: list[FieldRef] = []
    if isinstance(node, Transformer):
        for arg in node.args:
            out.extend(_field_refs(arg))
    elif isinstance(node, ListValue):
        for item in node.values:
            out.extend(_field_refs(item))
    return out


def check_leaf(check: Check, fields: SourceFields) -> list[Diag]:
    """Everything Falco and libsinsp report for one comparison, in the order they report it."""
    out = _resolver_diags(check)
    try:
        node = check.lhs
        lhs = _field_operand(node, fields, False) if isinstance(node, FieldRef) else compile_operand(node, fields)
        _check_operator(check, lhs)
        _check_rhs(check, lhs, fields, out)
    except _Fail as exc:
        out.append(exc.diag)
        return out
    message = _evttype_error(check)
    if message is not None:
        out.append(Diag("error", COMPILE_ERROR, message, check.pos, phase="evttype"))
    return out


def _check_operator(check: Check, lhs: Operand) -> None:
    """check_op_type_compatibility on the transformed type, then the modifier restriction."""
    message = compare_error_cached(check.op, lhs.type, lhs.is_list)
    if message is None and check.modifier is not None:
        message = modifier_error(check.op, lhs.type)
    if message is not None:
        raise _Fail(f"filter error: {message}", lhs.last_pos)


def _check_rhs(check: Check, lhs: Operand, fields: SourceFields, out: list[Diag]) -> None:
    rhs = check.rhs
    if rhs is None:
        return
    if isinstance(rhs, (FieldRef, Transformer)):
        _check_rhs_field(check, lhs, compile_operand(rhs, fields))
        return
    if isinstance(rhs, StrValue):
        _check_value(check.op, lhs, rhs.value, rhs.pos, fields, out)
        return
    op = check.op
    memo = fields.memo
    type_ = lhs.type
    field_name = lhs.field.name if lhs.field is not None else ""
    for item in rhs.values:
        # A list holds literal strings in libsinsp's AST; a field-looking item stays text.
        text = item.value if isinstance(item, StrValue) else _item_text(item)
        if text is not None:
            # A value already known to give nothing (most list items) is skipped without a call.
            outcome = memo.get((text, op, type_, field_name))
            if outcome is None or outcome[0] or outcome[1] is not None:
                _check_value(op, lhs, text, rhs.pos, fields, out)


def _item_text(item: object) -> str | None:
    if isinstance(item, FieldRef):
        return f"{item.name}[{item.arg}]" if item.arg else item.name
    return None


def _check_rhs_field(check: Check, lhs: Operand, rhs: Operand) -> None:
    """sinsp_filter_check::add_filter_value(rhs check): operator, IPNET, EPF_NO_RHS, then type equality."""
    pos = rhs.last_pos
    if check.op in NO_RHS_FIELD_OPS:
        raise _Fail(f"operator '{NO_RHS_FIELD_OPS[check.op]}' doesn't support right-hand side fields", pos)
    if lhs.type in ("PT_IPNET", "PT_IPV4NET", "PT_IPV6NET"):
        raise _Fail("field type 'IPNET' doesn't support right-hand side fields", pos)
    if lhs.no_rhs:
        raise _Fail(f"field '{lhs.name}' doesn't support right-hand side fields", pos)
    if rhs.no_rhs:
        raise _Fail(f"field '{rhs.name}' can't be used as a right-hand side field", pos)
    if lhs.type != rhs.type or lhs.is_list != rhs.is_list:
        raise _Fail(
            f"field '{lhs.name}' has type '{_type_label(lhs)}' while the right-hand side field "
            f"'{rhs.name}' has incompatible type '{_type_label(rhs)}'",
            pos,
        )


def _type_label(op: Operand) -> str:
    return type_name(op.type) + (" (list)" if op.is_list else "")


# What one literal value yields for (value, operator, type, field): warning texts and an error text.
ValueOutcome = tuple[tuple[str, ...], str | None]


def _check_value(op: str, lhs: Operand, value: str, pos: Pos, fields: SourceFields, out: list[Diag]) -> None:
    """One literal right-hand value: the compiler's warnings, then parsing it as the field's type."""
    key = (value, op, lhs.type, lhs.field.name if lhs.field is not None else "")
    memo: dict[tuple[str, str, str, str], ValueOutcome] = fields.memo
    outcome = memo.get(key)
    if outcome is None:
        outcome = memo[key] = _value_outcome(op, lhs, value, fields)
    warnings, error = outcome
    for message in warnings:
        out.append(Diag("warning", COMPILE_WARNING, message, pos))
    if error is not None:
        raise _Fail(error, pos, _skippable(error))


def _value_outcome(op: str, lhs: Operand, value: str, fields: SourceFields) -> ValueOutcome:
    warnings = _value_warnings(op, value, fields)
    if op in ("bcontains", "bstartswith") and not unhex_ok(value):
        return warnings, "filter error: bcontains and bstartswith operator support hex strings only"
    error = parse_error(value, lhs.type)
    if error is None and lhs.field is not None:
        error = _event_value_error(lhs.field, op, value)
    return warnings, error


def _event_value_error(field: FieldInfo, op: str, value: str) -> str | None:
    """sinsp_filter_check_event::validate_filter_value: evt.type names and evt.around's operator."""
    if field.name == "evt.type" and field.plugin is None:
        return None if get_catalog().is_event_type(value) else f"unknown event type {value}"
    if field.name == "evt.around" and op not in ("=", "=="):
        return "evt.around supports only '=' comparison operator"
    return None


def _value_warnings(op: str, value: str, fields: SourceFields) -> tuple[str, ...]:
    """check_value_and_add_warnings: a regex that needs none, a field or transformer used as a string."""
    out: list[str] = []
    if op == "regex" and regex_is_simple(value):
        out.append(f"regex check with '{value}' {REGEX_HINT}")
    # libsinsp strips every blank before looking for a field or a transformer call.
    nospaces = _SPACES.sub("", value)
    if fields.is_field_text(nospaces):
        out.append(f"'{value}' may be a valid field misused as a const string value")
    if nospaces.endswith(")"):
        for name in TRANSFORMER_NAMES:
            if len(nospaces) >= len(name) + 2 and nospaces.startswith(name) and nospaces[len(name)] == "(":
                out.append(f"'{value}' may be a valid field transformer misused as a const string value")
    return tuple(out)


def _evttype_error(check: Check) -> str | None:
    """ppm_event_codes on this comparison: evt.type under a transformer, or compared with a field."""
    lhs = check.lhs
    if isinstance(lhs, Transformer):
        if (check.rhs is None or check.op in EVTTYPE_OPERATORS) and _has_evttype(lhs):
            return "event code search does not support `evt.type` checks with transformers"
        return None
    if check.op in EVTTYPE_OPERATORS and _is_evttype(lhs) and isinstance(check.rhs, (FieldRef, Transformer)):
        return "right-hand field comparisons on `evt.type`/`syscall.type` checks are not supported by event code search"
    return None


def _is_evttype(node: object) -> bool:
    return isinstance(node, FieldRef) and node.name in EVTTYPE_FIELDS and not node.arg


def _has_evttype(node: Transformer) -> bool:
    return any(_is_evttype(ref) for ref in _field_refs(node))


def check_output_operand(operand: FieldRef | Transformer, fields: SourceFields) -> str | None:
    """None when the operand compiles as an output format token, else the compiler's error text."""
    if isinstance(operand, FieldRef):
        hit = fields.lookup_output(operand.name, operand.arg)
        return hit if isinstance(hit, str) else None
    try:
        compile_operand(operand, fields, for_output=True)
    except _Fail as exc:
        return exc.diag.message
    return None


def is_deprecated_output_field(name: str) -> bool:
    """True for a field Falco warns about when a rule output uses it."""
    return get_catalog().falco_deprecated_message(name) is not None


def deprecated_output_fields(fmt: str) -> list[str]:
    """The deprecated fields Falco reports for an output: a plain substring search, in Falco's order."""
    return [name for name in get_catalog().falco_deprecated if name in fmt]
