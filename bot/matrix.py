"""The Falco MITRE rule matrix: every rule of a rule set under the ATT&CK tactics its tags name (pure)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from bot.attack import TACTIC_ID, TACTIC_TAG, TECHNIQUE_ID, VERSIONS, AttackCatalog, Tactic, load_catalog, rule_tags

MATRIX_SCHEMA = "falco-rules-bot/matrix/v1"
FORMATS = ("markdown", "html", "json")
DEFAULT_ATTACK_VERSION = "19"
# A `mitre_<word>` tag that names no tactic of any shipped version but is this close (difflib ratio) to
# one is read as that tactic: `mitre_defense_evation` (Falco 0.15.0's typo) scores 0.93 against
# `defense_evasion`; the non-tactic tags Falco used (`mitre_remote_service` 0.47, `mitre_port_knocking`
# 0.42, `mitre_remote_access_tools` 0.56, `mitre_data_destruction`) stay far below.
TYPO_RATIO = 0.85
# The maturity a file's name implies when a rule carries no `maturity_*` tag (falcosecurity/rules layout).
FILE_MATURITY = (
    ("falco-deprecated_rules.yaml", "deprecated"),
    ("falco-incubating_rules.yaml", "incubating"),
    ("falco-sandbox_rules.yaml", "sandbox"),
    ("falco_rules.yaml", "stable"),
)
_MATURITY = re.compile(r"^maturity_(?P<level>[a-z]+)$")


@dataclass(frozen=True)
class Cell:
    """One rule in a column (or among the unmapped): its technique IDs, maturity and where it is defined."""

    rule: str
    techniques: tuple[str, ...]
    maturity: str | None
    file: str | None
    line: int | None
    enabled: bool

    def to_json(self) -> dict[str, Any]:
        """The cell in the matrix contract."""
        return {
            "name": self.rule,
            "techniques": list(self.techniques),
            "maturity": self.maturity,
            "file": self.file,
            "line": self.line,
            "enabled": self.enabled,
        }

    @staticmethod
    def from_json(data: dict[str, Any]) -> Cell:
        """A cell from its JSON form."""
        line = data.get("line")
        techniques = tuple(str(t) for t in data.get("techniques", ()))
        number = int(line) if line is not None else None
        return Cell(
            str(data["name"]),
            techniques,
            data.get("maturity"),
            data.get("file"),
            number,
            bool(data.get("enabled", True)),
        )


@dataclass(frozen=True)
class Column:
    """One tactic and the rules under it, in load order."""

    tactic: Tactic
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class Matrix:
    """The rule matrix of one ATT&CK version: every tactic in ATT&CK order (empty ones too), plus unmapped rules."""

    attack_version: str
    columns: tuple[Column, ...]
    unmapped: tuple[Cell, ...]

    def to_json(self) -> dict[str, Any]:
        """The matrix contract (`falco-rules-bot/matrix/v1`)."""
        return {
            "schema": MATRIX_SCHEMA,
            "attack_version": self.attack_version,
            "tactics": [
                {
                    "id": c.tactic.id,
                    "name": c.tactic.name,
                    "shortname": c.tactic.shortname,
                    "rules": [cell.to_json() for cell in c.cells],
                }
                for c in self.columns
            ],
            "unmapped": [cell.to_json() for cell in self.unmapped],
        }

    @staticmethod
    def from_json(data: dict[str, Any]) -> Matrix:
        """A matrix from its JSON form (ValueError for another schema)."""
        if data.get("schema") != MATRIX_SCHEMA:
            raise ValueError(f"not a {MATRIX_SCHEMA} document")
        columns = tuple(
            Column(Tactic(str(t["id"]), str(t["name"]), str(t["shortname"])),
                   tuple(Cell.from_json(c) for c in t.get("rules", ())))
            for t in data.get("tactics", ())
        )  # fmt: skip
        unmapped = tuple(Cell.from_json(c) for c in data.get("unmapped", ()))
        return Matrix(str(data["attack_version"]), columns, unmapped)

    def uncovered(self) -> tuple[Tactic, ...]:
        """The tactics no rule lands under."""
        return tuple(c.tactic for c in self.columns if not c.cells)

    def tactics_of(self, rule: str) -> tuple[Tactic, ...]:
        """The tactics a rule lands under, in ATT&CK order."""
        return tuple(c.tactic for c in self.columns if any(cell.rule == rule for cell in c.cells))

    def cell(self, rule: str) -> Cell | None:
        """The rule's cell (the same in every column it lands in), or None."""
        for column in self.columns:
            for cell in column.cells:
                if cell.rule == rule:
                    return cell
        return next((c for c in self.unmapped if c.rule == rule), None)


def file_maturity(path: str | None) -> str | None:
    """The maturity a rules file's name implies (`falco-sandbox_rules.yaml`: sandbox), else None."""
    if not path:
        return None
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    return next((level for suffix, level in FILE_MATURITY if name == suffix or name.endswith("-" + suffix)), None)


def _other_catalogs(version: str) -> list[AttackCatalog]:
    return [load_catalog(v) for v in VERSIONS if v != version]


@cache
def _known_tactic_words(version: str) -> dict[str, tuple[AttackCatalog, Tactic]]:
    """`defense_evasion` → (its catalog, the tactic), over this version first, then the other shipped versions."""
    out: dict[str, tuple[AttackCatalog, Tactic]] = {}
    for cat in [load_catalog(version), *_other_catalogs(version)]:
        for tactic in cat.tactics:
            out.setdefault(tactic.shortname.replace("-", "_"), (cat, tactic))
    return out


