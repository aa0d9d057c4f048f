"""The ATT&CK Enterprise catalogs under config/attack/ and the compliance catalogs under config/compliance/."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.attack import TACTIC_ID, TECHNIQUE_ID, VERSIONS, load_catalog, rule_tags
from bot.compliance import judge_compliance, nist_800_53, nist_800_190
from bot.rules.engine import RulesFile, validate

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM = sorted((ROOT / "config" / "upstream").glob("*.yaml"))


def upstream_tags() -> list[str]:
    collector = validate([RulesFile(str(p), p.read_text()) for p in UPSTREAM]).collector
    return [t for rule in collector.rules.values() for t in rule_tags(rule).tags]


def test_v19_has_15_tactics_with_stealth_and_defense_impairment() -> None:
    v19, v18 = load_catalog("19"), load_catalog("18.1")
    assert len(v19.tactics) == 15 and len(v18.tactics) == 14
    assert (v19.tactic("TA0005").name, v19.tactic("TA0112").name) == ("Stealth", "Defense Impairment")  # type: ignore[union-attr]
    assert v19.tactic("mitre_defense_evasion") is None
    assert v18.tactic("mitre_defense_evasion").id == "TA0005"  # type: ignore[union-attr]
    assert v18.tactic("TA0112") is None
    assert [t.tag for t in v19.tactics][6:8] == ["mitre_stealth", "mitre_defense_impairment"]


def test_t1562_012_is_revoked_in_v19_for_t1685_004() -> None:
    v19, v18 = load_catalog("19"), load_catalog("18.1")
    old = v19.technique("T1562.012")
    assert old is not None and old.revoked and old.revoked_by == "T1685.004"
    assert v19.current("T1562.012").id == "T1685.004"  # type: ignore[union-attr]
    assert v19.current("T1562.012").tactics == ("defense-impairment",)  # type: ignore[union-attr]
    kept = v18.technique("T1562.012")
    assert kept is not None and not kept.revoked and kept.tactics == ("defense-evasion",)


def test_every_v19_replacement_of_the_build_script_is_in_the_catalog() -> None:
    replacements = json.loads((ROOT / "scripts" / "attack_v19_replacements.json").read_text())
    v19 = load_catalog("19")
    for old, new in replacements.items():
        if old.startswith("_"):
            continue
        tech = v19.technique(old)
        assert tech is not None and tech.revoked and tech.revoked_by == new
        if new is not None:
            assert not v19.techniques[new].revoked


def test_every_technique_and_tactic_id_used_upstream_exists_in_v18_1() -> None:
    tags = upstream_tags()
    techniques = {t for t in tags if TECHNIQUE_ID.match(t)}
    tactic_ids = {t for t in tags if TACTIC_ID.match(t)}
    assert len(techniques) >= 35 and tactic_ids
    for version in VERSIONS:
        catalog = load_catalog(version)
        for tid in techniques:
            tech = catalog.technique(tid)
            assert tech is not None and not tech.revoked and not tech.deprecated, (version, tid)
        assert all(catalog.tactic(t) for t in tactic_ids)


def test_revocations_chain_to_a_current_technique_and_catalogs_carry_mitres_notice() -> None:
    for version in VERSIONS:
        catalog = load_catalog(version)
        assert "© The MITRE Corporation" in catalog.notice and "Terms of Use" in catalog.notice
        for tech in catalog.techniques.values():
            assert set(tech.tactics) <= {t.shortname for t in catalog.tactics}
            if tech.revoked and tech.revoked_by:  # the chain ends at a current technique or one with no successor
                end = catalog.current(tech.id)
                assert end is not None and (not end.revoked or end.revoked_by is None)
            assert tech.subtechnique == ("." in tech.id)
    with pytest.raises(KeyError):
        load_catalog("15")


@pytest.mark.parametrize(
    ("tag", "framework", "problem"),
    [
        ("NIST_800-53_AC-2", "NIST_800-53", None), ("NIST_800-53_AU-10", "NIST_800-53", None),
        ("NIST_800-53_AC-6(9)", "NIST_800-53", None), ("NIST_800-53_AC-2(10)", "NIST_800-53", "withdrawn"),
        ("NIST_800-53_AC-26", "NIST_800-53", "unknown"), ("NIST_800-53_XX-1", "NIST_800-53", "malformed"),
        ("NIST_800-190_3.4.3", "NIST_800-190", None), ("NIST_800-190_4.1", "NIST_800-190", None),
        ("NIST_800-190_3.6", "NIST_800-190", "unknown"), ("NIST_800-190_5.1.1", "NIST_800-190", "unknown"),
        ("NIST_800-171_3.14.6", "NIST", "malformed"), ("PCI_DSS_10.2.5", "PCI_DSS", None),
        ("PCI_DSS_12.10.1.1", "PCI_DSS", None), ("PCI_DSS_0.1", "PCI_DSS", "unknown"),
        ("PCI_DSS_10", "PCI_DSS", "malformed"), ("cis", "CIS", None), ("CIS", "CIS", "malformed"),
        ("CIS_Docker_5.1", "CIS", "malformed"),
    ],
)  # fmt: skip
def test_compliance_tags(tag: str, framework: str, problem: str | None) -> None:
    verdict = judge_compliance(tag)
    assert verdict is not None and (verdict.framework, verdict.problem) == (framework, problem)


@pytest.mark.parametrize("tag", ["container", "process", "mitre_execution", "T1059", "maturity_stable", "cisco"])
def test_tags_that_name_no_compliance_framework(tag: str) -> None:
    assert judge_compliance(tag) is None


def test_compliance_catalogs() -> None:
    controls = nist_800_53()
    assert len(controls) == 1189 and sum(withdrawn for _, withdrawn in controls.values()) == 179
    sections = nist_800_190()
    leaves = [s for s in sections if re.fullmatch(r"[34]\.\d\.\d", s)]
    assert len(leaves) == 46 and len(sections) == 58
    assert sections["3.4.3"] == "Insecure container runtime configurations"
    assert sections["3.5.5"] == "Host OS file system tampering"
