"""action.yml: its structure, and its shell steps run by bash as a runner runs them, on a real repository."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.gitrepos import ALICE, BASE_RULES, RULE, Repo

ROOT = Path(__file__).resolve().parents[2]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
STEPS = ACTION["runs"]["steps"]
SARIF_SCHEMA = json.loads((ROOT / "tests" / "schemas" / "sarif-2.1.0.json").read_text())
WHEELHOUSE = Path(os.environ.get("FRB_WHEELHOUSE", ROOT / ".venv" / "wheelhouse"))
EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")
BAD_RULE = RULE.format(name="New", cond="evt.type = execve and proc.nmae = x")
GOOD_RULE = RULE.format(name="New", cond="evt.type = execve").replace("maturity_stable", "maturity_incubating")


def evaluate(text: str, context: dict[str, Any]) -> str:
    """The `${{ a.b.c }}` property lookups of a value, as the runner substitutes them (an unknown one fails)."""

    def lookup(match: re.Match[str]) -> str:
        node: Any = context
        for part in match.group(1).split("."):
            node = node[part]
        return str(node)

    return EXPRESSION.sub(lookup, text)


def test_structure() -> None:
    assert ACTION["runs"]["using"] == "composite"
    assert set(ACTION["inputs"]) == {"base", "head", "policy", "issues", "format", "python-version", "upload-sarif",
                                     "sarif-file"}  # fmt: skip
    uses = {step["uses"].split("@")[0]: step for step in STEPS if "uses" in step}
    assert uses["actions/setup-python"]["with"]["python-version"] == "${{ inputs.python-version }}"
    upload = uses["github/codeql-action/upload-sarif"]
    assert upload["uses"].endswith("@v3") and "inputs.upload-sarif == 'true'" in upload["if"]
    assert upload["if"].startswith("always()")  # the SARIF is uploaded even when the review failed
    assert upload["with"]["sarif_file"] == "${{ steps.check.outputs.sarif-file }}"
    runs = [step for step in STEPS if "run" in step]
    assert [step["name"] for step in runs] == ["Install falco-rules-bot", "Review the change",
                                               "Fail on the review's verdict"]  # fmt: skip
    for step in runs:
        assert step["shell"] == "bash"
        assert "${{" not in step["run"]  # values come through env:, so a pull request title cannot inject commands
    assert STEPS.index(upload) < STEPS.index(runs[-1])  # the job fails last, after the upload


@pytest.fixture(scope="module")
def runner_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment standing for setup-python's interpreter, with nothing installed yet."""
    if not any(WHEELHOUSE.glob("setuptools-*.whl")):
        if os.environ.get("FRB_REQUIRE_PRECOMMIT") == "1":
            pytest.fail(f"no wheelhouse at {WHEELHOUSE} (FRB_REQUIRE_PRECOMMIT=1)")
        pytest.skip(f"no wheelhouse at {WHEELHOUSE} for offline installs (make venv fills it)")
    venv = tmp_path_factory.mktemp("runner") / "python"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    return venv / "bin"


