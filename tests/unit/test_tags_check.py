"""The tags check, table-driven on hand-written rules (a base and a head file per case) through the real check."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bot.checks.registry import CHECKS
from bot.checks.tags import check_tags
from bot.models import CHECK_IDS, ChangedFile, CheckResult, PullRequestSnapshot
from bot.policy import CHOICES, defaults, resolve_policy

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM = sorted((ROOT / "config" / "upstream").glob("*.yaml"))
CORPUS = ROOT / "tests" / "data" / "corpus" / "valid"
DEPRECATED = CORPUS / "rules-falco-deprecated-rules-3.0.0-falco-deprecated_rules.yaml"
SANDBOX = "rules/falco-sandbox_rules.yaml"
STABLE = "rules/falco_rules.yaml"
TAGS = "[maturity_sandbox, container, process, mitre_execution, T1059.004]"


def rule(tags: str = TAGS, name: str = "Shell in container", desc: str = "A shell runs in a container.",
         priority: str = "WARNING", key: str = "tags") -> str:  # fmt: skip
    return (f"- rule: {name}\n  desc: {desc}\n  condition: evt.type = execve and proc.name = bash\n"
            f"  output: shell %proc.name\n  priority: {priority}\n  {key}: {tags}\n")  # fmt: skip


def snapshot(*files: ChangedFile) -> PullRequestSnapshot:
    return PullRequestSnapshot(
        repo="falcosecurity/rules", number=1, title="t", body="", author=None, base_ref="main",
        default_branch="main", base_sha="b" * 40, head_sha="h" * 40, files=files,
    )  # fmt: skip


def run(head: str, base: str | None = None, path: str = SANDBOX, policy: str = "") -> CheckResult:
    resolved, problems = resolve_policy(policy)
    assert problems == []
    status = "added" if base is None else "modified"
    files = snapshot(ChangedFile(path, status, base, head))
    return check_tags(files, resolved.check("tags"), resolved.get("rules_files"), resolved.get("attack"))


def codes(result: CheckResult) -> list[tuple[str, str]]:
    return [(f.code, f.severity) for f in result.findings]


V18 = 'attack:\n  version: "18.1"\n'
STRICT = "attack:\n  accept_previous: false\n"
E, W, N = "error", "warning", "notice"


@pytest.mark.parametrize(
    ("head", "path", "policy", "expected"),
    [
        # maturity
        (rule(), SANDBOX, "", []),
        (rule("[container, mitre_execution, T1059.004]"), SANDBOX, "", [("TAGS_MATURITY_MISSING", E)]),
        (rule("[container, maturity_sandbox, mitre_execution, T1059.004]"), SANDBOX, "",
         [("TAGS_MATURITY_NOT_FIRST", E)]),
        (rule("[maturity_sandbox, maturity_incubating, container, mitre_execution, T1059.004]"), SANDBOX, "",
         [("TAGS_MATURITY_MULTIPLE", E)]),
        (rule("[maturity_incubating, container, mitre_execution, T1059.004]"), SANDBOX, "",
         [("TAGS_MATURITY_WRONG_FILE", E)]),
        (rule("[maturity_beta, container, mitre_execution, T1059.004]"), "rules/my_rules.yaml", "",
         [("TAGS_MATURITY_UNKNOWN", E)]),
        (rule("[maturity_incubating, container, mitre_execution, T1059.004]"), "rules/my_rules.yaml", "", []),
        (rule("[maturity_stable, container, mitre_execution, T1059.004]"), STABLE, "",
         [("TAGS_MATURITY_NEW_STABLE", W)]),
        (rule("[maturity_deprecated, container, mitre_execution, T1059.004]"), "archive/falco-deprecated_rules.yaml",
         "", []),
        # workload and duplicates
        (rule("[maturity_sandbox, process, mitre_execution, T1059.004]"), SANDBOX, "", [("TAGS_WORKLOAD_MISSING", E)]),
        (rule("[maturity_sandbox, host, container, host, mitre_execution, T1059.004]"), SANDBOX, "",
         [("TAGS_DUPLICATE", W)]),
        # tactic tags
        (rule("[maturity_sandbox, container, T1059.004]"), SANDBOX, "", [("TAGS_TACTIC_MISSING", E)]),
        (rule("[maturity_sandbox, container, mitre_defense_evation, T1070]"), SANDBOX, V18,
         [("TAGS_TACTIC_UNKNOWN", E)]),
        (rule("[maturity_sandbox, container, mitre_remote_service, T1021]"), SANDBOX, "", [("TAGS_TACTIC_UNKNOWN", E)]),
        (rule("[maturity_sandbox, container, mitre_defense_evasion, T1070]"), SANDBOX, V18, []),
        (rule("[maturity_sandbox, container, mitre_defense_evasion, T1070]"), SANDBOX, "",
         [("TAGS_TACTIC_PREVIOUS_VERSION", W)]),
        (rule("[maturity_sandbox, container, mitre_defense_evasion, T1070]"), SANDBOX, STRICT,
         [("TAGS_TACTIC_PREVIOUS_VERSION", E)]),
        (rule("[maturity_sandbox, container, mitre_stealth, T1070]"), SANDBOX, "", []),
        (rule("[maturity_sandbox, container, mitre_stealth, T1070]"), SANDBOX, V18, [("TAGS_TACTIC_UNKNOWN", E)]),
        # technique and tactic IDs
        (rule("[maturity_sandbox, container, mitre_execution, T1999]"), SANDBOX, "", [("TAGS_TECHNIQUE_UNKNOWN", E)]),
        (rule("[maturity_sandbox, container, mitre_privilege_escalation, TA0111]"), SANDBOX, "",
         [("TAGS_TACTIC_ID_UNKNOWN", E)]),
        (rule("[maturity_sandbox, container, mitre_execution, T105]"), SANDBOX, "", [("TAGS_ID_MALFORMED", E)]),
        (rule("[maturity_sandbox, container, mitre_stealth, T1009]"), SANDBOX, "", [("TAGS_TECHNIQUE_REVOKED", E)]),
        (rule("[maturity_sandbox, container, mitre_command_and_control, T1043]"), SANDBOX, V18,
         [("TAGS_TECHNIQUE_DEPRECATED", E)]),
        (rule("[maturity_sandbox, host, mitre_defense_evasion, T1562.012]"), SANDBOX, V18, []),
        (rule("[maturity_sandbox, host, mitre_defense_impairment, T1562.012]"), SANDBOX, "",
         [("TAGS_TECHNIQUE_PREVIOUS_VERSION", W)]),
        (rule("[maturity_sandbox, host, mitre_defense_impairment, T1562.012]"), SANDBOX, STRICT,
         [("TAGS_TECHNIQUE_PREVIOUS_VERSION", E)]),
        (rule("[maturity_sandbox, host, mitre_defense_impairment, T1685.004]"), SANDBOX, "", []),
        # agreement of the tactic tag with the IDs
        (rule("[maturity_sandbox, container, mitre_discovery, T1565]"), SANDBOX, "", [("TAGS_TACTIC_MISMATCH", E)]),
        (rule("[maturity_sandbox, container, mitre_exfiltration, TA0011]"), SANDBOX, "",
         [("TAGS_TACTIC_ID_MISMATCH", E)]),
        (rule("[maturity_sandbox, container, mitre_command_and_control, TA0011]"), SANDBOX, "", []),
        (rule("[maturity_sandbox, container, mitre_persistence, mitre_execution, T1505.003]"), SANDBOX, "",
         [("TAGS_TACTIC_UNSUPPORTED", W)]),
        (rule("[maturity_sandbox, container, mitre_lateral_movement, T1610]"), SANDBOX, V18,
         [("TAGS_TACTIC_MISMATCH", E)]),
        # compliance
        (rule(TAGS[:-1] + ", NIST_800-53_AC-6, NIST_800-53_AC-6(9), NIST_800-190_3.4.3, NIST_800-190_4.5.5, cis]"),
         SANDBOX, "", []),
        (rule(TAGS[:-1] + ", NIST_800-53_AC-99, NIST_800-53_ac-2, NIST_800-53_AC-2(10)]"), SANDBOX, "",
         [("TAGS_COMPLIANCE_UNKNOWN", E), ("TAGS_COMPLIANCE_MALFORMED", E), ("TAGS_COMPLIANCE_WITHDRAWN", E)]),
        (rule(TAGS[:-1] + ", NIST_800-190_3.6.1, NIST_800-190_A, NIST_800-171_3.14.6, NIST]"), SANDBOX, "",
         [("TAGS_COMPLIANCE_UNKNOWN", E)] + [("TAGS_COMPLIANCE_MALFORMED", E)] * 3),
        (rule(TAGS[:-1] + ", PCI_DSS_10.2.5, PCI_DSS_13.1, PCI_DSS_10, PCI-DSS-1.1]"), SANDBOX, "",
         [("TAGS_PCI_VERSION", N), ("TAGS_COMPLIANCE_UNKNOWN", E), ("TAGS_COMPLIANCE_MALFORMED", E),
          ("TAGS_COMPLIANCE_MALFORMED", E)]),
        (rule(TAGS[:-1] + ", CIS_5.1, CIS]"), SANDBOX, "", [("TAGS_COMPLIANCE_MALFORMED", E)] * 2),
        # the misspelled key and the rules repository's style
        (rule(key="tag"), SANDBOX, "", [("TAGS_KEY_MISSPELLED", E)]),
        (rule(name="shell in container"), SANDBOX, "", [("TAGS_RULE_NAME", W)]),
        (rule(desc="A shell runs in a container"), SANDBOX, "", [("TAGS_DESC_PERIOD", W)]),
        (rule(priority="Warning"), SANDBOX, "", [("TAGS_PRIORITY_CASE", W)]),
        (rule(name="'Shell in container '"), SANDBOX, "", [("TAGS_RULE_NAME", W)]),
    ],
)  # fmt: skip
def test_each_kind_of_finding(head: str, path: str, policy: str, expected: list[tuple[str, str]]) -> None:
    result = run(head, path=path, policy=policy)
    assert codes(result) == expected, [f.message for f in result.findings]
    for finding in result.findings:
        assert finding.file == path and finding.line is not None and finding.column is not None
        assert finding.hint and "{" not in finding.message + finding.hint
    errors = {s for _, s in expected} & {E}
    assert result.status == ("fail" if errors else "warn" if W in {s for _, s in expected} else "pass")


@pytest.mark.parametrize(
    ("tags", "policy", "message", "hint"),
    [
        ("[maturity_sandbox, container, mitre_defense_evation, T1070]", V18, "not a tactic of ATT&CK Enterprise v18.1",
         "Write `mitre_defense_evasion` instead"),
        ("[maturity_sandbox, container, mitre_defense_evation, T1070]", "", "not a tactic", "Write `mitre_stealth`"),
        ("[maturity_sandbox, container, mitre_remote_service, T1021]", "", "technique T1021 (Remote Services)",
         "(`mitre_lateral_movement`) and its ID `T1021`"),
        ("[maturity_sandbox, container, mitre_port_knocking, T1205.001]", V18, "technique T1205.001 (Port Knocking)",
         "`mitre_persistence`, `mitre_defense_evasion`, `mitre_command_and_control`"),
        ("[maturity_sandbox, container, mitre_defense_evasion, T1222.002]", "", "no longer has",
         "Write `mitre_defense_impairment` instead of `mitre_defense_evasion`"),
        ("[maturity_sandbox, container, mitre_defense_evasion, T1622]", "", "(it was a tactic of v18.1)",
         "Write `mitre_stealth` instead"),
        ("[maturity_sandbox, container, mitre_defense_evasion]", "", "no longer has",
         "Write `mitre_stealth`, `mitre_defense_impairment` instead"),
        ("[maturity_sandbox, host, mitre_defense_impairment, T1562.012]", "", "valid in ATT&CK v18.1",
         "Write `T1685.004` (Disable or Modify Linux Audit System Log) instead of `T1562.012`"),
        ("[maturity_sandbox, host, mitre_stealth, T1009]", "", "revoked in favour of `T1027.001`",
         "Write `T1027.001` (Binary Padding) instead of `T1009`"),
        ("[maturity_sandbox, host, mitre_privilege_escalation, TA0111]", "", "ICS or Mobile", "Enterprise tactic ID"),
        ("[maturity_sandbox, container, mitre_discovery, T1565]", V18, "serves none of its tactic tags",
         "(`mitre_impact` in v18.1)"),
        ("[maturity_sandbox, container, mitre_exfiltration, TA0011]", "", "(Command and Control)",
         "Write `mitre_command_and_control` as the tactic tag"),
        ("[maturity_incubating, container, mitre_execution, T1059]", V18, "falco-sandbox_rules.yaml holds",
         "Tag the rule `maturity_sandbox`, or move it to falco-incubating_rules.yaml"),
        ("[maturity_sandbox, container, T1059]", "", "no ATT&CK tactic tag", "one of `mitre_execution`"),
    ],
)  # fmt: skip
def test_the_hint_says_what_to_write(tags: str, policy: str, message: str, hint: str) -> None:
    (finding,) = run(rule(tags), policy=policy).findings
    assert message in finding.message and hint in (finding.hint or ""), (finding.message, finding.hint)


def test_positions_point_at_the_tag_the_key_or_the_value() -> None:
    head = rule() + "\n" + rule("[maturity_sandbox, host, container, host, mitre_execution,\n         T1059.004]",
                                name="Second", desc="no period", priority="notice")  # fmt: skip
    found = {f.code: (f.line, f.column) for f in run(head).findings}
    assert found == {"TAGS_DUPLICATE": (13, 45), "TAGS_DESC_PERIOD": (9, 9), "TAGS_PRIORITY_CASE": (12, 13)}
    misspelled = run(rule(key="tag")).findings[0]
    assert (misspelled.line, misspelled.column) == (6, 3)
    missing = run(rule("[container, mitre_execution, T1059.004]")).findings[0]
    assert (missing.line, missing.column) == (6, 3)  # the tags key
    block = rule("\n    - maturity_sandbox\n    - container\n    - mitre_exection\n    - T1059.004")
    (typo,) = run(block).findings
    assert (typo.code, typo.line, typo.column) == ("TAGS_TACTIC_UNKNOWN", 9, 7)


def test_only_added_or_changed_rules_are_reported() -> None:
    old = rule("[container, mitre_discovery, T1565]", name="Old rule", desc="no period")
    assert run(old + rule(), base=old).status == "pass"
    changed = old.replace("proc.name = bash", "proc.name = zsh")
    assert {f.code for f in run(changed, base=old).findings} == {"TAGS_MATURITY_MISSING", "TAGS_TACTIC_MISMATCH",
                                                                 "TAGS_DESC_PERIOD"}  # fmt: skip
    stable = rule("[maturity_stable, container, mitre_execution, T1059.004]")
    assert run(stable.replace("A shell", "Any shell"), base=stable, path=STABLE).findings == ()  # changed, not new


@pytest.mark.parametrize(
    ("policy", "status", "severities"),
    [
        ("", "fail", [E, W]),
        ("checks:\n  tags:\n    severity: warning\n", "warn", [W, W]),
        ("checks:\n  tags:\n    tactic_mismatch: notice\n", "warn", [N, W]),
        ("checks:\n  tags:\n    tactic_mismatch: 'off'\n    desc: notice\n", "pass", [N]),
        ("checks:\n  tags:\n    tactic_mismatch: warning\n    desc: error\n", "fail", [W, E]),
        ("checks:\n  tags:\n    tactic_mismatch: \"off\"\n    desc: \"off\"\n", "pass", []),
    ],
)  # fmt: skip
def test_each_kind_takes_its_severity_from_the_policy(policy: str, status: str, severities: list[str]) -> None:
    result = run(rule("[maturity_sandbox, container, mitre_discovery, T1565]", desc="no period"), policy=policy)
    assert (result.status, [f.severity for f in result.findings]) == (status, severities)


def test_every_kind_is_a_documented_policy_key_with_choices() -> None:
    settings = defaults()["checks"]["tags"]
    kinds = set(settings) - {"enabled", "severity"}
    assert kinds == {k.rsplit(".", 1)[1] for k in CHOICES if k.startswith("checks.tags.")}
    assert defaults()["attack"] == {"version": "19", "accept_previous": True}
    policy, findings = resolve_policy('attack:\n  version: "17"\nchecks:\n  tags:\n    desc: loud\n')
    assert [f.code for f in findings] == ["POLICY_BAD_VALUE", "POLICY_BAD_VALUE"]
    assert policy.get("attack.version") == "19" and policy.get("checks.tags.desc") == "warning"
    assert list(CHECKS).index("tags") == 5 and tuple(CHECKS) == CHECK_IDS
    text = (ROOT / "config" / "defaults.yml").read_text()
    for kind in kinds:  # each documented by a comment right above it
        before = text.split(f"\n    {kind}: ", 1)[0].rstrip().splitlines()[-1].strip()
        assert before.startswith("#"), kind


def test_skips_without_a_rules_file_and_never_passes_unread_rules() -> None:
    resolved, _ = resolve_policy("")
    args = (resolved.check("tags"), resolved.get("rules_files"), resolved.get("attack"))
    assert check_tags(snapshot(ChangedFile("README.md", "modified", "a", "b")), *args).status == "skip"
    broken = check_tags(snapshot(ChangedFile(SANDBOX, "modified", rule(), rule() + "- rule: [\n")), *args)
    assert broken.status == "skip" and "could not be read" in broken.summary
    missing_key = rule(name="Other").replace("  priority: WARNING\n", "")
    partly = run(rule() + missing_key, base="")
    assert partly.status == "skip" and "could not be read" in partly.summary
    assert run(rule(), base=rule()).summary == "No rule was added or changed."


def test_a_rule_that_does_not_compile_still_has_its_tags_checked() -> None:
    head = rule("[maturity_sandbox, container, mitre_discovery, T1565]").replace("proc.name = bash", "proc.nmae = x")
    assert [f.code for f in run(head).findings] == ["TAGS_TACTIC_MISMATCH"]


def upstream(version: str, deprecated: bool) -> Counter[str]:
    files = [ChangedFile(f"rules/{p.name}", "added", None, p.read_text()) for p in UPSTREAM]
    if deprecated:
        files.append(ChangedFile("archive/falco-deprecated_rules.yaml", "added", None, DEPRECATED.read_text()))
    resolved, _ = resolve_policy(f'attack:\n  version: "{version}"\n')
    result = check_tags(snapshot(*files), resolved.check("tags"), resolved.get("rules_files"), resolved.get("attack"))
    assert result.status == "fail"
    return Counter(f.code for f in result.findings)


@pytest.mark.parametrize("version", ["18.1", "19"])
def test_upstream_rules_as_a_pull_request_adding_every_rule(version: str) -> None:
    """mitre-compliance.md §2.3: 14 tactic/ID disagreements (13 in the bundled files, 1 in the archived
    deprecated file), 1 partial, and under v19 the 7 Defense Evasion remappings; nothing else but the
    25 stable rules that are "new" and the 3 PCI DSS notices."""
    bundled = upstream(version, deprecated=False)
    everything = upstream(version, deprecated=True)
    v19 = 7 if version == "19" else 0
    assert bundled["TAGS_TACTIC_MISMATCH"] + bundled["TAGS_TACTIC_ID_MISMATCH"] == 13
    assert everything["TAGS_TACTIC_MISMATCH"] + everything["TAGS_TACTIC_ID_MISMATCH"] == 14
    assert everything == Counter({"TAGS_TACTIC_MISMATCH": 10, "TAGS_TACTIC_ID_MISMATCH": 4,
                                  "TAGS_TACTIC_UNSUPPORTED": 1, "TAGS_MATURITY_NEW_STABLE": 25,
                                  "TAGS_PCI_VERSION": 3, "TAGS_TACTIC_PREVIOUS_VERSION": v19}) - Counter()  # fmt: skip


def test_upstream_v19_remappings_follow_the_rules_techniques() -> None:
    files = [ChangedFile(f"rules/{p.name}", "added", None, p.read_text()) for p in UPSTREAM]
    resolved, _ = resolve_policy("")
    result = check_tags(snapshot(*files), resolved.check("tags"), resolved.get("rules_files"), resolved.get("attack"))
    remapped = {f.message.split("'")[1]: (f.hint or "").split("`")[1] for f in result.findings
                if f.code == "TAGS_TACTIC_PREVIOUS_VERSION"}  # fmt: skip
    assert remapped == {
        "Clear Log Activities": "mitre_stealth",
        "PTRACE anti-debug attempt": "mitre_stealth",
        "Fileless execution via memfd_create": "mitre_stealth",
        "Delete or rename shell history": "mitre_stealth",
        "Modify binary dirs": "mitre_defense_impairment",
        "Create Hidden Files or Directories": "mitre_stealth",
        "Unprivileged Delegation of Page Faults Handling to a Userspace Process": "mitre_stealth",
    }


def test_the_2019_mistakes() -> None:
    """mitre-compliance.md §2.4: the `tag:` key with the `evation` typo, technique names as tactics, TA0111."""
    head = rule("[maturity_sandbox, host, container, mitre_defense_evation, T1070.003]", key="tag",
                name="Delete Bash History")  # fmt: skip
    assert codes(run(head)) == [("TAGS_KEY_MISSPELLED", E), ("TAGS_TACTIC_UNKNOWN", E)]
    for tag, technique in (("mitre_remote_access_tools", "T1219"), ("mitre_port_knocking", "T1205.001")):
        (finding,) = run(rule(f"[maturity_sandbox, host, {tag}]")).findings
        assert finding.code == "TAGS_TACTIC_UNKNOWN" and technique in finding.message


def test_policy_section_reaches_the_check_through_the_registry() -> None:
    resolved, _ = resolve_policy(V18)
    result = CHECKS["tags"][1](snapshot(ChangedFile(SANDBOX, "added", None, rule(
        "[maturity_sandbox, container, mitre_defense_evasion, T1070]"))), resolved)  # fmt: skip
    assert (result.id, result.title, result.status) == ("tags", "Tags and style", "pass")
    assert "v18.1" in result.summary
