"""libsinsp's filter-compiler checks on one comparison, with Falco's exact texts (probes of §2.12 included)."""

from __future__ import annotations

import time

import pytest

from bot.rules.ast import Check, FieldRef, ListValue, Pos, StrValue, Transformer, TransformerArg, Value
from bot.rules.catalog import SourceFields, get_catalog
from bot.rules.filtercheck import (
    Diag,
    check_leaf,
    check_output_operand,
    condition_resolver_diags,
    deprecated_output_fields,
    is_deprecated_output_field,
)
from bot.rules.valuetypes import compare_error, parse_error, regex_is_simple

P = Pos(0, 1, 1)
SYSCALL = frozenset({"container", "json"})
K8S = frozenset({"container", "k8saudit", "json"})


def F(name: str, arg: str | None = None, at: int = 0) -> FieldRef:
    return FieldRef(name, arg, Pos(at, 1, at + 1))


def S(value: str, at: int = 0) -> StrValue:
    return StrValue(value, False, Pos(at, 1, at + 1))


def L(*values: str, at: int = 0) -> ListValue:
    return ListValue([S(v) for v in values], Pos(at, 1, at + 1))


def T(name: str, *args: TransformerArg, arg: str | None = None) -> Transformer:
    return Transformer(name, list(args), arg, P)


def C(lhs: FieldRef | Transformer, op: str, rhs: Value | None = None, modifier: str | None = None) -> Check:
    return Check(lhs, op, modifier, rhs, P)


def syscall() -> SourceFields:
    return get_catalog().fields_for("syscall", SYSCALL)


def k8s() -> SourceFields:
    return get_catalog().fields_for("k8s_audit", K8S)


def messages(check: Check, fields: SourceFields | None = None) -> list[tuple[str, str, str]]:
    return [(d.severity, d.code, d.message) for d in check_leaf(check, fields or syscall())]


def error(text: str) -> list[tuple[str, str, str]]:
    return [("error", "LOAD_ERR_COMPILE_CONDITION", text)]


def warning(text: str) -> list[tuple[str, str, str]]:
    return [("warning", "LOAD_COMPILE_CONDITION", text)]


REGEX = "may be optimized with simpler operators such as '=', 'contains', 'startswith', 'endswith'"

PROBES = [
    # e06: a string transformer on a number
    (C(T("tolower", F("evt.rawres")), "=", S("x")),
     error("can't add field transformer: type 'INT64' is not supported by 'tolower' transformer applied on "
           "field 'evt.rawres'")),
    # e09, e10: compiler warnings
    (C(F("proc.name"), "regex", S("abc")), warning(f"regex check with 'abc' {REGEX}")),
    (C(F("proc.name"), "=", S("proc.pname")),
     warning("'proc.pname' may be a valid field misused as a const string value")),
    # e11, e12, e14, e17
    (C(F("evt.arg.nosuchparam"), "=", S("1")), error("unknown event argument nosuchparam")),
    (C(F("proc.name"), "bcontains", S("41")),
     error("filter error: 'bcontains' operator not supported for string filters")),
    (C(F("proc.pid"), "contains", S("1")),
     error("filter error: 'contains' operator not supported for numeric filters")),
    (C(F("evt.type"), "=", S("opne")), error("unknown event type opne")),
    # e21, e24
    (C(T("tolower", F("proc.name"), arg="1"), "=", S("bash")),
     error("filter error: transformer 'tolower' does not support field arguments")),
    (C(F("evt.rawarg", "0"), "=", S("1")), error("evt.arg fields must be expressed explicitly")),
    # e29
    (C(F("fd.sip"), "=", S("10.0.0.1")), []),
    (C(F("fd.snet"), "in", L("10.0.0.0/8")), []),
    (C(F("fd.sip"), "contains", S("10")),
     error("filter error: 'contains' operator not supported for ip address and network filters")),
    # e05, e20, e23, e25, e26 and friends load cleanly
    (C(F("proc.name"), "startswith", L("ba", "zs"), modifier="oneof"), []),
    (C(F("proc.aname", "2"), "=", S("bash")), []),
    (C(T("len", F("proc.args")), ">", S("3")), []),
    (C(T("basename", F("proc.exepath")), "=", S("sh")), []),
    (C(F("proc.name"), "exists"), []),
    (C(F("fd.name"), "pmatch", L("/etc", "/usr")), []),
    (C(F("fd.name"), "glob", S("/etc/*")), []),
    (C(F("evt.type"), "in", L("open", "close")), []),
]  # fmt: skip