def run_action(repo: Repo, bindir: Path, tmp_path: Path, inputs: dict[str, str],
               event: dict[str, Any]) -> tuple[list[subprocess.CompletedProcess[str]], dict[str, str]]:  # fmt: skip
    """Every `run:` step in order, by bash in the repository, with the runner's files and variables."""
    files = {name: tmp_path / name for name in ("summary.md", "output", "env", "path")}
    for path in files.values():
        path.write_text("")
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    defaults = {name: spec.get("default", "") for name, spec in ACTION["inputs"].items()}
    github = {"action_path": str(ROOT), "event": event}
    resolved = {name: evaluate(str(value), {"github": github}) for name, value in {**defaults, **inputs}.items()}
    steps_outputs: dict[str, dict[str, dict[str, str]]] = {}
    procs = []
    for step in STEPS:
        if "run" not in step:
            continue
        context = {"github": github, "inputs": resolved, "steps": steps_outputs}
        env = {"PATH": f"{bindir}:/usr/bin:/bin", "HOME": str(tmp_path), "RUNNER_TEMP": str(temp),
               "GITHUB_STEP_SUMMARY": str(files["summary.md"]), "GITHUB_OUTPUT": str(files["output"]),
               "GITHUB_ENV": str(files["env"]), "GITHUB_PATH": str(files["path"]), "GITHUB_ACTION_PATH": str(ROOT),
               "GITHUB_ACTIONS": "true", "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(WHEELHOUSE)}  # fmt: skip
        env.update({key: evaluate(str(value), context) for key, value in step.get("env", {}).items()})
        files["output"].write_text("")
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=repo.path,
                              env=env, capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
        procs.append(proc)
        outputs = dict(line.split("=", 1) for line in files["output"].read_text().splitlines() if "=" in line)
        if "id" in step:
            steps_outputs[step["id"]] = {"outputs": outputs}
    return procs, {"summary": files["summary.md"].read_text(), **steps_outputs.get("check", {}).get("outputs", {})}


def pull_request(repo: Repo, title: str, body: str) -> dict[str, Any]:
    return {"pull_request": {"base": {"sha": repo.git("rev-parse", "main")}, "title": title, "body": body,
                             "head": {"sha": repo.git("rev-parse", "feature")}},
            "repository": {"default_branch": "main"}}  # fmt: skip


def test_a_failing_review_annotates_summarises_writes_sarif_and_fails(tmp_path: Path, runner_python: Path) -> None:
    repo = Repo(tmp_path / "rules-repo")
    repo.write("rules/falco_rules.yaml", BASE_RULES + BAD_RULE)
    repo.commit("Add a rule", ALICE)
    event = pull_request(repo, "New rule", "Fixes #12")
    (install, review, verdict), outputs = run_action(repo, runner_python, tmp_path, {"issues": "#12=open"}, event)
    assert install.returncode == 0, install.stdout + install.stderr
    assert review.returncode == 0, review.stderr  # the review step records the verdict; the last step fails
    assert outputs["exit-code"] == "1" and verdict.returncode == 1
    assert outputs["summary"].startswith("<!-- falco-rules-bot:review -->\n")
    assert "| Linked issue | ✅ pass |" in outputs["summary"] and "| DCO sign-off | ❌ fail |" in outputs["summary"]
    annotations = review.stdout.splitlines()
    assert annotations[0].startswith(
        "::error file=rules/falco_rules.yaml,line=9,col=36,title=Falco rules%3A LOAD_ERR_COMPILE_CONDITION::"
        "filter_check called with nonexistent field proc.nmae"
    )
    assert any(line.startswith("::error title=DCO sign-off%3A DCO_MISSING::") for line in annotations)
    sarif = json.loads((repo.path / outputs["sarif-file"]).read_text())
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(sarif)
    assert outputs["sarif-file"] == "falco-rules-bot.sarif"
    assert {r["ruleId"] for r in sarif["runs"][0]["results"]} >= {"LOAD_ERR_COMPILE_CONDITION", "DCO_MISSING"}


def test_a_good_review_passes_with_the_repositorys_policy(tmp_path: Path, runner_python: Path) -> None:
    repo = Repo(tmp_path / "rules-repo")
    (repo.path / ".github").mkdir()
    (repo.path / ".github" / "falco-rules-bot.yml").write_text(
        "checks:\n  signatures: {enabled: false}\n  agreement: {enabled: false}\n"
    )
    repo.write("rules/falco-incubating_rules.yaml", GOOD_RULE)
    repo.commit("Add a rule", ALICE, signoff=ALICE)
    event = pull_request(repo, "New rule", "Fixes #12\n$(touch pwned) `touch pwned`")
    inputs = {"issues": "#12=open", "format": "text", "sarif-file": "out/review.sarif"}
    (repo.path / "out").mkdir()
    (install, review, verdict), outputs = run_action(repo, runner_python, tmp_path, inputs, event)
    assert install.returncode == 0, install.stdout + install.stderr
    assert (outputs["exit-code"], verdict.returncode) == ("0", 0), review.stdout + review.stderr
    assert "[PASS] Linked issue" in review.stdout and "[PASS] Tags and style" in review.stdout
    assert "Signed commits" not in outputs["summary"]  # the repository's policy turned it off
    sarif = json.loads((repo.path / "out" / "review.sarif").read_text())
    assert sarif["runs"][0]["results"] == [] and sarif["runs"][0]["properties"]["conclusion"] == "success"
    assert not (repo.path / "pwned").exists()
