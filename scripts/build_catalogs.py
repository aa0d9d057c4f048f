"""Turns the shared Falco field and event data into the compact JSON catalogs under config/falco/."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "falco"
OUT_DIR = ROOT / "config" / "falco"
MODULE = ROOT / "bot" / "rules" / "catalog_data.py"

# Bit order of the EPF_* flags in the generated files: the engine's own list, which it checks on load.
sys.path.insert(0, str(ROOT))
from bot.rules.fieldclasses import FLAG_NAMES as FLAG_BITS  # noqa: E402

PLUGIN_TYPES = {
    "string": "PT_CHARBUF",
    "uint64": "PT_UINT64",
    "bool": "PT_BOOL",
    "reltime": "PT_RELTIME",
    "abstime": "PT_ABSTIME",
    "ipaddr": "PT_IPADDR",
    "ipnet": "PT_IPNET",
}

# The README tables do not say which sources these extract from; their code extracts from syscall.
SYSCALL_EXTRACTORS = ("container", "k8smeta", "krsi", "anomalydetection")

# Plugins whose README table is a copy of another plugin's table: stored once, named by alias.
ALIAS_OF = {
    "k8saudit-eks": "k8saudit",
    "k8saudit-gke": "k8saudit",
    "k8saudit-aks": "k8saudit",
    "k8saudit-ovh": "k8saudit",
}

# Falco's own texts for fields it reports as deprecated (userspace/engine/falco_load_result.cpp).
_LATENCY = "field is not available due to the drop of enter events."
FALCO_DEPRECATED_FIELDS = (
    (
        "evt.dir",
        "due to the drop of enter events, 'evt.dir = <' always evaluates to true, and 'evt.dir = >' "
        "always evaluates to false. The rule expression can be simplified by removing the condition on "
        "'evt.dir'",
    ),
    ("evt.latency", _LATENCY),
    ("evt.latency.s", _LATENCY),
    ("evt.latency.ns", _LATENCY),
    ("evt.latency.human", _LATENCY),
    ("evt.wait_latency", _LATENCY),
)

# One parameter of g_event_info[] in driver/event_table.c: {"name", PT_TYPE, ...}.
_PARAM_RE = re.compile(r'\{\s*"([A-Za-z0-9_]+)"\s*,\s*(PT_[A-Z0-9_]+)')


def flag_bits(names: list[str]) -> int:
    """The EPF_* flag names as one integer, in FLAG_BITS order."""
    bits = 0
    for name in names:
        bits |= 1 << FLAG_BITS.index(name)
    return bits


def plugin_arg_flags(arg: str) -> int:
    """The README `arg` column ("Index, Key, Required") as EPF_ARG_* bits."""
    parts = {p.strip() for p in arg.split(",")}
    if parts == {"None"}:
        return 0
    names = ["EPF_ARG_REQUIRED" if "Required" in parts else "EPF_ARG_ALLOWED"]
    if "Index" in parts:
        names.append("EPF_ARG_INDEX")
    if "Key" in parts:
        names.append("EPF_ARG_KEY")
    return flag_bits(names)


def build_libsinsp(data: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The libsinsp field classes in registration order, and the descriptions of deprecated fields."""
    classes: list[dict[str, Any]] = []
    deprecated: dict[str, str] = {}
    order: dict[int, dict[str, Any]] = {}
    for fld in data["fields"]:
        cls = order.get(fld["registration_order"])
        if cls is None:
            cls = order[fld["registration_order"]] = {"name": fld["class"], "fields": []}
        cls["fields"].append([fld["name"], fld["type"], flag_bits(fld["flags"])])
        if "EPF_DEPRECATED" in fld["flags"]:
            deprecated[fld["name"]] = fld["desc"]
    for key in sorted(order):
        classes.append(order[key])
    return classes, deprecated


def build_plugins(data: dict[str, Any]) -> dict[str, Any]:
    """Each plugin's event source, extraction sources and fields (aliases left out)."""
    out: dict[str, Any] = {}
    for name, plugin in data["plugins"].items():
        if name in ALIAS_OF:
            continue
        registry = plugin.get("registry") or {}
        extract = registry.get("extract_sources")
        if name in SYSCALL_EXTRACTORS:
            extract = ["syscall"]
        fields = []
        for fld in plugin["fields"]:
            kind = fld["type"]
            is_list = kind.endswith("(list)")
            base = kind.replace("(list)", "").strip()
            flags = plugin_arg_flags(fld.get("arg") or "None")
            if is_list:
                flags |= flag_bits(["EPF_IS_LIST"])
            fields.append([fld["name"], PLUGIN_TYPES[base], flags])
        out[name] = {
            "event_source": registry.get("event_source"),
            "extract_sources": extract,
            "fields": fields,
        }
    return out