@pytest.mark.parametrize(("check", "expected"), PROBES)
def test_probes(check: Check, expected: list[tuple[str, str, str]]) -> None:
    assert messages(check) == expected


def test_e34_na_check_has_an_empty_message() -> None:
    diags = check_leaf(C(F("ka.verb"), "=", StrValue("<NA>", True, P)), k8s())
    assert [(d.severity, d.code, d.message, d.phase) for d in diags] == [
        ("warning", "LOAD_UNSAFE_NA_CHECK", "", "resolve")
    ]


@pytest.mark.parametrize(
    ("check", "found"),
    [
        (C(F("ka.verb"), "in", L("get", "<NA>")), True),
        (C(F("ka.verb"), "!=", S("<NA>")), True),
        (C(F("ka.verb"), "pmatch", L("<NA>")), True),
        (C(F("jevt.value", "/x"), "==", S("<NA>")), True),
        (C(T("tolower", F("ka.verb")), "=", S("<NA>")), True),
        (C(F("ka.verb"), "contains", S("<NA>")), False),
        (C(F("ka.verb"), "=", S("NA")), False),
        (C(F("ka.user.name"), "=", S("<NA>x")), False),
    ],
)
def test_na_check(check: Check, found: bool) -> None:
    codes = [d.code for d in check_leaf(check, k8s())]
    assert ("LOAD_UNSAFE_NA_CHECK" in codes) is found


ARGS = [
    (C(F("proc.aname", "2"), "=", S("bash")), []),
    (C(F("proc.aname", "x"), "=", S("bash")), error("filter_check called with nonexistent field proc.aname[x]")),
    (C(F("proc.env", "HOME"), "=", S("/root")), []),
    (C(F("container.label", "k"), "=", S("v")), []),
    (C(F("container.label"), "=", S("v")),
     error("filter 'container.label': container.label requires an argument but none provided")),
    (C(F("json.value", "/ptr"), "=", S("x")), []),
    (C(F("evt.arg.fd"), "=", S("3")), []),
    (C(F("evt.arg", "0"), "=", S("3")), []),
    (C(F("evt.arg.flags"), "contains", S("O_RDWR")), []),
    (C(F("evt.arg.res_or_fd"), "=", S("0")), []),
    (C(F("evt.rawarg.res"), "<", S("0")), []),
    (C(F("evt.rawarg.res"), "<", S("x")), error("x is not a valid number")),
    (C(F("evt.rawarg.addr"), "=", S("x")), error("filter error: '=' operator not supported for type 'SOCKADDR'")),
    (C(F("evt.rawarg.val"), "=", S("x")), error("filter error: '=' operator not supported for type 'DYNAMIC'")),
]  # fmt: skip


@pytest.mark.parametrize(("check", "expected"), ARGS)
def test_field_arguments(check: Check, expected: list[tuple[str, str, str]]) -> None:
    assert messages(check) == expected


PLUGIN_SOURCES = [
    (C(F("ka.req.pod.volumes.hostpath", "0"), "in", L("/proc")), []),
    (C(F("ka.req.pod.volumes.hostpath", "x"), "in", L("/proc")),
     error("filter ka.req.pod.volumes.hostpath[x] ka.req.pod.volumes.hostpath has an invalid index argument not "
           "composed only by digits: x")),
    (C(F("ka.req.pod.containers.image"), "intersects", L("nginx")), []),
    (C(F("ka.req.pod.containers.image"), "contains", S("nginx")),
     error("filter error: 'contains' operator not supported list filters")),
    (C(F("ka.req.pod.containers.image"), "==", S("nginx")),
     error("filter error: '=' operator not supported list filters")),
    (C(T("len", F("ka.req.pod.containers.image")), ">", S("2")), []),
    (C(T("join", S(","), F("ka.req.pod.containers.image")), "=", S("a,b")), []),
    (C(F("ka.verb", "x"), "=", S("get")),
     error("filter 'ka.verb[x]': ka.verb does not allow nor require an argument but one is provided: x")),
    (C(F("proc.name"), "=", S("x")), error("filter_check called with nonexistent field proc.name")),
    (C(F("evt.num"), ">", S("0")), []),
]  # fmt: skip


@pytest.mark.parametrize(("check", "expected"), PLUGIN_SOURCES)
def test_plugin_source_fields(check: Check, expected: list[tuple[str, str, str]]) -> None:
    assert messages(check, k8s()) == expected


