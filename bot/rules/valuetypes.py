"""Field types against operators (libsinsp's filter_compare.cpp) and literal values (value_parser.cpp)."""

from __future__ import annotations

from functools import lru_cache

from bot.rules.fieldclasses import NUMBER_RE

# UID and GID are not in libsinsp 0.25's numeric list as far as we could read; accepted to avoid false errors.
NUMERIC_TYPES = frozenset(
    {
        "PT_INT8", "PT_INT16", "PT_INT32", "PT_INT64", "PT_UINT8", "PT_UINT16", "PT_UINT32", "PT_UINT64",
        "PT_ERRNO", "PT_FD", "PT_PID", "PT_SYSCALLID", "PT_SIGTYPE", "PT_RELTIME", "PT_ABSTIME", "PT_PORT",
        "PT_FLAGS8", "PT_FLAGS16", "PT_FLAGS32", "PT_DOUBLE", "PT_MODE", "PT_ENUMFLAGS8", "PT_ENUMFLAGS16",
        "PT_ENUMFLAGS32", "PT_UID", "PT_GID",
    }
)  # fmt: skip
IP_TYPES = frozenset({"PT_IPV4ADDR", "PT_IPV4NET", "PT_IPV6ADDR", "PT_IPV6NET", "PT_IPADDR", "PT_IPNET"})
STRING_TYPES = frozenset({"PT_CHARBUF", "PT_FSPATH", "PT_FSRELPATH"})
LIST_TYPES = frozenset({"PT_CHARBUF", "PT_UINT64", "PT_RELTIME", "PT_ABSTIME", "PT_BOOL", "PT_IPADDR", "PT_IPNET"})
NUMERIC_OPS = frozenset({"=", "==", "!=", "<", "<=", ">", ">=", "in", "intersects", "exists"})
EQUALITY_OPS = frozenset({"=", "==", "!=", "in", "intersects", "exists"})
STRING_OPS = NUMERIC_OPS | {
    "contains",
    "icontains",
    "startswith",
    "glob",
    "pmatch",
    "endswith",
    "iglob",
    "regex",
}
BUFFER_OPS = EQUALITY_OPS | {"contains", "startswith", "endswith", "bcontains", "bstartswith"}
LIST_OPS = frozenset({"in", "intersects", "exists"})
SIGNED_TYPES = frozenset({"PT_INT8", "PT_INT16", "PT_INT32", "PT_INT64", "PT_FD", "PT_ERRNO", "PT_PID"})
UNSIGNED_TYPES = NUMERIC_TYPES - SIGNED_TYPES - {"PT_PORT", "PT_DOUBLE"}
HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
REGEX_SPECIAL = frozenset(".+*?^$()[]{}|\\")
_TYPE_NAMES = {"PT_DYN": "DYNAMIC"}


def type_name(kind: str) -> str:
    """param_type_to_string: the PT_* name without its prefix."""
    return _TYPE_NAMES.get(kind) or kind.removeprefix("PT_")


def op_name(op: str) -> str:
    """cmpop_to_str: `==` and `=` are both CO_EQ, printed `=`."""
    return "=" if op == "==" else op


@lru_cache(maxsize=512)
def compare_error(op: str, kind: str, is_list: bool) -> str | None:
    """flt_is_comparable: why `op` cannot compare a value of this type (without "filter error: ")."""
    name = op_name(op)
    if is_list:
        if kind not in LIST_TYPES:
            return f"list filters are not supported for type '{type_name(kind)}'"
        return None if op in LIST_OPS else f"'{name}' operator not supported list filters"
    if kind in NUMERIC_TYPES:
        return None if op in NUMERIC_OPS else f"'{name}' operator not supported for numeric filters"
    if kind == "PT_BOOL":
        return None if op in EQUALITY_OPS else f"'{name}' operator not supported for numeric filters"
    if kind in IP_TYPES:
        ip = "ip address and network"
        return None if op in EQUALITY_OPS else f"'{name}' operator not supported for {ip} filters"
    if kind in STRING_TYPES:
        return None if op in STRING_OPS else f"'{name}' operator not supported for string filters"
    if kind == "PT_BYTEBUF":
        return None if op in BUFFER_OPS else f"'{name}' operator not supported for buffer filters"
    return None if op == "exists" else f"'{name}' operator not supported for type '{type_name(kind)}'"


