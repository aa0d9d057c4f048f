"""The seed deck's "Falco MITRE Rule Matrix", reproduced from the tags of Falco 0.15.0's rules (reference §3)."""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

import pytest

from bot.matrix import Matrix, matrix_of_files, render_matrix

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ROOT / "tests" / "data" / "corpus" / "valid" / "falco-0.15.0-falco_rules.yaml"
SHARED = Path("/work/shared/corpus/valid/falco-0.15.0-falco_rules.yaml")
GOLDEN = ROOT / "tests" / "golden" / "matrix_seed.md"
DECK = Path("/work/shared/seed/000_fca453e1e167d6de.txt")

# The seed's eight columns, in the deck's (and ATT&CK's) order.
COLUMNS = ("execution", "persistence", "privilege-escalation", "defense-evasion", "credential-access", "discovery",
           "lateral-movement", "exfiltration")  # fmt: skip

# The deck's table, typed in column by column, top to bottom (cells holding two or three rules read left to right).
SEED: dict[str, list[str]] = {
    "Execution": [
        "DB program spawned process",
        "Run shell untrusted",
        "Terminal shell in container",
        "Netcat Remote Code Execution in Container",
    ],
    "Persistence": [
        "Modify Shell Configuration File",
        "Schedule Cron Jobs",
        "Update Package Repository",
        "Write below binary dir",
        "Write below monitored dir",
        "Write below etc",
        "Write below root",
        "Write below rpm database",
        "Modify binary dirs",
        "Mkdir binary dirs",
        "User mgmt binaries",
        "Create files below dev",
        "Launch Package Management Process in Container",
        "Remove Bulk Data from Disk Set",
        "Create Hidden Files or Directories",
        "Setuid or Setgid bit",
    ],
    "Privilege Escalation": ["Launch Privileged Container", "Non sudo setuid"],
    "Defense Evasion": ["Clear Logging Activities", "Delete Bash History"],
    "Credential Access": [
        "Read sensitive file trusted after startup",
        "Read sensitive file untrusted",
        "Search Private Keys or Passwords",
    ],
    "Discovery": [
        "Read Shell Configuration File",
        "Read ssh information",
        "Read sensitive file untrusted",
        "Contact K8S API Server From Container",
        "Launch Suspicious Network Tool in Container",
        "Launch Suspicious Network Tool on Host",
    ],
    "Lateral Movement": [
        "Launch Privileged Container",
        "Launch Sensitive Mount Container",
        "Launch Disallowed Container",
    ],
    "Exfiltration": [
        "System process network activity",
        "Interpreted process inbound network",
        "Interpreted process outbound network",
        "Unexpected UDP Traffic",
        "Launch Suspicious Network Tool in Container",
        "Launch Suspicious Network Tool on Host",
    ],
}

# The seed paraphrases seven rule names (reference §3.3, rows 4, 7, 15, 20, 29, 36, 38): seed name -> the
# rule's name in Falco 0.15.0.
ALIASES = {
    "Clear Logging Activities": "Clear Log Activities",
    "System process network activity": "System procs network activity",
    "Interpreted process inbound network": "Interpreted procs inbound network activity",
    "Interpreted process outbound network": "Interpreted procs outbound network activity",
    "Launch Suspicious Network Tool in Container": "Lauch Suspicious Network Tool in Container",  # 0.15.0's typo
    "Remove Bulk Data from Disk Set": "Remove Bulk Data from Disk",
    "Setuid or Setgid bit": "Set Setuid or Setgid bit",
}

# Generated from the tags but left out of the seed (reference §3.2).
NOT_IN_SEED = {"Discovery": {"Contact EC2 Instance Metadata Service From Container"}}

# Rules of 0.15.0 tagged with no tactic: no tag at all, or a `mitre_*` tag naming no tactic
# (mitre_remote_service, mitre_remote_access_tools, mitre_port_knocking).
UNMAPPED = {
    "Disallowed SSH Connection",
    "Unexpected outbound connection destination",
    "Unexpected inbound connection source",
    "Change thread namespace",
    "System user interactive",
    "Program run with disallowed http proxy env",
    "Unexpected K8s NodePort Connection",
}