def _successors(catalog: AttackCatalog, old: Tactic, techniques: Sequence[str]) -> list[Tactic]:
    """Where a tactic of another ATT&CK version lands in this one.

    The candidates are this version's tactics whose shortname the other version does not have (v19's
    Stealth and Defense Impairment for v18.1's Defense Evasion, and the reverse). The rule's techniques
    choose among them; without a technique that decides, the tactic that kept the ID (TA0005: Stealth),
    else the only candidate.
    """
    other = next((cat for cat in _other_catalogs(catalog.version) if old in cat.tactics), None)
    if other is None:
        return []
    old_names = {t.shortname for t in other.tactics}
    candidates = [t for t in catalog.tactics if t.shortname not in old_names]
    by_technique: set[str] = set()
    for tid in techniques:
        tech = catalog.current(tid) or catalog.technique(tid.split(".")[0])
        if tech is not None:
            by_technique.update(tech.tactics)
    chosen = [t for t in candidates if t.shortname in by_technique]
    if chosen:
        return chosen
    same_id = catalog.tactic(old.id)
    if same_id is not None:
        return [same_id]
    return candidates if len(candidates) == 1 else []


def tactics_of_tags(catalog: AttackCatalog, tags: Sequence[str]) -> list[Tactic]:
    """The tactics of this version a rule's tags name, in ATT&CK order (see TYPO_RATIO and _successors)."""
    known = _known_tactic_words(catalog.version)
    techniques = [t for t in tags if TECHNIQUE_ID.match(t)]
    found: set[str] = set()
    for tag in tags:
        if TACTIC_ID.match(tag):
            tactic = catalog.tactic(tag)
            if tactic is not None:
                found.add(tactic.shortname)
            continue
        match = TACTIC_TAG.match(tag)
        if match is None:
            continue
        word = match.group("name")
        if word not in known:
            close = difflib.get_close_matches(word, list(known), n=1, cutoff=TYPO_RATIO)
            if not close:
                continue
            word = close[0]
        cat, tactic = known[word]
        if cat.version == catalog.version:
            found.add(tactic.shortname)
        else:
            found.update(t.shortname for t in _successors(catalog, tactic, techniques))
    return [t for t in catalog.tactics if t.shortname in found]


def cell_of(rule: Any) -> tuple[Cell, tuple[str, ...]]:
    """A loaded rule (bot.rules.collector.RuleInfo) as a cell, and the tags it was built from."""
    tags = rule_tags(rule).tags
    techniques = tuple(dict.fromkeys(t for t in tags if TECHNIQUE_ID.match(t)))
    maturity = next((m.group("level") for m in map(_MATURITY.match, tags) if m), None)
    ctx = getattr(rule, "ctx", None)
    file = getattr(ctx, "file", None)
    locations = getattr(ctx, "locations", ()) if ctx is not None else ()
    line = locations[-1].line + 1 if locations else None
    cell = Cell(str(rule.name), techniques, maturity or file_maturity(file), file, line, bool(rule.enabled))
    return cell, tags


def resolve_columns(catalog: AttackCatalog, columns: Sequence[str]) -> list[Tactic]:
    """The tactics named by shortname (`defense-evasion` or `defense_evasion`), ID, tag or name; ValueError
    naming the first unknown one."""
    out: list[Tactic] = []
    for key in columns:
        text = key.strip()
        tactic = catalog.tactic(text) or catalog.tactic(text.lower().replace("_", "-").replace(" ", "-"))
        if tactic is None:
            raise ValueError(text)
        out.append(tactic)
    return out


def matrix_of_rules(
    rules: Iterable[Any], attack_version: str = DEFAULT_ATTACK_VERSION, columns: Sequence[str] | None = None
) -> Matrix:
    """The matrix of loaded rules (in load order); `columns` keeps only these tactics (ATT&CK order stays)."""
    catalog = load_catalog(attack_version)
    shown = catalog.tactics
    if columns is not None:
        wanted = {t.shortname for t in resolve_columns(catalog, columns)}
        shown = tuple(t for t in catalog.tactics if t.shortname in wanted)
    cells: dict[str, list[Cell]] = {t.shortname: [] for t in shown}
    unmapped: list[Cell] = []
    for rule in rules:
        cell, tags = cell_of(rule)
        tactics = tactics_of_tags(catalog, tags)
        if not tactics:
            unmapped.append(cell)
        for tactic in tactics:
            if tactic.shortname in cells:
                cells[tactic.shortname].append(cell)
    return Matrix(catalog.version, tuple(Column(t, tuple(cells[t.shortname])) for t in shown), tuple(unmapped))


def matrix_of_files(
    files: Sequence[tuple[str, str]], attack_version: str = DEFAULT_ATTACK_VERSION, columns: Sequence[str] | None = None
) -> Matrix:
    """The matrix of rules files `(path, text)` loaded in order into one rule set, as `validate` loads them."""
    from bot.rules.engine import RulesFile, validate

    outcome = validate([RulesFile(path, text) for path, text in files])
    return matrix_of_rules(outcome.collector.rules.values(), attack_version, columns)


def render_matrix(matrix: Matrix, fmt: str, link_base: str | None = None) -> str:
    """The matrix as `markdown`, `html` (a standalone page) or `json`; `link_base` links each rule to its line."""
    if fmt == "json":
        import json

        return json.dumps(matrix.to_json(), indent=2) + "\n"
    if fmt not in FORMATS:
        raise ValueError(fmt)
    from bot.matrix_render import render_html, render_markdown

    return render_markdown(matrix, link_base) if fmt == "markdown" else render_html(matrix, link_base)