# What compare_error says depends only on its arguments, and few combinations occur.
compare_error_cached = lru_cache(maxsize=None)(compare_error)


def modifier_error(op: str, kind: str) -> str | None:
    """oneof/anyof/allof cannot apply to addresses and networks."""
    if kind in IP_TYPES:
        return f"'{op_name(op)}' with modifier not supported for ip address and network filters"
    return None


def unhex_ok(value: str) -> bool:
    """sinsp_utils::unhex accepts an even number of hex digits."""
    return len(value) % 2 == 0 and all(c in HEX_DIGITS for c in value)


def regex_is_simple(v: str) -> bool:
    """check_warnings_regex_value: no regex syntax beyond anchors and a leading/trailing `.*`, `.+`, `.?`."""
    size = len(v)
    i = 0
    while i < size:
        c = v[i]
        if (i == 0 and c == "^") or (i == size - 1 and c == "$"):
            i += 1
            continue
        if ((i == 0 and size > 1) or i == size - 2) and c == "." and v[i + 1] in "+*?":
            i += 2
            continue
        if c in REGEX_SPECIAL:
            return False
        i += 1
    return True


def parse_error(value: str, kind: str) -> str | None:
    """sinsp_filter_value_parser::string_to_rawval: why `value` is not a value of this type, or None."""
    if kind in STRING_TYPES or kind == "PT_BYTEBUF":
        return None
    if kind in SIGNED_TYPES or kind in UNSIGNED_TYPES:
        return None if NUMBER_RE.fullmatch(value) else f"{value} is not a valid number"
    if kind == "PT_BOOL":
        return None if value in ("true", "false") else f"filter error: unrecognized boolean value {value}"
    if kind == "PT_PORT":
        return _port_error(value)
    if kind == "PT_DOUBLE":
        return None if _is_float(value) else f"{value} is not a valid number"
    if kind == "PT_IPADDR":
        return _ipaddr_error(value)
    if kind == "PT_IPNET":
        return _ipnet_error(value)
    return None


def _is_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _port_error(value: str) -> str | None:
    """A port is digits, empty, or a service name known to getservbyname."""
    if value == "" or all(c in "0123456789" for c in value) or _service_known(value):
        return None
    return f"unrecognized protocol {value}"


# The socket functions come from _socket, the C module that `socket` re-exports them from: importing
# `socket` itself costs milliseconds of enum set-up, and only these few rare checks need it.


@lru_cache(maxsize=256)
def _service_known(name: str) -> bool:
    # Falco asks the host's services database; without one here we cannot tell, so we accept the name.
    from _socket import getservbyname

    try:
        getservbyname(name)
    except OSError:
        return not _services_database()
    return True


@lru_cache(maxsize=1)
def _services_database() -> bool:
    from _socket import getservbyname

    try:
        getservbyname("ssh")
    except OSError:
        return False
    return True


def _inet_ok(version: int, text: str) -> bool:
    """inet_pton of an IPv4 (`version` 4) or an IPv6 address."""
    from _socket import AF_INET, AF_INET6, inet_pton

    try:
        inet_pton(AF_INET if version == 4 else AF_INET6, text)
    except (OSError, ValueError):
        return False
    return True


def _ipaddr_error(value: str) -> str | None:
    """An address with a dot is IPv4 (inet_pton), anything else IPv6."""
    if "." in value:
        return None if _inet_ok(4, value) else f"unrecognized IPv4 address {value}"
    return None if _inet_ok(6, value) else f"unrecognized IPv6 address {value}"


def _ipnet_error(value: str) -> str | None:
    """`addr/len`: IPv4 when it has a dot (length <= 32), else IPv6 (1..128); lengths wrap like uint8."""
    ip, slash, mask = value.partition("/")
    if "." in value:
        if not slash:
            return f"unrecognized IP network {value}"
        if not _inet_ok(4, ip):
            return f"unrecognized IP address {value}"
        if not NUMBER_RE.fullmatch(mask):
            return f"{mask} is not a valid number"
        return None if int(mask) % 256 <= 32 else f"invalid netmask {mask}"
    if not slash:
        return f"invalid v6 netmask: {value}"
    if not _inet_ok(6, ip):
        return f"unrecognized IPv6 address {value}"
    if not NUMBER_RE.fullmatch(mask):
        return f"{mask} is not a valid number"
    bits = int(mask) % 256
    return None if 0 < bits <= 128 else f"invalid v6 netmask {mask}"
