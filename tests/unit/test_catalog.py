"""Field and event catalogs: which fields each source has and how libsinsp turns a field's text into one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.rules import catalog as cat_mod
from bot.rules.catalog import FieldCatalog, get_catalog
from bot.rules.errors import FieldError
from bot.rules.fieldclasses import FieldInfo
from scripts import build_catalogs

SHARED_DATA = build_catalogs.DEFAULT_DATA
needs_shared_data = pytest.mark.skipif(not SHARED_DATA.exists(), reason="the shared reference data is not here")
SYSCALL = frozenset({"container", "json"})
K8S = frozenset({"container", "k8saudit", "json"})


def syscall_fields() -> cat_mod.SourceFields:
    return get_catalog().fields_for("syscall", SYSCALL)


def test_the_bytecode_catalog_is_the_json_catalog() -> None:
    """bot/rules/catalog_data.py (what the engine loads) holds exactly config/falco/*.json."""
    from bot.rules import catalog_data

    for name in ("fields", "events", "event_params"):
        on_disk = json.loads(Path(cat_mod.CONFIG_DIR, f"{name}.json").read_text())
        assert getattr(catalog_data, name.upper()) == on_disk
    from_json = FieldCatalog(cat_mod.CONFIG_DIR)
    assert from_json.libs_commit == get_catalog().libs_commit
    assert from_json.fields_for("syscall", SYSCALL).resolve("proc.name").type == "PT_CHARBUF"


@needs_shared_data
def test_the_generated_files_are_what_the_script_builds(tmp_path: Path) -> None:
    (tmp_path / "event_params.json").write_text(Path(cat_mod.CONFIG_DIR, "event_params.json").read_text())
    module = tmp_path / "catalog_data.py"
    assert build_catalogs.main(["--out", str(tmp_path), "--module", str(module)]) == 0
    for name in ("fields.json", "events.json"):
        assert (tmp_path / name).read_text() == Path(cat_mod.CONFIG_DIR, name).read_text()
    assert module.read_text() == Path(cat_mod.__file__).with_name("catalog_data.py").read_text()


def test_event_table_parser_keeps_the_first_type_of_each_parameter() -> None:
    text = (
        "const struct ppm_event_info g_event_info[] = {\n"
        '\t[PPME_A_E] = {"open", EC_FILE | EC_SYSCALL, EF_NONE, 2, {{"name", PT_FSPATH, PF_NA}, '
        '{"flags", PT_FLAGS32, PF_HEX, file_flags} } },\n'
        '\t[PPME_B_E] = {"accept", EC_NET | EC_SYSCALL, EF_NONE, 1, {{"flags", PT_INT32, PF_HEX} } },\n'
        "};\n"
    )
    assert build_catalogs.parse_event_table(text) == [["name", "PT_FSPATH"], ["flags", "PT_FLAGS32"]]


@needs_shared_data
def test_every_libsinsp_field_of_the_shared_data_is_known() -> None:
    data = json.loads((SHARED_DATA / "libsinsp_fields.json").read_text())
    classes = get_catalog().libsinsp
    known = {name for cls in classes for name in cls.fields}
    assert known == {f["name"] for f in data["fields"]}
    assert len(classes[0].fields) == 18  # the generic evt.* fields every source has


@pytest.mark.parametrize(
    ("plugins", "expected"),
    [
        (frozenset(), {"syscall"}),
        (frozenset({"container", "json"}), {"syscall"}),
        (frozenset({"k8saudit"}), {"syscall", "k8s_audit"}),
        (frozenset({"k8saudit-eks"}), {"syscall", "k8s_audit"}),
        (frozenset({"cloudtrail", "okta", "github", "gcpaudit"}), {"syscall", "aws_cloudtrail", "okta", "github",
                                                                   "gcp_auditlog"}),
        (frozenset({"nosuchplugin"}), {"syscall"}),
    ],
)  # fmt: skip
def test_sources(plugins: frozenset[str], expected: set[str]) -> None:
    assert get_catalog().sources(plugins) == expected


def test_plugin_aliases_share_the_k8saudit_table() -> None:
    catalog = get_catalog()
    assert catalog.has_plugin("k8saudit-gke") and catalog.has_plugin("k8saudit-ovh")
    assert not catalog.has_plugin("nosuchplugin")
    fields = catalog.fields_for("k8s_audit", frozenset({"k8saudit-aks"}))
    assert fields.resolve("ka.verb").plugin == "k8saudit"


@pytest.mark.parametrize(
    ("source", "plugins", "name", "arg", "error"),
    [
        ("syscall", SYSCALL, "proc.name", None, None),
        ("syscall", SYSCALL, "container.id", None, None),
        ("syscall", frozenset(), "container.id", None, "filter_check called with nonexistent field container.id"),
        ("syscall", SYSCALL, "ct.name", None, "filter_check called with nonexistent field ct.name"),
        ("syscall", SYSCALL, "ka.verb", None, "filter_check called with nonexistent field ka.verb"),
        ("k8s_audit", K8S, "ka.verb", None, None),
        ("k8s_audit", frozenset({"container", "json"}), "ka.verb", None,
         "filter_check called with nonexistent field ka.verb"),
        ("k8s_audit", K8S, "evt.num", None, None),
        ("k8s_audit", K8S, "evt.hostname", None, None),
        ("k8s_audit", K8S, "evt.type", None, "filter_check called with nonexistent field evt.type"),
        ("k8s_audit", K8S, "proc.name", None, "filter_check called with nonexistent field proc.name"),
        ("k8s_audit", K8S, "container.id", None, "filter_check called with nonexistent field container.id"),
        ("k8s_audit", K8S, "json.value", "/kind", None),
        ("aws_cloudtrail", frozenset({"cloudtrail"}), "ct.name", None, None),
        ("aws_cloudtrail", frozenset({"cloudtrail"}), "json.obj", None,
         "filter_check called with nonexistent field json.obj"),
        ("syscall", frozenset({"k8smeta", "krsi", "anomalydetection"}), "k8smeta.pod.name", None, None),
        ("syscall", frozenset({"k8smeta", "krsi", "anomalydetection"}), "krsi.name", None, None),
        ("syscall", frozenset({"k8smeta", "krsi", "anomalydetection"}), "anomaly.count_min_sketch", "0", None),
    ],
)  # fmt: skip
def test_which_fields_a_source_has(
    source: str, plugins: frozenset[str], name: str, arg: str | None, error: str | None
) -> None:
    fields = get_catalog().fields_for(source, plugins)
    hit = fields.lookup(name, arg)
    assert (hit if isinstance(hit, str) else None) == error


@pytest.mark.parametrize(
    ("name", "arg", "expected"),
    [
        # longest prefix within a class, and the whole text must be consumed
        ("proc.namex", None, "filter_check called with nonexistent field proc.namex"),
        ("proc.nobody", None, "filter_check called with nonexistent field proc.nobody"),
        ("evt.timex", None, "filter_check called with nonexistent field evt.timex"),
        ("proc.name", "1", "filter_check called with nonexistent field proc.name[1]"),
        # ancestors: an index, or nothing; anything else consumes nothing
        ("proc.aname", "2", "proc.aname"),
        ("proc.aname", None, "proc.aname"),
        ("proc.aname", "x", "filter_check called with nonexistent field proc.aname[x]"),
        ("proc.apid", "-1", "proc.apid"),
        ("proc.aexe", "1", "proc.aexe"),
        ("proc.aexepath", "3", "proc.aexepath"),
        ("proc.anamex", None, "filter_check called with nonexistent field proc.anamex"),
        ("proc.env", "HOME", "proc.env"),
        ("proc.aenv", "2", "proc.aenv"),
        ("proc.args", "1", "proc.args"),
        ("fd.types", "file", "fd.types"),
        ("thread.cgroup.cpuacct", None, "thread.cgroup"),
        ("thread.cgroup", "memory", "thread.cgroup"),
        ("thread.cgroup", None, "filter syntax error: thread.cgroup"),
        ("thread.cgroups", None, "thread.cgroups"),
        # the event class's custom fields
        ("evt.arg.fd", None, "evt.arg"),
        ("evt.arg", "0", "evt.arg"),
        ("evt.arg", "x", "x is not a valid number"),
        ("evt.arg.res_or_fd", None, "evt.arg"),
        ("evt.arg.nosuchparam", None, "unknown event argument nosuchparam"),
        ("evt.arg.fdx", None, "filter_check called with nonexistent field evt.arg.fdx"),
        ("evt.arg", None, "filter syntax error: evt.arg"),
        ("evt.args", None, "evt.args"),
        ("evt.rawarg.res", None, "evt.rawarg"),
        ("evt.rawarg", "0", "evt.arg fields must be expressed explicitly"),
        ("evt.rawarg.nosuchparam", None, "unknown event argument nosuchparam"),
        ("evt.around", "1404996934793590564", "evt.around"),
        ("evt.around", None, "filter syntax error: evt.around"),
        ("evt.around.x", None, "wrong syntax for evt.around"),
        ("evt.abspath", None, "evt.abspath"),
        ("evt.abspath.dst", None, "evt.abspath"),
        ("evt.abspath.dstx", None, "filter_check called with nonexistent field evt.abspath.dstx"),
        ("evt.type.is.open", None, "evt.type.is"),
        ("evt.type.is.5", None, "evt.type.is"),
        ("evt.type.is.opne", None, "filter_check called with nonexistent field evt.type.is.opne"),
        ("evt.type.is", None, "filter syntax error: evt.type.is"),
        # plugin arguments
        ("container.label", "app", "container.label"),
        ("container.label", None, "filter 'container.label': container.label requires an argument but none provided"),
        ("container.mount.dest", "/var/run/docker.sock", "container.mount.dest"),
        ("container.id", "x",
         "filter 'container.id[x]': container.id does not allow nor require an argument but one is provided: x"),
        ("json.value", "/ptr", "json.value"),
        ("json.value", None, "filter 'json.value': json.value requires an argument but none provided"),
    ],
)  # fmt: skip
def test_resolve(name: str, arg: str | None, expected: str) -> None:
    fields = syscall_fields()
    if "." in expected and " " not in expected:
        assert fields.resolve(name, arg).name == expected
    else:
        with pytest.raises(FieldError) as err:
            fields.resolve(name, arg)
        assert err.value.message == expected


@pytest.mark.parametrize(
    ("arg", "error"),
    [
        ("0", None),
        ("12", None),
        ("x", "has an invalid index argument not composed only by digits: x"),
        ("01", "has an invalid index argument starting with 0: 01"),
        ("0a", "has an invalid index argument not composed only by digits: 0a"),
        ("99999999999999999999", "has an invalid index argument not representable on 64 bit: 99999999999999999999"),
    ],
)  # fmt: skip
def test_plugin_index_arguments(arg: str, error: str | None) -> None:
    fields = get_catalog().fields_for("k8s_audit", K8S)
    hit = fields.lookup("ka.req.pod.volumes.hostpath", arg)
    if error is None:
        assert isinstance(hit, FieldInfo) and hit.is_list
    else:
        text = f"ka.req.pod.volumes.hostpath[{arg}]"
        assert hit == f"filter {text} ka.req.pod.volumes.hostpath {error}"


def test_field_info_of_plugin_and_libsinsp_fields() -> None:
    k8s = get_catalog().fields_for("k8s_audit", K8S)
    image = k8s.resolve("ka.req.pod.containers.image")
    assert (image.type, image.is_list, image.arg, image.arg_index, image.plugin) == (
        "PT_CHARBUF", True, "allowed", True, "k8saudit"
    )  # fmt: skip
    label = syscall_fields().resolve("container.label", "k")
    assert (label.arg, label.arg_key, label.plugin) == ("required", True, "container")
    rawres = syscall_fields().resolve("evt.rawres")
    assert (rawres.type, rawres.plugin, rawres.deprecated) == ("PT_INT64", None, None)
    around = syscall_fields().resolve("evt.around", "1")
    assert around.filter_only and around.no_rhs and around.no_transformer
    assert syscall_fields().resolve("evt.outputtime").print_only


def test_evt_rawarg_takes_the_parameter_type() -> None:
    fields = syscall_fields()
    assert fields.resolve("evt.rawarg.res").type == "PT_ERRNO"
    assert fields.resolve("evt.rawarg.name").type == "PT_FSPATH"
    assert fields.resolve("evt.rawarg.flags").type == "PT_FLAGS32"
    assert fields.resolve("evt.rawarg.addr").type == "PT_SOCKADDR"


def test_deprecated_fields_carry_their_descriptions() -> None:
    catalog = get_catalog()
    assert syscall_fields().resolve("evt.dir").deprecated == (
        "event direction can be either '>' for enter events or '<' for exit events."
    )
    assert list(catalog.falco_deprecated) == [
        "evt.dir", "evt.latency", "evt.latency.s", "evt.latency.ns", "evt.latency.human", "evt.wait_latency"
    ]  # fmt: skip
    assert catalog.falco_deprecated_message("evt.latency.ns") == (
        "field is not available due to the drop of enter events."
    )
    assert catalog.falco_deprecated_message("evt.latency.quantized") is None


def test_output_lookup_refuses_filter_only_fields() -> None:
    fields = syscall_fields()
    assert fields.lookup_output("fd.ip") == "fd.ip is filter only and cannot be used as a display field"
    assert isinstance(fields.lookup("fd.ip"), FieldInfo)
    assert isinstance(fields.lookup_output("evt.outputtime"), FieldInfo)


def test_is_field_text() -> None:
    fields = syscall_fields()
    assert fields.is_field_text("proc.pname")
    assert fields.is_field_text("evt.arg.fd")
    assert not fields.is_field_text("/usr/bin/proc.name")
    assert not fields.is_field_text("proc.nobody")
    assert not fields.is_field_text("evt.arg.nosuchparam")  # libsinsp's error is swallowed: no warning


def _bits(value: int) -> int:
    return value.bit_count()


@pytest.mark.parametrize(
    ("name", "valid", "count"),
    [
        ("open", True, 2),
        ("execve", True, 16),
        ("openat2", True, 2),  # it has its own event in the table, so not the generic codes
        ("rseq", True, 2),  # only a ppm_sc name: the generic syscall event codes
        ("syscall", True, 0),  # the generic events' own name: valid, but names match from code 2 on
        ("opne", False, 0),
        ("", False, 0),
    ],
)
def test_event_types(name: str, valid: bool, count: int) -> None:
    assert cat_mod.is_event_type(name) is valid
    assert _bits(cat_mod.event_codes(name)) == count


def test_event_codes() -> None:
    catalog = get_catalog()
    generic = catalog.event_codes("rseq")
    assert generic == 0b11  # PPME_GENERIC_E and PPME_GENERIC_X are codes 0 and 1
    assert catalog.event_codes("open") & generic == 0
    assert catalog.event_codes("openat2") & catalog.event_codes("open") == 0
    assert cat_mod.EVENT_CODE_COUNT == 454
    assert cat_mod.ALL_EVENT_CODES == (1 << 454) - 1
    all_codes, codes_of = catalog.event_codes_api()
    assert all_codes == cat_mod.ALL_EVENT_CODES and codes_of("open") == catalog.event_codes("open")
    with pytest.raises(AttributeError):
        _ = cat_mod.NO_SUCH_CONSTANT