def test_ct_field_is_unknown_for_syscall() -> None:
    diags = check_leaf(C(F("ct.name", at=4), "=", S("x")), syscall())
    assert [(d.message, d.skippable, d.pos) for d in diags] == [
        ("filter_check called with nonexistent field ct.name", True, Pos(4, 1, 5))
    ]


VALUES = [
    (C(F("proc.pid"), "=", S("abc")), error("abc is not a valid number")),
    (C(F("proc.pid"), "in", L("1", "-2", " 3")), []),
    (C(F("proc.pid"), "=", S("0x10")), error("0x10 is not a valid number")),
    (C(F("proc.is_exe_writable"), "=", S("true")), []),
    (C(F("proc.is_exe_writable"), "=", S("yes")), error("filter error: unrecognized boolean value yes")),
    (C(F("proc.is_exe_writable"), ">", S("1")), error("filter error: '>' operator not supported for numeric filters")),
    (C(F("fd.sip"), "=", S("10.0.0.256")), error("unrecognized IPv4 address 10.0.0.256")),
    (C(F("fd.sip"), "=", S("::1")), []),
    (C(F("fd.sip"), "=", S("zz::1")), error("unrecognized IPv6 address zz::1")),
    (C(F("fd.snet"), "in", L("10.0.0.1")), error("unrecognized IP network 10.0.0.1")),
    (C(F("fd.snet"), "in", L("10.0.0.0/33")), error("invalid netmask 33")),
    (C(F("fd.snet"), "in", L("fd00::/8")), []),
    (C(F("fd.snet"), "in", L("fd00::/0")), error("invalid v6 netmask 0")),
    (C(F("fd.snet"), "in", L("fd00::")), error("invalid v6 netmask: fd00::")),
    (C(F("fd.sip"), "=", L("1.1.1.1"), modifier="oneof"),
     error("filter error: '=' with modifier not supported for ip address and network filters")),
    (C(F("fd.sport"), "in", L("80", "443")), []),
    (C(F("evt.buffer"), "bcontains", S("41ff")), []),
    (C(F("evt.buffer"), "bcontains", S("4G")),
     error("filter error: bcontains and bstartswith operator support hex strings only")),
    (C(F("evt.buffer"), "icontains", S("x")),
     error("filter error: 'icontains' operator not supported for buffer filters")),
    (C(F("evt.buffer"), "contains", S("x")), []),
    (C(F("proc.name"), "<", S("m")), []),
    (C(F("thread.cpu"), ">", S("0.5")), []),
    (C(F("syscall.type"), "=", S("opne")), []),  # libsinsp validates evt.type values only
    (C(F("evt.around", "1404996934793590564"), "=", S("1000")), []),
    (C(F("evt.around", "1404996934793590564"), ">", S("1000")),
     error("evt.around supports only '=' comparison operator")),
    (C(F("evt.type"), "=", S("openat2")), []),
    (C(F("evt.type"), "=", S("rseq")), []),
    (C(F("evt.type"), "in", L("open", "bogus", "nope")), error("unknown event type bogus")),
]  # fmt: skip


@pytest.mark.parametrize(("check", "expected"), VALUES)
def test_operators_and_values(check: Check, expected: list[tuple[str, str, str]]) -> None:
    assert messages(check) == expected


