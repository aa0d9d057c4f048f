"""Compliance tags of Falco rules (NIST SP 800-53 and 800-190, PCI DSS, CIS): their formats and catalogs."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import cache

from bot import paths

COMPLIANCE_DIR = os.path.join(paths.CONFIG, "compliance")

NIST_800_53 = re.compile(
    r"^NIST_800-53_(?P<id>(?:AC|AT|AU|CA|CM|CP|IA|IR|MA|MP|PE|PL|PM|PS|PT|RA|SA|SC|SI|SR)-\d{1,2}(?:\(\d{1,2}\))?)$"
)
NIST_800_190 = re.compile(r"^NIST_800-190_(?P<id>\d(?:\.\d{1,2}){0,2})$")
PCI_DSS = re.compile(r"^PCI_DSS_(?P<id>\d{1,2}(?:\.\d{1,2}){1,3})$")
PCI_DSS_RANGE = re.compile(r"^(?:1[0-2]|[1-9])(?:\.\d{1,2}){1,3}$")  # requirements 1 to 12, up to 4 levels
CIS = "cis"
# Tags that look like they mean a compliance framework (any case), so a malformed one is reported.
FAMILIES = (("NIST_800-53", "nist_800-53"), ("NIST_800-190", "nist_800-190"), ("NIST", "nist"),
            ("PCI_DSS", "pci"), ("CIS", "cis"))  # fmt: skip


@dataclass(frozen=True)
class ComplianceTag:
    """What a compliance-looking tag is: its framework, its problem (None when fine) and the control's name."""

    tag: str
    framework: str  # NIST_800-53 | NIST_800-190 | PCI_DSS | CIS | NIST
    problem: str | None  # malformed | unknown | withdrawn | None
    name: str | None = None
    notice: str | None = None  # pci_version: PCI DSS tags do not say which version of the standard they mean


@cache
def nist_800_53() -> dict[str, tuple[str, bool]]:
    """NIST SP 800-53 rev. 5 control and enhancement IDs (`AC-6(9)`) to (name, withdrawn)."""
    with open(os.path.join(COMPLIANCE_DIR, "nist-800-53r5.json"), encoding="utf-8") as handle:
        data = json.load(handle)
    return {cid: (str(c["name"]), bool(c["withdrawn"])) for cid, c in data["controls"].items()}


@cache
def nist_800_190() -> dict[str, str]:
    """NIST SP 800-190 section numbers of sections 3 (risks) and 4 (countermeasures) to their titles."""
    from bot.rules.yamlsrc import load_data

    with open(os.path.join(COMPLIANCE_DIR, "nist-800-190.yml"), encoding="utf-8") as handle:
        data = load_data(handle)
    return {str(k): str(v) for k, v in data["sections"].items()}


def framework_of(tag: str) -> str | None:
    """The compliance framework a tag appears to name (by its prefix, any case), or None."""
    low = tag.lower()
    for framework, prefix in FAMILIES:
        if low == prefix or low.startswith(prefix + "_") or (prefix == "pci" and tag.startswith("PCI")):
            return framework
    return None


def judge_compliance(tag: str) -> ComplianceTag | None:
    """The verdict on a compliance-looking tag; None for tags that name no compliance framework."""
    framework = framework_of(tag)
    if framework is None:
        return None
    if framework == "CIS":
        return ComplianceTag(tag, framework, None if tag == CIS else "malformed")
    if framework == "NIST_800-53":
        match = NIST_800_53.match(tag)
        if not match:
            return ComplianceTag(tag, framework, "malformed")
        control = nist_800_53().get(match.group("id"))
        if control is None:
            return ComplianceTag(tag, framework, "unknown")
        return ComplianceTag(tag, framework, "withdrawn" if control[1] else None, control[0])
    if framework == "NIST_800-190":
        match = NIST_800_190.match(tag)
        if not match:
            return ComplianceTag(tag, framework, "malformed")
        title = nist_800_190().get(match.group("id"))
        return ComplianceTag(tag, framework, None if title else "unknown", title)
    if framework == "PCI_DSS":
        match = PCI_DSS.match(tag)
        if not match:
            return ComplianceTag(tag, framework, "malformed")
        if not PCI_DSS_RANGE.match(match.group("id")):
            return ComplianceTag(tag, framework, "unknown")
        return ComplianceTag(tag, framework, None, None, "pci_version")
    return ComplianceTag(tag, framework, "malformed")  # NIST_* of another publication, or the bare umbrella tag
