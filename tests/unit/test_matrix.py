"""The MITRE ATT&CK rule matrix: building it from tags, its three formats, the CLI, and Report.attack."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from bot.attack import load_catalog
from bot.matrix import (
    MATRIX_SCHEMA,
    Cell,
    Matrix,
    file_maturity,
    matrix_of_files,
    render_matrix,
    tactics_of_tags,
)
from bot.models import ChangedFile, PullRequestSnapshot
from bot.policy import resolve_policy
from bot.render import render_comment
from bot.review import review

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM = ROOT / "config" / "upstream"
UPSTREAM_FILES = ("falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml")
SEED_COLUMNS = ("execution", "persistence", "privilege-escalation", "defense-evasion", "credential-access",
                "discovery", "lateral-movement", "exfiltration")  # fmt: skip
HOSTILE = '<script>alert("x")</script> & <b>bold</b>'


def upstream() -> list[tuple[str, str]]:
    return [(name, (UPSTREAM / name).read_text(encoding="utf-8")) for name in UPSTREAM_FILES]


def rule(name: str, tags: list[str], key: str = "tags", enabled: bool = True) -> str:
    quoted = json.dumps(name)
    extra = "" if enabled else "  enabled: false\n"
    return (f"- rule: {quoted}\n  desc: d.\n  condition: evt.type = open\n  output: x %proc.name\n  priority: INFO\n"
            f"{extra}  {key}: {json.dumps(tags)}\n")  # fmt: skip


def column(matrix: Matrix, shortname: str) -> list[str]:
    return [c.rule for col in matrix.columns if col.tactic.shortname == shortname for c in col.cells]


# -- building -----------------------------------------------------------------------------------------------------


def test_every_tactic_in_attack_order_even_empty_ones() -> None:
    matrix = matrix_of_files([("r.yaml", rule("A", ["mitre_execution"]))])
    assert [c.tactic for c in matrix.columns] == list(load_catalog("19").tactics)
    assert column(matrix, "execution") == ["A"]
    assert {t.shortname for t in matrix.uncovered()} == {t.shortname for t in load_catalog("19").tactics} - {
        "execution"
    }


def test_tactic_tags_ids_techniques_and_maturity() -> None:
    text = rule("A", ["maturity_incubating", "host", "mitre_persistence", "TA0004", "T1543", "T1098.004"])
    text += rule("B", ["T1059"])  # a technique alone names no column
    text += rule("C", ["mitre_remote_service", "mitre_data_destruction"])  # not tactics
    matrix = matrix_of_files([("falco-sandbox_rules.yaml", text)])
    assert column(matrix, "persistence") == ["A"] and column(matrix, "privilege-escalation") == ["A"]
    cell = matrix.cell("A")
    assert cell == Cell("A", ("T1543", "T1098.004"), "incubating", "falco-sandbox_rules.yaml", 1, True)
    assert [c.rule for c in matrix.unmapped] == ["B", "C"]
    assert matrix.cell("B") is not None and matrix.cell("B").maturity == "sandbox"  # type: ignore[union-attr]
    assert [t.name for t in matrix.tactics_of("A")] == ["Persistence", "Privilege Escalation"]


def test_maturity_from_the_file_name() -> None:
    assert file_maturity("rules/falco_rules.yaml") == "stable"
    assert file_maturity("falco-incubating_rules.yaml") == "incubating"
    assert file_maturity("x/falco-sandbox_rules.yaml") == "sandbox"
    assert file_maturity("falco-deprecated_rules.yaml") == "deprecated"
    assert file_maturity("rules-falco-rules-5.1.0-falco_rules.yaml") == "stable"
    assert file_maturity("my_rules.yaml") is None and file_maturity(None) is None


def test_the_misspelled_tag_key_and_a_typo_in_a_tactic() -> None:
    text = rule("A", ["mitre_defense_evation"], key="tag") + rule("B", ["mitre_persistance"])
    v18 = matrix_of_files([("r.yaml", text)], "18.1")
    assert column(v18, "defense-evasion") == ["A"] and column(v18, "persistence") == ["B"]
    v19 = matrix_of_files([("r.yaml", text)], "19")
    assert column(v19, "stealth") == ["A"]  # TA0005 kept its ID


def test_defense_evasion_under_v19_follows_the_techniques() -> None:
    catalog = load_catalog("19")
    names = lambda tags: [t.shortname for t in tactics_of_tags(catalog, tags)]  # noqa: E731
    assert names(["mitre_defense_evasion", "T1222.002"]) == ["defense-impairment"]
    assert names(["mitre_defense_evasion", "T1070"]) == ["stealth"]
    assert names(["mitre_defense_evasion"]) == ["stealth"]
    assert names(["mitre_defense_evasion", "T1059"]) == ["stealth"]  # an Execution technique decides nothing here
    v18 = load_catalog("18.1")
    assert [t.shortname for t in tactics_of_tags(v18, ["mitre_stealth"])] == ["defense-evasion"]
    assert [t.shortname for t in tactics_of_tags(v18, ["mitre_defense_impairment"])] == ["defense-evasion"]


def test_upstream_v18_defense_evasion_vs_v19_stealth_and_defense_impairment() -> None:
    v18 = matrix_of_files(upstream(), "18.1")
    v19 = matrix_of_files(upstream(), "19")
    names18 = [c.tactic.name for c in v18.columns]
    names19 = [c.tactic.name for c in v19.columns]
    assert "Defense Evasion" in names18 and "Stealth" not in names18
    assert "Defense Evasion" not in names19 and {"Stealth", "Defense Impairment"} <= set(names19)
    assert len(names19) == len(names18) + 1 == 15
    evasion = column(v18, "defense-evasion")
    assert sorted(evasion) == sorted(column(v19, "stealth") + column(v19, "defense-impairment"))
    assert column(v19, "defense-impairment") == ["Modify binary dirs"]  # T1222.002
    # The other columns do not move.
    for col in v18.columns:
        if col.tactic.shortname != "defense-evasion":
            assert column(v19, col.tactic.shortname) == [c.rule for c in col.cells]


def test_upstream_eight_columns_match_the_reference_counts() -> None:
    matrix = matrix_of_files(upstream(), "18.1", SEED_COLUMNS)
    assert [c.tactic.shortname for c in matrix.columns] == list(SEED_COLUMNS)
    assert [len(c.cells) for c in matrix.columns] == [26, 16, 13, 7, 9, 5, 1, 5]  # reference §3.4
    assert len({cell.rule for c in matrix.columns for cell in c.cells}) == 81


def test_unmapped_and_uncovered() -> None:
    text = rule("Tagged", ["mitre_discovery"]) + rule("Untagged", []) + rule("Off", ["network"], enabled=False)
    matrix = matrix_of_files([("r.yaml", text)], "18.1")
    assert [(c.rule, c.enabled) for c in matrix.unmapped] == [("Untagged", True), ("Off", False)]
    assert "Discovery" not in [t.name for t in matrix.uncovered()]
    assert len(matrix.uncovered()) == len(matrix.columns) - 1
    upstream19 = matrix_of_files(upstream(), "19")
    assert [t.name for t in upstream19.uncovered()] == ["Resource Development"]


def test_unknown_columns_are_refused() -> None:
    with pytest.raises(ValueError, match="nonsense"):
        matrix_of_files([("r.yaml", rule("A", []))], "19", ["execution", "nonsense"])
    with pytest.raises(ValueError):
        matrix_of_files([("r.yaml", rule("A", []))], "19", ["defense-evasion"])  # not a v19 tactic
    matrix = matrix_of_files([("r.yaml", rule("A", []))], "19", ["TA0005", "Execution", "command_and_control"])
    assert [c.tactic.shortname for c in matrix.columns] == ["execution", "stealth", "command-and-control"]


# -- formats ------------------------------------------------------------------------------------------------------


def test_json_shape_and_round_trip() -> None:
    matrix = matrix_of_files(upstream(), "19")
    data = json.loads(render_matrix(matrix, "json"))
    assert data["schema"] == MATRIX_SCHEMA and data["attack_version"] == "19"
    assert set(data) == {"schema", "attack_version", "tactics", "unmapped"}
    assert [t["id"] for t in data["tactics"]] == [t.id for t in load_catalog("19").tactics]
    for tactic in data["tactics"]:
        assert set(tactic) == {"id", "name", "shortname", "rules"}
        for cell in tactic["rules"]:
            assert set(cell) == {"name", "techniques", "maturity", "file", "line", "enabled"}
            assert isinstance(cell["name"], str) and isinstance(cell["enabled"], bool)
            assert all(re.fullmatch(r"T\d{4}(\.\d{3})?", t) for t in cell["techniques"])
            assert cell["maturity"] in ("stable", "incubating", "sandbox", "deprecated", None)
            assert cell["file"] in UPSTREAM_FILES and isinstance(cell["line"], int)
    assert Matrix.from_json(data) == matrix
    with pytest.raises(ValueError):
        Matrix.from_json({**data, "schema": "other"})


def test_markdown_has_the_tactics_as_columns_in_attack_order() -> None:
    matrix = matrix_of_files(upstream(), "19")
    body = render_matrix(matrix, "markdown", "https://github.com/falcosecurity/rules/blob/main/rules")
    lines = body.splitlines()
    header = next(line for line in lines if line.startswith("| ["))
    assert re.findall(r"\[([^\]]+)\]\(", header) == [t.name for t in load_catalog("19").tactics]
    width = header.count("|")
    rows = [line for line in lines if line.startswith("|")]
    assert all(row.count("|") - row.count("\\|") == width for row in rows)
    assert "(https://github.com/falcosecurity/rules/blob/main/rules/falco_rules.yaml#L" in body
    assert "T1059.004" in body and "stable" in body


def test_markdown_escapes_rule_names() -> None:
    matrix = matrix_of_files([("r.yaml", rule(HOSTILE + " | [x](y)", ["mitre_execution"]))])
    body = render_matrix(matrix, "markdown")
    assert "<script>" not in body and "<b>" not in body and "&lt;script&gt;" in body
    assert "\\| \\[x\\]\\(y\\)" in body


class _Tree(HTMLParser):
    """Checks that every element is closed in order; collects the text and the scripts."""

    VOID = frozenset({"meta", "link", "br", "img", "hr", "input"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.hrefs.extend(v or "" for k, v in attrs if k == "href")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> _Tree:
    tree = _Tree()
    tree.feed(html)
    tree.close()
    assert tree.errors == [] and tree.stack == []
    return tree


def test_html_is_a_well_formed_page_and_escapes_a_hostile_rule_name() -> None:
    text = rule(HOSTILE, ["mitre_execution", "T1059"]) + rule(HOSTILE + " 2", [])
    matrix = matrix_of_files([("rules/a b&c_rules.yaml", text)])
    page = render_matrix(matrix, "html", 'https://example.com/x"y')
    assert page.startswith("<!DOCTYPE html>")
    tree = parse(page)
    assert tree.tags.count("script") == 0 and "b" not in tree.tags
    assert HOSTILE in "".join(tree.text)  # shown as text, not markup
    assert "&lt;script&gt;" in page and "<script>" not in page
    assert 'https://example.com/x"y/rules/a%20b%26c_rules.yaml#L1' in tree.hrefs
    assert '<meta name="viewport"' in page and ".frb-grid" in page  # the CSS is inlined
    assert "overflow-x: auto" in page and "@media (max-width:" in page  # scrolls, or stacks on a narrow screen


def test_html_shows_coverage_counts_and_links_to_lines() -> None:
    matrix = matrix_of_files(upstream(), "19")
    page = render_matrix(matrix, "html", "https://github.com/falcosecurity/rules/blob/main/rules")
    parse(page)
    assert "14 of 15 tactics have a rule." in page
    assert re.search(r'<span class="frb-count" title="26 rules">26</span>', page)
    assert 'href="https://github.com/falcosecurity/rules/blob/main/rules/falco_rules.yaml#L' in page
    assert "Tactics with no rule: Resource Development." in page
    without = render_matrix(matrix, "html")
    assert "github.com/falcosecurity/rules/blob" not in without


def test_the_grid_fragment_is_escaped_in_any_environment() -> None:
    import jinja2

    from bot.matrix_render import matrix_view
    from bot.render import TEMPLATES

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=False)  # an includer's own
    page = env.from_string('<div>{% include "matrix_grid.html.j2" %}</div>')
    matrix = matrix_of_files([("r.yaml", rule(HOSTILE, ["mitre_execution"]))])
    html = page.render(matrix_view=matrix_view(matrix))
    assert "<script>" not in html and "&lt;script&gt;" in html
    tree = parse(html)
    assert tree.tags[:2] == ["div", "section"]
    classes = re.findall(r'class="([^"]+)"', html)
    assert all(word.startswith("frb-") for c in classes for word in c.split())
    css = (Path(TEMPLATES) / "matrix.css").read_text(encoding="utf-8")
    selectors = re.findall(r"\.([a-z][a-z0-9-]*)", re.sub(r"/\*.*?\*/", "", css, flags=re.S))
    assert selectors and all(s.startswith("frb-") for s in selectors if not s[0].isdigit())


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError):
        render_matrix(matrix_of_files([("r.yaml", rule("A", []))]), "pdf")


# -- the command line ---------------------------------------------------------------------------------------------


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", "matrix", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip


def test_cli_json_markdown_and_html() -> None:
    files = [str(UPSTREAM / name) for name in UPSTREAM_FILES]
    proc = run("--format", "json", *files)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["schema"] == MATRIX_SCHEMA and data["attack_version"] == "19"
    proc = run("--attack-version", "18.1", "--columns", ",".join(SEED_COLUMNS), *files)
    assert proc.returncode == 0, proc.stderr
    header = next(line for line in proc.stdout.splitlines() if line.startswith("| ["))
    assert re.findall(r"\[([^\]]+)\]\(", header)[3] == "Defense Evasion"
    proc = run("--format", "html", "--link-base", "https://github.com/o/r/blob/main", *files)
    assert proc.returncode == 0, proc.stderr
    parse(proc.stdout)
    assert "https://github.com/o/r/blob/main/" in proc.stdout


def test_cli_exit_codes(tmp_path: Path) -> None:
    good = tmp_path / "falco_rules.yaml"
    good.write_text(rule("A", ["mitre_execution"]))
    bad = tmp_path / "bad_rules.yaml"
    bad.write_text("- rule: x\n  desc: y\n")
    assert run(str(good)).returncode == 0
    broken = run(str(good), str(bad))
    assert broken.returncode == 1 and broken.stdout == ""
    assert "LOAD_ERR_YAML_VALIDATE" in broken.stderr and "bad_rules.yaml" in broken.stderr
    missing = run(str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    assert run("--columns", "nonsense", str(good)).returncode == 2
    assert run("--attack-version", "17", str(good)).returncode == 2
    assert run("--format", "pdf", str(good)).returncode == 2
    assert run().returncode == 2


# -- the review ---------------------------------------------------------------------------------------------------


BASE = rule("Old", ["maturity_stable", "mitre_execution", "T1059"]) + rule("Kept", ["mitre_discovery"])


def snapshot(head: str) -> PullRequestSnapshot:
    files = (ChangedFile("rules/falco_rules.yaml", "modified", BASE, head),)
    return PullRequestSnapshot("o/r", 1, "t", "", None, "main", "main", "a" * 40, "b" * 40, files=files)


def test_report_attack_lands_added_and_changed_rules() -> None:
    head = (
        rule("Old", ["maturity_stable", "mitre_execution", "mitre_persistence", "T1059"])
        + rule("Kept", ["mitre_discovery"])
        + rule("New <b>", ["maturity_stable", "mitre_defense_evasion", "T1222.002"])
        + rule("Plain", [])
    )
    policy, _ = resolve_policy(None)
    report = review(snapshot(head), policy)
    attack: dict[str, Any] = report.to_json()["attack"]
    assert attack["attack_version"] == "19"
    landing = {r["rule"]: r for r in attack["landing"]}
    assert set(landing) == {"Old", "New <b>", "Plain"}
    assert landing["Old"]["status"] == "changed" and landing["Old"]["tactics"] == ["Execution", "Persistence"]
    assert landing["New <b>"] == {"rule": "New <b>", "status": "added", "tactics": ["Defense Impairment"],
                                  "techniques": ["T1222.002"], "maturity": "stable",
                                  "file": "rules/falco_rules.yaml", "line": 13}  # fmt: skip
    assert landing["Plain"]["tactics"] == []
    assert "Resource Development" in attack["uncovered"] and "Execution" not in attack["uncovered"]
    assert Matrix.from_json(attack["matrix"]).cell("Kept") is not None
    body = render_comment(report, link_base="https://github.com/o/r/blob/" + "b" * 40)
    section = body[body.index("#### MITRE ATT&CK") :]
    assert "New &lt;b&gt;" in section and "<b>" not in section
    assert "| Defense Impairment | T1222.002 | stable |" in section
    assert "rules/falco_rules.yaml#L13" in section and "Tactics no rule of the repository covers:" in section


def test_report_attack_follows_the_pinned_version_and_stays_out_of_unrelated_prs() -> None:
    head = BASE + rule("New", ["mitre_defense_evasion", "T1070"])
    policy, _ = resolve_policy(None)
    pinned = type(policy)({**policy.data, "attack": {"version": "18.1"}})
    attack = review(snapshot(head), pinned).attack
    assert attack is not None and attack["landing"][0]["tactics"] == ["Defense Evasion"]
    unrelated = PullRequestSnapshot("o/r", 1, "t", "", None, "main", "main", "a" * 40, "b" * 40,
                                    files=(ChangedFile("README.md", "modified", "a", "b"),))  # fmt: skip
    report = review(unrelated, policy)
    assert report.attack is None and "MITRE ATT&CK" not in render_comment(report)
    unchanged = review(snapshot(BASE), policy)
    assert unchanged.attack is not None and unchanged.attack["landing"] == []
    assert "MITRE ATT&CK" not in render_comment(unchanged)


def test_report_attack_in_check_json(tmp_path: Path) -> None:
    from tests.gitrepos import ALICE, Repo

    repo = Repo(tmp_path / "repo")
    repo.write("rules/falco_rules.yaml", BASE.replace("Old", "Base") + rule("Shell", ["mitre_execution", "T1059"]))
    repo.commit("Add a rule", ALICE)
    proc = subprocess.run([sys.executable, "-m", "bot", "check", "--repo", str(repo.path), "--format", "json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    attack = json.loads(proc.stdout)["attack"]
    assert attack["attack_version"] == "19"
    assert [(r["rule"], r["status"], r["tactics"]) for r in attack["landing"]] == [
        ("Base", "changed", ["Execution"]),
        ("Kept", "added", ["Discovery"]),
        ("Shell", "added", ["Execution"]),
    ]
    assert attack["matrix"]["schema"] == MATRIX_SCHEMA