TRANSFORMERS = [
    (C(T("toupper", T("basename", F("proc.exepath"))), "=", S("SH")), []),
    (C(T("tolower", F("proc.aname")), "=", S("x")), error("field 'proc.aname' does not support transformers")),
    (C(T("tolower", F("evt.rawarg.name")), "=", S("x")), error("field 'evt.rawarg' does not support transformers")),
    (C(T("b64", F("evt.buffer")), "contains", S("x")), []),
    (C(T("b64", F("fd.name")), "=", S("x")), []),
    (C(T("b64", F("proc.exepath")), "=", S("x")), []),
    (C(T("basename", F("proc.pid")), "=", S("x")),
     error("can't add field transformer: type 'INT64' is not supported by 'basename' transformer applied on "
           "field 'proc.pid'")),
    (C(T("tolower", T("len", F("proc.name"))), "=", S("x")),
     error("can't add field transformer: type 'UINT64' is not supported by 'tolower' transformer applied on "
           "field 'proc.name'")),
    (C(T("len", F("proc.name")), "contains", S("x")),
     error("filter error: 'contains' operator not supported for numeric filters")),
    (C(T("val", F("proc.name"), arg="1"), "=", S("x")),
     error("filter error: transformer 'val' does not support field arguments")),
    (C(T("join", S(","), F("proc.args")), "=", S("x")), error("join() second argument must be a list")),
    (C(T("join", F("proc.name")), "=", S("x")), error("join() requires exactly 2 arguments: separator and list")),
    (C(T("concat", F("proc.name"), F("proc.pid")), "=", S("x")), error("concat() arguments must be strings")),
    (C(T("concat", F("proc.name")), "=", S("x")), error("concat() requires at least 2 arguments")),
    (C(T("concat", F("proc.name"), S("-"), F("proc.exe")), "=", S("x")), []),
    (C(T("concat", F("proc.name"), F("proc.exe"), arg="1"), "=", S("x")),
     error("transformer 'concat' does not support field arguments")),
    (C(T("getopt", F("proc.args"), S("ab")), "=", S("x")), error("getopt() first argument must be a list")),
    (C(T("getopt", ListValue([F("proc.name"), F("proc.exe")], P), S("ab"), arg="ab"), "=", S("x")),
     error("getopt() field argument must be a single option character")),
    (C(T("getopt", ListValue([F("proc.name"), F("proc.exe")], P), S("ab"), arg="a"), "=", S("x")), []),
    (C(T("getopt", ListValue([F("proc.name")], P), S("ab")), "in", L("-a")), []),
    (C(T("tolower", F("proc.nobody")), "=", S("x")), error("filter_check called with nonexistent field proc.nobody")),
]  # fmt: skip


@pytest.mark.parametrize(("check", "expected"), TRANSFORMERS)
def test_transformers(check: Check, expected: list[tuple[str, str, str]]) -> None:
    assert messages(check) == expected


RHS_FIELDS = [
    (C(F("proc.name"), "=", T("val", F("proc.pname"))), []),
    (C(F("proc.name"), "=", T("val", F("proc.pid"))),
     error("field 'proc.name' has type 'CHARBUF' while the right-hand side field 'proc.pid' has incompatible "
           "type 'INT64'")),
    (C(F("proc.name"), "=", T("tolower", F("proc.pname"))), []),
    (C(F("proc.aname"), "=", T("val", F("proc.name"))),
     error("field 'proc.aname' doesn't support right-hand side fields")),
    (C(F("proc.name"), "=", T("val", F("proc.aname"))),
     error("field 'proc.aname' can't be used as a right-hand side field")),
    (C(F("proc.name"), "=", T("val", F("evt.rawarg.name"))),
     error("field 'evt.rawarg' can't be used as a right-hand side field")),
    (C(F("fd.snet"), "=", T("val", F("fd.cnet"))), error("field type 'IPNET' doesn't support right-hand side fields")),
    (C(F("proc.name"), "pmatch", T("val", F("proc.pname"))),
     error("operator 'PMATCH' doesn't support right-hand side fields")),
    (C(F("proc.name"), "=", T("val", F("proc.nobody"))),
     error("filter_check called with nonexistent field proc.nobody")),
    (C(F("evt.type"), "=", T("val", F("proc.name"))),
     [("error", "LOAD_ERR_COMPILE_CONDITION",
       "right-hand field comparisons on `evt.type`/`syscall.type` checks are not supported by event code search")]),
    (C(T("tolower", F("evt.type")), "=", S("open")),
     error("event code search does not support `evt.type` checks with transformers")),
    (C(T("tolower", F("evt.type")), "contains", S("open")), []),
]  # fmt: skip


@pytest.mark.parametrize(("check", "expected"), RHS_FIELDS)
def test_right_hand_fields(check: Check, expected: list[tuple[str, str, str]]) -> None:
    assert messages(check) == expected


def test_evttype_errors_come_from_the_event_code_search() -> None:
    [diag] = check_leaf(C(F("evt.type"), "=", T("val", F("proc.name"))), syscall())
    assert diag.phase == "evttype"


