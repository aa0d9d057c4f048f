"""`falco-rules-bot validate` as a contributor runs it: real processes, real files, every format."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[2]
SARIF_SCHEMA = json.loads((ROOT / "tests" / "schemas" / "sarif-2.1.0.json").read_text())
UPSTREAM = [ROOT / "config" / "upstream" / n for n in ("falco_rules.yaml", "falco-incubating_rules.yaml")]

BROKEN = """\
- macro: opened
  condition: evt.type = open

- rule: Bad field
  desc: A rule with a typo in a field.
  condition: >
    opened and
    proc.nmae = cat
  output: "cat opened a file (file=%fd.name)"
  priority: WARNING

- rule: Bad priority
  desc: d.
  condition: evt.type = close
  output: x
  priority: LOUD
"""


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    path = tmp_path / "broken_rules.yaml"
    path.write_text(BROKEN)
    return path


def test_upstream_files_load_clean() -> None:
    proc = run("validate", *map(str, UPSTREAM))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "falco_rules.yaml: Ok (0 errors, 0 warnings)" in proc.stdout


def test_text_lists_every_error_with_a_caret(broken: Path) -> None:
    proc = run("validate", str(broken))
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    field_line = next(i for i, line in enumerate(lines) if "nonexistent field proc.nmae" in line)
    assert lines[field_line].startswith(f"{broken}:8:5: error: LOAD_ERR_COMPILE_CONDITION:")
    assert lines[field_line + 1].strip() == "proc.nmae = cat"
    assert lines[field_line + 2].strip() == "^"
    assert lines[field_line + 1].index("proc") == lines[field_line + 2].index("^")
    assert any(f"{broken}:16:13: error: LOAD_ERR_YAML_VALIDATE: Invalid priority" in line for line in lines)
    assert lines[-1] == f"{broken}: Invalid (2 errors, 0 warnings)"


def test_falco_json_stops_at_the_first_error_like_falco(broken: Path) -> None:
    proc = run("validate", "--format", "falco-json", str(broken))
    assert proc.returncode == 1
    (result,) = json.loads(proc.stdout)["falco_load_results"]
    assert result["name"] == str(broken)
    assert result["successful"] is False
    (error,) = result["errors"]
    assert error["code"] == "LOAD_ERR_YAML_VALIDATE"  # the reader stops before the compiler sees the bad field
    assert error["message"] == "Invalid priority"
    assert error["codedesc"] == "Error validating internal structure of YAML file"
    locations = error["context"]["locations"]
    assert [(loc["item_type"], loc["item_name"]) for loc in locations] == [
        ("rule", "Bad priority"),
        ("rule priority", ""),
    ]
    assert locations[0]["position"] == {
        "name": str(broken),
        "line": 11,
        "column": 2,
        "offset": locations[0]["position"]["offset"],
    }


def test_json_lists_findings(broken: Path) -> None:
    proc = run("validate", "--format", "json", str(broken))
    report = json.loads(proc.stdout)
    assert report["schema"] == "falco-rules-bot/validate/v1"
    assert report["successful"] is False
    codes = [(f["code"], f["item_name"], f["line"]) for f in report["findings"]]
    assert ("LOAD_ERR_COMPILE_CONDITION", "Bad field", 8) in codes
    assert ("LOAD_ERR_YAML_VALIDATE", "Bad priority", 16) in codes


def test_sarif_validates_against_the_official_schema(broken: Path) -> None:
    proc = run("validate", "--format", "sarif", str(broken))
    log = json.loads(proc.stdout)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)
    results = log["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == {"LOAD_ERR_COMPILE_CONDITION", "LOAD_ERR_YAML_VALIDATE"}
    assert all(r["level"] == "error" for r in results)


def test_sarif_of_clean_files_is_valid_and_empty() -> None:
    log = json.loads(run("validate", "--format", "sarif", str(UPSTREAM[0])).stdout)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)
    assert log["runs"][0]["results"] == []


def test_files_load_in_order_into_one_rule_set(tmp_path: Path) -> None:
    base = tmp_path / "base.yaml"
    base.write_text("- list: shells\n  items: [bash]\n")
    extra = tmp_path / "extra.yaml"
    extra.write_text(
        "- list: shells\n  items: [zsh]\n  override:\n    items: append\n"
        "- rule: Shell\n  desc: d.\n  condition: evt.type = execve and proc.name in (shells)\n"
        "  output: x\n  priority: INFO\n"
    )
    assert run("validate", str(base), str(extra)).returncode == 0
    alone = json.loads(run("validate", "--format", "falco-json", str(extra)).stdout)
    assert alone["falco_load_results"][0]["errors"][0]["message"] == (
        "List uses 'append' or 'override.items: append' but no list by that name already exists"
    )


def test_engine_version_option(tmp_path: Path) -> None:
    rules = tmp_path / "r.yaml"
    rules.write_text("- required_engine_version: 0.57.0\n")
    assert run("validate", str(rules)).returncode == 0
    proc = run("validate", "--format", "falco-json", "--engine-version", "0.50.0", str(rules))
    assert proc.returncode == 1
    message = json.loads(proc.stdout)["falco_load_results"][0]["errors"][0]["message"]
    assert message == "Rules require engine version 0.57.0, but engine version is 0.50.0"


def test_plugin_option_adds_a_source(tmp_path: Path) -> None:
    rules = tmp_path / "r.yaml"
    rules.write_text(
        "- rule: R\n  desc: d.\n  condition: ka.verb = get\n  output: x\n  priority: INFO\n  source: k8s_audit\n"
    )
    without = json.loads(run("validate", "--format", "json", str(rules)).stdout)
    assert [f["code"] for f in without["findings"]] == ["LOAD_UNKNOWN_SOURCE"]
    with_plugin = json.loads(run("validate", "--format", "json", "--plugin", "k8saudit", str(rules)).stdout)
    assert with_plugin["findings"] == []


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    proc = run("validate", str(tmp_path / "missing.yaml"))
    assert proc.returncode == 2
    assert "cannot read" in proc.stderr
    assert run("validate", "--format", "xml", "x").returncode == 2
    assert run("frobnicate").returncode == 2
    unknown = run("validate", "--plugin", "nope", str(UPSTREAM[0]))
    assert unknown.returncode == 2 and "unknown plugin 'nope'" in unknown.stderr


def test_version() -> None:
    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("falco-rules-bot ")


def test_validate_path_imports_no_server_sdk(broken: Path) -> None:
    code = (
        "import sys\nfrom bot.cli import main\nmain(['validate', sys.argv[1]])\n"
        "sdks = ('fastapi', 'github', 'git', 'gnupg', 'sqlalchemy', 'huey', 'jinja2')\n"
        "print(sorted(m for m in sdks if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(broken)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert proc.stdout.strip().splitlines()[-1] == "[]"
