"""A dashboard's worth of data, stored through the store's public methods: installations, reviews, a rule matrix."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from bot.matrix import matrix_of_files
from bot.models import CheckResult, Finding, Report
from bot.settings import Settings, load_settings
from bot.store import Delivery, InstallationUpdate, ReviewRecord, Store
from tests.appserver import Running as Running  # the browser tests run the app with it

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "dashboard-token-for-tests"
HOSTILE_REPO = 'evil/<b onmouseover="alert(1)">rules'
HOSTILE_RULE = '<img src=x onerror=alert("rule")> Shell in container'
HOSTILE_ACCOUNT = "<b>mallory</b>"
NOW = 1_796_000_000.0  # 2026-11-30 some time in the afternoon, UTC
UPSTREAM = ("falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml")
HOSTILE_RULES_FILE = f"""
- rule: '{HOSTILE_RULE}'
  desc: a rule whose name is HTML
  condition: evt.type = execve and proc.name = bash
  output: a shell (user=%user.name)
  priority: WARNING
  tags: [maturity_sandbox, mitre_execution, T1059]
"""


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings of a serve process with the dashboard protected by TOKEN, no worker, no GitHub."""
    values: dict[str, Any] = {"data_dir": str(tmp_path), "github_webhook_secret": "secret", "embedded_worker": False,
                              "database_url": None, "queue_path": None, "redis_url": None, "github_app_id": 1,
                              "github_api_url": "https://api.github.com", "dashboard_token": TOKEN}  # fmt: skip
    return load_settings(**{**values, **overrides})


@cache
def matrix_json() -> dict[str, Any]:
    """The matrix of the upstream rules plus one rule with a hostile name, as stored in a report."""
    files = [(f"rules/{name}", (ROOT / "config" / "upstream" / name).read_text(encoding="utf-8")) for name in UPSTREAM]
    files.append(("rules/evil_rules.yaml", HOSTILE_RULES_FILE))
    return matrix_of_files(files).to_json()


def report(repo: str, number: int, head: str, failing: bool, with_matrix: bool = True) -> dict[str, Any]:
    """A realistic Report JSON: the workflow checks, one failing with findings when `failing`."""
    dco = CheckResult("dco", "DCO sign-off", "pass", "Every commit is signed off.")
    rules_findings = (
        Finding("error", "LOAD_ERR_COMPILE_CONDITION", "unknown field proc.nme <in> condition", "Use proc.name.",
                file="rules/falco_rules.yaml", line=42, column=14),
        Finding("warning", "LOAD_UNUSED_MACRO", "macro <b>never_used</b> is not used", None,
                file="rules/falco_rules.yaml", line=7),
    )  # fmt: skip
    rules = (CheckResult("rules", "Falco rules", "fail", "1 error, 1 warning in the rules files.", rules_findings)
             if failing else CheckResult("rules", "Falco rules", "pass", "The rules files load cleanly."))  # fmt: skip
    signatures = CheckResult("signatures", "GPG signatures", "pass", "Every commit is signed and verified.")
    if failing:
        signatures = CheckResult("signatures", "GPG signatures", "warn", "1 commit is signed with an SSH key.", (
            Finding("warning", "SSH_SIGNATURE", "commit abc is signed with SSH",
                    "Sign with GPG:\n    git commit -S --amend", commit="abcdef0123456789"),))  # fmt: skip
    attack = None
    if with_matrix:
        m = matrix_json()
        landing = [{"rule": HOSTILE_RULE, "status": "added", "tactics": ["Execution"], "techniques": ["T1059"],
                    "maturity": "sandbox", "file": "rules/evil_rules.yaml", "line": 2},
                   {"rule": "Terminal shell in container", "status": "changed", "tactics": ["Execution"],
                    "techniques": ["T1059"], "maturity": "stable", "file": "rules/falco_rules.yaml",
                    "line": 400}]  # fmt: skip
        uncovered = [t["name"] for t in m["tactics"] if not t["rules"]]
        attack = {"attack_version": m["attack_version"], "landing": landing, "uncovered": uncovered, "matrix": m}
    data = Report(repo, number, base_of(head), head, (dco, rules, signatures), attack=attack).to_json()
    return data


def base_of(head: str) -> str:
    """The base commit of the seeded review whose head is `head` (the default branch the matrix shows)."""
    return "ba5e" + head[4:]


def seed(store: Store) -> dict[str, int]:
    """Installations and reviews; the ids of the reviews by name."""
    store.migrate()
    installs = [
        InstallationUpdate(11, "falcosecurity", ("falcosecurity/rules",), suspended=False),
        InstallationUpdate(12, HOSTILE_ACCOUNT, (HOSTILE_REPO,), suspended=True),
    ]
    for i, update in enumerate(installs):
        store.record_delivery(Delivery(f"inst-{i}", "installation", "created", None, update.id), installation=update)
    rows = [
        ("old", "falcosecurity/rules", 7, "1" * 40, False, False),
        ("failing", "falcosecurity/rules", 12, "c0ffee" + "2" * 34, True, True),
        ("hostile", HOSTILE_REPO, 3, "3" * 40, False, True),
        ("latest", "falcosecurity/rules", 13, "dead" + "4" * 36, False, True),
    ]
    for offset, (_name, repo, number, head, failing, with_matrix) in enumerate(rows):
        data = report(repo, number, head, failing, with_matrix)
        record = ReviewRecord(None, repo, number, head, base_of(head), data["conclusion"], data)
        store.record_review(record, now=NOW + 60 * offset)
    ids = {name: index + 1 for index, (name, *_rest) in enumerate(rows)}
    return ids
