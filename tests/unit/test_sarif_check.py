"""`check --format sarif|github`, `validate --format github` and `tags`: what code scanning and a workflow log get."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from bot.formats import workflow_command
from tests.gitrepos import ALICE, BASE_RULES, RULE, Repo

ROOT = Path(__file__).resolve().parents[2]
SARIF_SCHEMA = json.loads((ROOT / "tests" / "schemas" / "sarif-2.1.0.json").read_text())
NEW_RULE = RULE.format(name="New", cond="evt.type = execve and proc.nmae = x").replace(
    "mitre_execution", "mitre_executon"
)
QUIET = "checks:\n  linked_issue: {enabled: false}\n  signatures: {enabled: false}\n  agreement: {enabled: false}\n"


def bot(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          check=False, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})  # fmt: skip


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    """`feature` adds a rule with a misspelled field and a misspelled tactic, in an unsigned commit with no sign-off."""
    repo = Repo(tmp_path / "r")
    (repo.path / "README.md").write_text("rules\n")
    repo.write("rules/falco_rules.yaml", BASE_RULES + NEW_RULE)
    repo.commit("Add a rule", ALICE)
    return repo


def results_by_rule(log: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    out = {}
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        out[result["ruleId"]] = result
    return out


def test_check_sarif_is_valid_and_locates_every_finding(repo: Repo) -> None:
    proc = bot("check", "--repo", str(repo.path), "--format", "sarif")
    assert proc.returncode == 1, proc.stderr
    log = json.loads(proc.stdout)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)
    run = log["runs"][0]
    assert run["properties"]["conclusion"] == "failure"
    assert run["invocations"] == [{"executionSuccessful": True, "exitCode": 1}]
    statuses = {c["id"]: c["status"] for c in run["properties"]["checks"]}
    assert statuses["rules"] == "fail" and statuses["dco"] == "fail"
    results = results_by_rule(log)
    assert set(results) >= {"LOAD_ERR_COMPILE_CONDITION", "TAGS_TACTIC_UNKNOWN", "TAGS_MATURITY_NEW_STABLE",
                            "DCO_MISSING", "SIGNATURE_UNSIGNED", "ISSUE_NO_REFERENCE"}  # fmt: skip
    compile_error = results["LOAD_ERR_COMPILE_CONDITION"]
    assert compile_error["level"] == "error"
    assert compile_error["message"]["text"].startswith("filter_check called with nonexistent field proc.nmae")
    where = {"artifactLocation": {"uri": "rules/falco_rules.yaml"}, "region": {"startLine": 9, "startColumn": 36}}
    assert compile_error["locations"] == [{"physicalLocation": where}]
    tactic = results["TAGS_TACTIC_UNKNOWN"]
    assert tactic["locations"][0]["physicalLocation"]["region"] == {"startLine": 12, "startColumn": 53}
    assert "Write `mitre_execution` instead of `mitre_executon`." in tactic["message"]["text"]
    assert results["TAGS_MATURITY_NEW_STABLE"]["level"] == "warning"
    head = repo.git("rev-parse", "HEAD")
    dco = results["DCO_MISSING"]
    # A commit's finding names the commit and is shown on the change's rules file (code scanning needs a file).
    assert dco["locations"] == [{"physicalLocation": {"artifactLocation": {"uri": "rules/falco_rules.yaml"}},
                                 "logicalLocations": [{"name": head, "fullyQualifiedName": f"dco/{head}",
                                                       "kind": "resource"}]}]  # fmt: skip
    assert dco["properties"] == {"check": "dco", "commit": head}
    issue = results["ISSUE_NO_REFERENCE"]["locations"][0]
    assert issue["logicalLocations"][0]["name"] == "pull-request"


def test_check_sarif_of_a_clean_review_has_no_results(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "clean")
    good = RULE.format(name="New", cond="evt.type = execve").replace("maturity_stable", "maturity_incubating")
    repo.write("rules/falco-incubating_rules.yaml", good)
    repo.commit("Add a rule", ALICE, signoff=ALICE)
    policy = tmp_path / "policy.yml"
    policy.write_text(QUIET)
    proc = bot("check", "--repo", str(repo.path), "--policy", str(policy), "--format", "sarif")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = json.loads(proc.stdout)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)
    assert log["runs"][0]["results"] == [] and log["runs"][0]["properties"]["conclusion"] == "success"


def test_check_github_annotations_put_located_findings_first(repo: Repo) -> None:
    proc = bot("check", "--repo", str(repo.path), "--format", "github")
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0] == (
        "::error file=rules/falco_rules.yaml,line=9,col=36,title=Falco rules%3A LOAD_ERR_COMPILE_CONDITION::"
        "filter_check called with nonexistent field proc.nmae%0ARun `falco-rules-bot validate rules/falco_rules.yaml`"
        " locally to see every problem with its line."
    )
    assert any(line.startswith("::warning file=rules/falco_rules.yaml,line=12,col=10,title=Tags and style%3A "
                               "TAGS_MATURITY_NEW_STABLE::Rule 'New' is new") for line in lines)  # fmt: skip
    located = [i for i, line in enumerate(lines) if " file=" in line]
    unlocated = [i for i, line in enumerate(lines) if line.startswith("::error title=")]
    assert located and unlocated and max(located) < min(unlocated)
    assert any(line.startswith("::error title=DCO sign-off%3A DCO_MISSING::Commit ") for line in lines)
    assert all(line.startswith(("::error ", "::warning ", "::notice ")) for line in lines)


def test_validate_github_annotations(tmp_path: Path) -> None:
    path = tmp_path / "broken_rules.yaml"
    path.write_text("- rule: Bad\n  desc: d.\n  condition: proc.nmae = cat\n  output: x\n  priority: LOUD\n")
    proc = bot("validate", "--format", "github", "broken_rules.yaml", cwd=tmp_path)
    assert proc.returncode == 1
    assert (
        proc.stdout == "::error file=broken_rules.yaml,line=5,col=13,title=LOAD_ERR_YAML_VALIDATE::Invalid priority\n"
    )
    missing = bot("validate", "--format", "github", "broken_rules.yaml", cwd=ROOT / "config")
    assert (missing.returncode, missing.stdout) == (2, "")
    assert "cannot read broken_rules.yaml: No such file or directory" in missing.stderr


def test_validate_sort_loads_the_stable_file_first(tmp_path: Path) -> None:
    (tmp_path / "falco_rules.yaml").write_text("- list: shells\n  items: [bash]\n")
    (tmp_path / "falco-incubating_rules.yaml").write_text(
        "- list: shells\n  items: [zsh]\n  override:\n    items: append\n"
    )
    files = ["falco-incubating_rules.yaml", "falco_rules.yaml"]  # as pre-commit passes them: sorted by name
    assert bot("validate", *files, cwd=tmp_path).returncode == 1  # in the order given, nothing to append to yet
    sorted_run = bot("validate", "--sort", *files, cwd=tmp_path)
    assert sorted_run.returncode == 0, sorted_run.stdout
    verdicts = sorted_run.stdout.splitlines()[-2:]  # one per file, in the order loaded
    assert [line.split(":")[0] for line in verdicts] == ["falco_rules.yaml", "falco-incubating_rules.yaml"]
    assert verdicts[1] == "falco-incubating_rules.yaml: Ok (0 errors, 0 warnings)"


def test_tags_sarif_of_uncommitted_changes(repo: Repo) -> None:
    repo.git("checkout", "-q", "main")
    repo.write("rules/falco_rules.yaml", BASE_RULES + NEW_RULE)
    proc = bot("tags", "--format", "sarif", "rules/falco_rules.yaml", cwd=repo.path)
    assert proc.returncode == 1, proc.stderr
    log = json.loads(proc.stdout)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)
    assert set(results_by_rule(log)) == {"TAGS_TACTIC_UNKNOWN", "TAGS_MATURITY_NEW_STABLE"}
    unknown_base = bot("tags", "--base", "nosuchref", "rules/falco_rules.yaml", cwd=repo.path)
    assert unknown_base.returncode == 2 and "unknown revision nosuchref" in unknown_base.stderr


def test_workflow_commands_escape_what_would_end_them() -> None:
    assert workflow_command("notice", "50% done\r\nnext", "a: b, c", "dir/x,y.yaml", 3, 4) == (
        "::notice file=dir/x%2Cy.yaml,line=3,col=4,title=a%3A b%2C c::50%25 done%0D%0Anext"
    )
    assert workflow_command("warning", "m", "t", None, 3, 4) == "::warning title=t::m"
