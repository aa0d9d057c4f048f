"""MITRE ATT&CK Enterprise catalogs (config/attack/) and how Falco's tags name tactics and techniques."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import cache

from bot import paths

ATTACK_DIR = os.path.join(paths.CONFIG, "attack")
VERSIONS = ("18.1", "19")  # the catalogs shipped, oldest first
TACTIC_TAG = re.compile(r"^mitre_(?P<name>[a-z_]+)$")
TECHNIQUE_ID = re.compile(r"^T\d{4}(?:\.\d{3})?$")
TACTIC_ID = re.compile(r"^TA\d{4}$")


@dataclass(frozen=True)
class Tactic:
    """A column of the matrix: `TA0002`, `Execution`, shortname `execution`."""

    id: str
    name: str
    shortname: str

    @property
    def tag(self) -> str:
        """The Falco tag naming this tactic: `mitre_privilege_escalation`."""
        return "mitre_" + self.shortname.replace("-", "_")


@dataclass(frozen=True)
class Technique:
    """A technique or sub-technique, with the tactics it serves and whether it is still current."""

    id: str
    name: str
    tactics: tuple[str, ...]  # shortnames
    subtechnique: bool
    deprecated: bool
    revoked: bool
    revoked_by: str | None
    platforms: tuple[str, ...]

    @property
    def url(self) -> str:
        """The technique's page on attack.mitre.org."""
        return "https://attack.mitre.org/techniques/" + self.id.replace(".", "/") + "/"


@dataclass(frozen=True)
class AttackCatalog:
    """One ATT&CK Enterprise version: tactics in matrix order, techniques by ID."""

    version: str
    tactics: tuple[Tactic, ...]
    techniques: dict[str, Technique]
    notice: str

    def tactic(self, key: str) -> Tactic | None:
        """The tactic with this ID (`TA0003`), shortname (`privilege-escalation`) or Falco tag (`mitre_...`)."""
        match = TACTIC_TAG.match(key)
        short = match.group("name").replace("_", "-") if match else key
        return next((t for t in self.tactics if key == t.id or short == t.shortname), None)

    def technique(self, technique_id: str) -> Technique | None:
        """The technique with this ID, current, deprecated or revoked; None when ATT&CK never had it."""
        return self.techniques.get(technique_id)

    def current(self, technique_id: str) -> Technique | None:
        """Follow revocations to the technique that replaced `technique_id` (itself when current)."""
        seen: set[str] = set()
        tech = self.techniques.get(technique_id)
        while tech is not None and tech.revoked and tech.revoked_by and tech.id not in seen:
            seen.add(tech.id)
            tech = self.techniques.get(tech.revoked_by)
        return tech


@cache
def load_catalog(version: str) -> AttackCatalog:
    """The catalog of `version` (one of VERSIONS), read once; KeyError for a version not shipped."""
    if version not in VERSIONS:
        raise KeyError(version)
    with open(os.path.join(ATTACK_DIR, f"enterprise-v{version}.json"), encoding="utf-8") as handle:
        data = json.load(handle)
    tactics = tuple(Tactic(t["id"], t["name"], t["shortname"]) for t in data["tactics"])
    techniques = {
        tid: Technique(tid, t["name"], tuple(t["tactics"]), bool(t["subtechnique"]), bool(t["deprecated"]),
                       bool(t["revoked"]), t.get("revoked_by"), tuple(t.get("platforms", ())))
        for tid, t in data["techniques"].items()
    }  # fmt: skip
    return AttackCatalog(str(data["version"]), tactics, techniques, str(data["notice"]))


@dataclass(frozen=True)
class RuleTags:
    """A rule's tags as a reader of the rules file sees them, with where they are written."""

    tags: tuple[str, ...]
    misspelled_key: bool  # written under `tag:` (Falco ignores that key; the matrix reads it anyway)
    line: int | None  # 1-based line of the tags key (or of the rule when it has none)
    column: int | None


def rule_tags(rule: object) -> RuleTags:
    """The tags of a loaded rule (bot.rules.collector.RuleInfo): `tags:`, else the misspelled `tag:` key."""
    from bot.rules.yamlsrc import MappingNode, ScalarNode, SequenceNode

    node = getattr(rule, "node", None)
    tags = tuple(str(t) for t in getattr(rule, "tags", ()) or ())
    where: object = node
    misspelled = False
    if isinstance(node, MappingNode):
        keys = {k.value: (k, v) for k, v in node.value if isinstance(k, ScalarNode)}
        if "tags" in keys:
            where = keys["tags"][0]
        elif "tag" in keys:
            where, value = keys["tag"]
            misspelled = True
            if isinstance(value, SequenceNode):
                tags = tuple(str(v.value) for v in value.value if isinstance(v, ScalarNode))
    mark = getattr(where, "start_mark", None)
    return RuleTags(tags, misspelled, mark.line + 1 if mark else None, mark.column + 1 if mark else None)