WARNINGS = [
    (C(F("proc.name"), "regex", S("^abc$")), warning(f"regex check with '^abc$' {REGEX}")),
    (C(F("proc.name"), "regex", S(".*abc.*")), warning(f"regex check with '.*abc.*' {REGEX}")),
    (C(F("proc.name"), "regex", S("a.*b")), []),
    (C(F("proc.name"), "regex", S("ab|c")), []),
    (C(F("proc.name"), "=", S("proc.pname ")),
     warning("'proc.pname ' may be a valid field misused as a const string value")),
    (C(F("proc.name"), "in", L("bash", "evt.arg.fd")),
     warning("'evt.arg.fd' may be a valid field misused as a const string value")),
    (C(F("proc.name"), "=", S("proc.nobody")), []),
    (C(F("proc.name"), "=", S("tolower(proc.name)")),
     warning("'tolower(proc.name)' may be a valid field transformer misused as a const string value")),
    (C(F("proc.name"), "=", S("val( proc.name )")),
     warning("'val( proc.name )' may be a valid field transformer misused as a const string value")),
    (C(F("proc.name"), "=", S("lower(x)")), []),
    # warnings of earlier values come before the error of a later one
    (C(F("proc.pid"), "in", L("1", "proc.ppid")),
     warning("'proc.ppid' may be a valid field misused as a const string value")
     + error("proc.ppid is not a valid number")),
]  # fmt: skip


@pytest.mark.parametrize(("check", "expected"), WARNINGS)
def test_compiler_warnings(check: Check, expected: list[tuple[str, str, str]]) -> None:
    assert messages(check) == expected


EVT_DIR = (
    "due to the drop of enter events, 'evt.dir = <' always evaluates to true, and 'evt.dir = >' always evaluates "
    "to false. The rule expression can be simplified by removing the condition on 'evt.dir'"
)


@pytest.mark.parametrize(
    ("check", "fields"),
    [
        (C(F("evt.dir", at=5), "=", S("<")), ["evt.dir"]),
        (C(F("evt.latency"), ">", S("0")), ["evt.latency"]),
        (C(F("evt.latency.human"), "exists"), ["evt.latency.human"]),
        (C(F("evt.wait_latency"), ">", S("0")), ["evt.wait_latency"]),
        (C(T("tolower", F("evt.dir")), "=", S("<")), ["evt.dir"]),
        (C(F("evt.latency.quantized"), ">", S("0")), []),
        (C(F("proc.name"), "=", T("val", F("evt.dir"))), []),  # Falco does not look at the right-hand side
    ],
)
def test_deprecated_fields(check: Check, fields: list[str]) -> None:
    diags = [d for d in check_leaf(check, syscall()) if d.code == "LOAD_DEPRECATED_ITEM"]
    assert [d.deprecated_field for d in diags] == fields
    assert all(d.severity == "warning" and d.phase == "resolve" for d in diags)
    if fields == ["evt.dir"] and isinstance(check.lhs, FieldRef):
        assert diags[0].message == EVT_DIR and diags[0].pos == Pos(5, 1, 6)
    if fields and fields[0].startswith("evt.latency"):
        assert diags[0].message == "field is not available due to the drop of enter events."


def test_resolver_warnings_come_first_and_survive_compile_errors() -> None:
    diags = check_leaf(C(F("evt.dir"), "bcontains", S("3c")), syscall())
    assert [(d.code, d.phase) for d in diags] == [
        ("LOAD_DEPRECATED_ITEM", "resolve"),
        ("LOAD_ERR_COMPILE_CONDITION", "compile"),
    ]


def test_condition_resolver_diags_keep_one_per_field_in_falco_order() -> None:
    leaves = [
        C(F("evt.latency"), ">", S("0")),
        C(F("evt.dir"), "=", S("<")),
        C(F("ka.verb"), "=", S("<NA>")),
        C(F("evt.dir"), "=", S(">")),
        C(F("ka.uri"), "=", S("<NA>")),
    ]
    diags: list[Diag] = []
    for leaf in leaves:
        diags += check_leaf(leaf, syscall())  # Falco resolves these before compiling, whatever the source
    out = condition_resolver_diags(diags)
    assert [(d.code, d.deprecated_field) for d in out] == [
        ("LOAD_UNSAFE_NA_CHECK", None),
        ("LOAD_DEPRECATED_ITEM", "evt.dir"),
        ("LOAD_DEPRECATED_ITEM", "evt.latency"),
    ]


@pytest.mark.parametrize(
    ("check", "skippable"),
    [
        (C(F("proc.nobody"), "=", S("x")), True),
        (C(F("evt.type"), "=", S("opne")), True),
        (C(F("proc.pid"), "contains", S("1")), False),
        (C(F("evt.arg.nosuchparam"), "=", S("1")), False),
        (C(F("container.label"), "=", S("v")), False),
    ],
)
def test_skippable_errors(check: Check, skippable: bool) -> None:
    [diag] = check_leaf(check, syscall())
    assert diag.skippable is skippable


