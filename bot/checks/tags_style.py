"""What the `tags` check says of a rule's maturity, workload, compliance tags and the rules repository's style."""

from __future__ import annotations

from bot.checks.tags_attack import Problem
from bot.compliance import judge_compliance

MATURITIES = ("stable", "incubating", "sandbox", "deprecated")
# The rules files of falcosecurity/rules and the one maturity each holds; other files may hold any.
FILE_MATURITY = {
    "falco_rules.yaml": "maturity_stable",
    "falco-incubating_rules.yaml": "maturity_incubating",
    "falco-sandbox_rules.yaml": "maturity_sandbox",
    "falco-deprecated_rules.yaml": "maturity_deprecated",
}
WORKLOADS = ("host", "container")


def _file_of(maturity: str) -> str:
    return next(f for f, m in FILE_MATURITY.items() if m == maturity)


def judge_maturity(tags: tuple[str, ...], path: str, added: bool) -> list[Problem]:
    """Exactly one known maturity tag, first, matching the file; a new rule does not start as stable."""
    out: list[Problem] = []
    expected = FILE_MATURITY.get(path.rsplit("/", 1)[-1])
    file = path.rsplit("/", 1)[-1]
    found = [t for t in tags if t.startswith("maturity_")]
    for tag in found:
        if tag.removeprefix("maturity_") not in MATURITIES:
            known = ", ".join(f"`maturity_{m}`" for m in MATURITIES)
            out.append(Problem("maturity", "TAGS_MATURITY_UNKNOWN", "maturity_unknown",
                               {"tag": tag, "known": known, "suggest": f"`{expected or 'maturity_sandbox'}`"},
                               tag))  # fmt: skip
    if not found:
        suggest = expected or "maturity_sandbox"
        out.append(Problem("maturity", "TAGS_MATURITY_MISSING", "maturity_missing", {"suggest": f"`{suggest}`"}))
        return out
    for tag in found[1:]:
        out.append(Problem("maturity", "TAGS_MATURITY_MULTIPLE", "maturity_multiple",
                           {"tag": tag, "first": found[0]}, tag))  # fmt: skip
    if tags[0] != found[0]:
        out.append(Problem("maturity", "TAGS_MATURITY_NOT_FIRST", "maturity_not_first",
                           {"tag": found[0], "first": tags[0]}, found[0]))  # fmt: skip
    if expected is not None and found[0] != expected and found[0].removeprefix("maturity_") in MATURITIES:
        values = {"tag": found[0], "file": file, "expected": expected, "other_file": _file_of(found[0])}
        out.append(Problem("maturity", "TAGS_MATURITY_WRONG_FILE", "maturity_wrong_file", values, found[0]))
    if added and found[0] == "maturity_stable":
        out.append(Problem("new_stable", "TAGS_MATURITY_NEW_STABLE", "maturity_new_stable", {"tag": found[0]},
                           found[0]))  # fmt: skip
    return out


def judge_structure(tags: tuple[str, ...]) -> list[Problem]:
    """A workload tag (`host` and/or `container`) and no tag written twice."""
    out: list[Problem] = []
    if not any(t in WORKLOADS for t in tags):
        out.append(Problem("workload", "TAGS_WORKLOAD_MISSING", "workload_missing"))
    seen: set[str] = set()
    for tag in tags:
        if tag in seen:
            out.append(Problem("duplicate", "TAGS_DUPLICATE", "duplicate", {"tag": tag}, tag))
        seen.add(tag)
    return out


def judge_compliance_tags(tags: tuple[str, ...]) -> list[Problem]:
    """Compliance tags in a known format, naming a control that exists and is not withdrawn."""
    out: list[Problem] = []
    for tag in dict.fromkeys(tags):
        verdict = judge_compliance(tag)
        if verdict is None:
            continue
        values = {"tag": tag, "framework": verdict.framework, "name": verdict.name or ""}
        if verdict.problem is not None:
            phrase = f"compliance_{verdict.problem}_{verdict.framework.lower().replace('-', '_')}"
            code = f"TAGS_COMPLIANCE_{verdict.problem.upper()}"
            out.append(Problem("compliance", code, phrase, values, tag))
        elif verdict.notice == "pci_version":
            out.append(Problem("pci_version", "TAGS_PCI_VERSION", "pci_version", values, tag))
    return out


def judge_rule_style(name: str, desc: str, priority: str | None) -> list[Problem]:
    """The rules repository's style: a capitalised name without stray spaces, a desc ending with a period,
    the priority in upper case."""
    out: list[Problem] = []
    stripped = name.strip()
    if not stripped:
        out.append(Problem("rule_name", "TAGS_RULE_NAME", "rule_name_empty", {"name": name}))
    elif stripped != name:
        out.append(Problem("rule_name", "TAGS_RULE_NAME", "rule_name_spaces", {"name": name, "suggest": stripped}))
    elif name[0].islower():
        suggest = name[0].upper() + name[1:]
        out.append(Problem("rule_name", "TAGS_RULE_NAME", "rule_name_capital", {"name": name, "suggest": suggest}))
    if not desc.rstrip().endswith("."):
        out.append(Problem("desc", "TAGS_DESC_PERIOD", "desc_period", {"name": name}))
    if priority is not None and priority != priority.upper():
        out.append(Problem("priority", "TAGS_PRIORITY_CASE", "priority_case",
                           {"name": name, "priority": priority, "suggest": priority.upper()}))  # fmt: skip
    return out