def build_events(data: dict[str, Any]) -> dict[str, Any]:
    """Event codes (bit index = position), the codes of each event-table name, and the ppm_sc names."""
    codes: list[str] = []
    names: dict[str, list[int]] = {}
    for name, info in data["event_table_names"].items():
        for code in info["codes"]:
            names.setdefault(name, []).append(len(codes))
            codes.append(code)
    generic = [codes.index("PPME_GENERIC_E"), codes.index("PPME_GENERIC_X")]
    return {"codes": codes, "event_names": names, "ppm_sc_names": data["ppm_sc_names"], "generic": generic}


def parse_event_table(text: str) -> list[list[str]]:
    """Each parameter name of g_event_info[] with the type of its first occurrence, in table order."""
    start = text.index("g_event_info[")
    seen: dict[str, str] = {}
    for match in _PARAM_RE.finditer(text, start):
        seen.setdefault(match.group(1), match.group(2))
    return [[name, kind] for name, kind in seen.items()]


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Compact JSON with a trailing newline; keys keep their order, which carries meaning (class order)."""
    path.write_text(json.dumps(payload, separators=(",", ":"), ensure_ascii=False) + "\n", encoding="utf-8")


MODULE_DOC = (
    '"""Falco\'s field and event catalogs as Python literals, generated by scripts/build_catalogs.py from\n'
    "config/falco/*.json (see config/falco/PROVENANCE.md): loaded from bytecode, with no JSON parser at\n"
    'start-up. Do not edit; regenerate."""\n'
)


def write_module(json_dir: Path, module: Path) -> None:
    """bot/rules/catalog_data.py: the three JSON catalogs as literals (what the engine loads)."""
    parts = [
        MODULE_DOC,
        "\nfrom __future__ import annotations\n\n",
        "TYPE_CHECKING = False\nif TYPE_CHECKING:\n    from typing import Any\n\n",
    ]
    for name in ("fields", "events", "event_params"):
        data = json.loads((json_dir / f"{name}.json").read_text(encoding="utf-8"))
        parts.append(f"{name.upper()}: dict[str, Any] = {data!r}\n")
    module.write_text("".join(parts), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Regenerate fields.json and events.json (and event_params.json when --event-table is given)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="directory of the shared falco data")
    parser.add_argument("--event-table", type=Path, help="a copy of falcosecurity/libs driver/event_table.c")
    parser.add_argument("--event-table-commit", default="", help="the libs commit of that event_table.c")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    parser.add_argument("--module", type=Path, default=MODULE, help="where to write the catalogs as Python")
    args = parser.parse_args(argv)

    libsinsp = json.loads((args.data / "libsinsp_fields.json").read_text(encoding="utf-8"))
    plugins = json.loads((args.data / "plugin_fields.json").read_text(encoding="utf-8"))
    events = json.loads((args.data / "evttypes.json").read_text(encoding="utf-8"))
    classes, deprecated = build_libsinsp(libsinsp)
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(
        args.out / "fields.json",
        {
            "libs_commit": libsinsp["libs_commit"],
            "plugins_commit": plugins["plugins_commit"],
            "flag_bits": list(FLAG_BITS),
            "libsinsp_classes": classes,
            "libsinsp_deprecated_desc": deprecated,
            "plugins": build_plugins(plugins),
            "plugin_aliases": ALIAS_OF,
            "falco_deprecated_fields": [list(item) for item in FALCO_DEPRECATED_FIELDS],
        },
    )
    write_json(args.out / "events.json", {"libs_commit": events["libs_commit"], **build_events(events)})
    if args.event_table is not None:
        params = parse_event_table(args.event_table.read_text(encoding="utf-8"))
        write_json(
            args.out / "event_params.json",
            {"repo": "falcosecurity/libs", "path": "driver/event_table.c", "commit": args.event_table_commit,
             "params": params},
        )  # fmt: skip
    write_module(args.out, args.module)
    return 0


if __name__ == "__main__":
    sys.exit(main())