def rules_file() -> Path:
    path = LOCAL if LOCAL.is_file() else SHARED
    if not path.is_file():
        pytest.skip("the Falco 0.15.0 rules file is not available")
    return path


def seed_matrix() -> Matrix:
    path = rules_file()
    return matrix_of_files([(path.name, path.read_text(encoding="utf-8"))], attack_version="18.1", columns=COLUMNS)


def test_the_typed_table_is_the_decks_table() -> None:
    if not DECK.is_file():
        pytest.skip("the seed deck is not available")
    lines = DECK.read_text(encoding="utf-8").splitlines()
    start = lines.index("## Falco MITRE Rule Matrix")
    header = lines[start + 2].split("\t")
    assert header == list(SEED)
    columns: dict[str, list[str]] = {name: [] for name in header}
    for line in lines[start + 3 :]:
        if not line.strip():
            break
        for name, cell in zip(header, line.split("\t"), strict=False):
            columns[name].extend(re.findall(r'<a href="#">(.*?)</a>', cell))
    assert columns == SEED


def test_the_seed_matrix_is_reproduced_from_the_tags() -> None:
    matrix = seed_matrix()
    assert [c.tactic.name for c in matrix.columns] == list(SEED)
    for column in matrix.columns:
        generated = {cell.rule for cell in column.cells}
        expected = {ALIASES.get(name, name) for name in SEED[column.tactic.name]}
        assert generated - NOT_IN_SEED.get(column.tactic.name, set()) == expected, column.tactic.name
        assert NOT_IN_SEED.get(column.tactic.name, set()) <= generated
    assert {c.rule for c in matrix.unmapped} == UNMAPPED


def test_seed_column_sizes_and_distinct_rules() -> None:
    matrix = seed_matrix()
    assert [len(c.cells) for c in matrix.columns] == [4, 16, 2, 2, 3, 7, 3, 6]  # reference §3.2
    mapped = {cell.rule for c in matrix.columns for cell in c.cells}
    seed_names = {ALIASES.get(n, n) for names in SEED.values() for n in names}
    # 38 seed names, every one generated (Delete Bash History thanks to the typo normalisation), plus the EC2 rule.
    assert len(seed_names) == 38 and len(mapped) == 39
    assert seed_names <= mapped and mapped - seed_names == {"Contact EC2 Instance Metadata Service From Container"}


def test_the_columns_keep_the_files_order() -> None:
    """Within each column the rules come in file order, which is the deck's order but for one swap."""
    matrix = seed_matrix()
    for column in matrix.columns:
        generated = [c.rule for c in column.cells if c.rule not in NOT_IN_SEED.get(column.tactic.name, set())]
        seed = [ALIASES.get(name, name) for name in SEED[column.tactic.name]]
        if column.tactic.name == "Persistence":  # the deck lists its last two rules the other way round
            seed[-2:] = seed[-1:-3:-1]
        assert generated == seed, column.tactic.name


def test_delete_bash_history_lands_through_the_typo_normalisation() -> None:
    matrix = seed_matrix()
    evasion = next(c for c in matrix.columns if c.tactic.shortname == "defense-evasion")
    assert [c.rule for c in evasion.cells] == ["Clear Log Activities", "Delete Bash History"]
    text = rules_file().read_text(encoding="utf-8")
    assert "mitre_defense_evation" in text  # written so in 0.15.0, under the misspelled `tag:` key


def test_the_aliases_are_close_paraphrases() -> None:
    for seed, real in ALIASES.items():
        assert difflib.SequenceMatcher(None, seed.lower(), real.lower()).ratio() >= 0.6, seed


def test_the_seed_matrix_as_markdown() -> None:
    body = render_matrix(seed_matrix(), "markdown")
    header = next(line for line in body.splitlines() if line.startswith("| ["))
    assert re.findall(r"\[([^\]]+)\]\(", header) == list(SEED)
    assert "Delete Bash History" in body and "Lauch Suspicious Network Tool in Container" in body


def test_the_seed_matrix_matches_the_golden_file() -> None:
    body = render_matrix(seed_matrix(), "markdown", "https://github.com/falcosecurity/falco/blob/0.15.0/rules")
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(body, encoding="utf-8")
    assert body == GOLDEN.read_text(encoding="utf-8")