def test_error_positions_follow_libsinsp() -> None:
    # an operator error is reported at the field, a value error at the right-hand side
    [op] = check_leaf(Check(F("proc.pid", at=3), "contains", None, S("1", at=20), P), syscall())
    assert op.pos == Pos(3, 1, 4)
    [value] = check_leaf(Check(F("proc.pid", at=3), "in", None, L("1", "x", at=15), P), syscall())
    assert value.pos == Pos(15, 1, 16)


@pytest.mark.parametrize(
    ("operand", "expected"),
    [
        (F("proc.name"), None),
        (F("proc.aname", "3"), None),
        (F("evt.outputtime"), None),
        (F("evt.arg.flags"), None),
        (F("fd.ip"), "fd.ip is filter only and cannot be used as a display field"),
        (F("proc.nobody"), "filter_check called with nonexistent field proc.nobody"),
        (F("proc.namex"), "filter_check called with nonexistent field proc.namex"),
        (T("len", F("proc.name")), None),
        (T("toupper", F("proc.name")), None),
        (T("tolower", F("evt.rawres")),
         "can't add field transformer: type 'INT64' is not supported by 'tolower' transformer applied on field "
         "'evt.rawres'"),
        (T("toupper", F("fd.ip")), "fd.ip is filter only and cannot be used as a display field"),
    ],
)  # fmt: skip
def test_output_operands(operand: FieldRef | Transformer, expected: str | None) -> None:
    assert check_output_operand(operand, syscall()) == expected


def test_deprecated_output_fields() -> None:
    assert is_deprecated_output_field("evt.dir")
    assert not is_deprecated_output_field("evt.latency.quantized")
    assert deprecated_output_fields("%proc.name %evt.latency.s") == ["evt.latency", "evt.latency.s"]
    assert deprecated_output_fields("evt.dir=%evt.type") == ["evt.dir"]


@pytest.mark.parametrize(
    ("op", "kind", "is_list", "expected"),
    [
        ("==", "PT_INT64", False, None),
        ("glob", "PT_UINT64", False, "'glob' operator not supported for numeric filters"),
        ("regex", "PT_CHARBUF", False, None),
        ("iglob", "PT_FSPATH", False, None),
        ("<", "PT_BYTEBUF", False, "'<' operator not supported for buffer filters"),
        ("in", "PT_INT64", True, "list filters are not supported for type 'INT64'"),
        ("exists", "PT_SOCKTUPLE", False, None),
        ("=", "PT_SOCKTUPLE", False, "'=' operator not supported for type 'SOCKTUPLE'"),
    ],
)
def test_compare_error(op: str, kind: str, is_list: bool, expected: str | None) -> None:
    assert compare_error(op, kind, is_list) == expected


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        ("", "PT_UINT64", " is not a valid number"),
        ("+5", "PT_UINT32", None),
        ("1.5", "PT_INT32", "1.5 is not a valid number"),
        ("5 ", "PT_INT32", "5  is not a valid number"),
        ("anything", "PT_CHARBUF", None),
        ("", "PT_PORT", None),
    ],
)
def test_parse_error(value: str, kind: str, expected: str | None) -> None:
    assert parse_error(value, kind) == expected


@pytest.mark.parametrize(
    ("value", "simple"),
    [("abc", True), ("^abc$", True), (".+abc", True), ("abc.?", True), ("a.b", False), ("", True), ("a\\d", False)],
)
def test_regex_is_simple(value: str, simple: bool) -> None:
    assert regex_is_simple(value) is simple


def test_check_leaf_is_cheap() -> None:
    fields = syscall()
    leaves = [
        C(F("proc.name"), "in", L(*[f"bin{i}" for i in range(20)])),
        C(F("evt.type"), "in", L("open", "openat", "openat2")),
        C(F("fd.name"), "startswith", S("/etc")),
        C(T("basename", F("proc.exepath")), "=", S("sh")),
    ] * 250
    check_leaf(leaves[0], fields)
    start = time.perf_counter()
    for leaf in leaves:
        check_leaf(leaf, fields)
    per_leaf = (time.perf_counter() - start) / len(leaves)
    assert per_leaf < 50e-6
