"""The published docs agree with the program: the configuration reference is up to date and complete, and real
reports of `check` follow the published Report schema."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import jsonschema
import pytest
import yaml

from bot.gpg import gpg_available
from bot.models import CHECK_IDS
from bot.policy import CHOICES, TAG_KINDS
from bot.settings import Settings
from tests.gitrepos import ALICE, BASE_RULES, RULE, Repo
from tests.gpgkeys import Key, make_key

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "configuration.md"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_config_docs", ROOT / "scripts" / "build_config_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


build = _script()


def test_configuration_reference_is_up_to_date() -> None:
    expected = build.render()
    actual = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    assert actual == expected, "docs/configuration.md is out of date: run `python scripts/build_config_docs.py`"


def test_check_mode_of_the_script_agrees() -> None:
    proc = subprocess.run([sys.executable, "scripts/build_config_docs.py", "--check"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def _rows(text: str) -> dict[str, list[str]]:
    """The table rows of the document by their first cell (without backticks)."""
    rows = {}
    for line in text.splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            rows[cells[0].strip("`")] = cells
    return rows


def _leaves(data: dict, prefix: str = "") -> dict[str, object]:  # type: ignore[type-arg]
    out: dict[str, object] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_leaves(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def test_every_policy_key_has_its_row_default_and_allowed_values() -> None:
    rows = _rows(build.render())
    leaves = _leaves(yaml.safe_load((ROOT / "config" / "defaults.yml").read_text()))
    assert len(leaves) > 40
    for path, default in leaves.items():
        assert path in rows, path
        shown = rows[path][1].strip("`").strip()
        assert yaml.safe_load(shown.replace("\\|", "|")) == default, path
    assert rows["checks.dco.mode"][2] == "`identity`, `email-only`, `presence`"
    assert rows["checks.signatures.severity"][2] == "`error`, `warning`"
    for kind in TAG_KINDS:
        assert rows[f"checks.tags.{kind}"][2] == "`error`, `warning`, `notice`, `off`"
    for key in CHOICES:
        if "*" not in key:
            assert rows[key][2], key
    assert rows["attack.version"][1] == "`'19'`"  # a string, as YAML writes it


def test_descriptions_are_the_comments_above_each_key() -> None:
    rows = _rows(build.render())
    assert rows["checks.signatures.require"][3].startswith("gpg: GPG signatures only (the Falco workflow)")
    assert rows["checks.dco.remediation_third_party"][3] == (
        '... and for other people\'s commits ("On behalf of Name &lt;email&gt;, I, ...").'
    )
    # a check's key without a comment of its own borrows the same key's of another check
    assert rows["checks.dco.severity"][3] == rows["checks.linked_issue.severity"][3] != ""


def test_comment_parsing_on_a_small_file() -> None:
    text = (
        "# Title line.\n# More of the title.\n\n"
        "top:\n"
        "  # About a.\n  # Second line.\n  a: 1\n"
        "  b: [x]\n"
        "  # Orphan, then a blank line.\n\n"
        "  c:\n    - item\n"
        "  # About d, after a list.\n  d:\n    # Inner.\n    e: true\n"
        "other: 2  # not a comment above a key\n"
    )
    header, comments = build.comments_by_key(text)
    assert header == "Title line. More of the title."
    assert comments == {"top": "", "top.a": "About a. Second line.", "top.b": "", "top.c": "",
                        "top.d": "About d, after a list.", "top.d.e": "Inner.", "other": ""}  # fmt: skip


def test_server_settings_come_from_the_settings_class_and_its_comments() -> None:
    rows = _rows(build.render())
    for name in Settings.model_fields:
        assert name.upper() in rows, name
    assert rows["WORKERS"][1:] == ["`int`", "`2`", "consumer threads (of `worker`, and of `serve`'s embedded consumer)"]
    assert rows["REDIS_URL"][2] == "unset"
    assert rows["DATABASE_URL"][3] == "default sqlite:///&lt;data dir&gt;/falco-rules-bot.db"
    assert rows["MAX_BODY_BYTES"][2] == f"`{Settings.model_fields['max_body_bytes'].default}`"


REPORT_SCHEMA = json.loads((ROOT / "docs" / "report-v1.schema.json").read_text())
GOOD_RULE = RULE.format(name="New rule", cond="evt.type = execve")


@pytest.fixture(scope="module")
def alice(tmp_path_factory: pytest.TempPathFactory) -> Key:
    return make_key(tmp_path_factory.mktemp("keys"), f"{ALICE[0]} <{ALICE[1]}>")


def _check_json(repo: Repo, key: Key, *extra: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "check", "--repo", str(repo.path), "--gnupghome", str(key.home), "--format",
         "json", *extra], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


@pytest.mark.skipif(not gpg_available(), reason="gpg is not installed")
def test_real_reports_of_check_follow_the_published_schema(tmp_path: Path, alice: Key) -> None:
    validator = jsonschema.Draft202012Validator(REPORT_SCHEMA)
    good = Repo(tmp_path / "good")
    good.write("rules/falco_rules.yaml", BASE_RULES + GOOD_RULE)
    good.commit("Add a rule", ALICE, key=alice, signoff=ALICE)
    (tmp_path / "body.md").write_text("Fixes #12\n")
    (tmp_path / "policy.yml").write_text("checks:\n  tags:\n    new_stable: notice\n")
    code, passing = _check_json(good, alice, "--pr-body-file", str(tmp_path / "body.md"), "--issue", "#12=open",
                                "--policy", str(tmp_path / "policy.yml"))  # fmt: skip
    assert (code, passing["conclusion"]) == (0, "success")
    bad = Repo(tmp_path / "bad")
    bad.write("rules/falco_rules.yaml", BASE_RULES + GOOD_RULE.replace("evt.type = execve", "proc.nmae = x"))
    bad.commit("Add a broken rule", ALICE)  # unsigned, no sign-off, no issue
    code, failing = _check_json(bad, alice)
    assert (code, failing["conclusion"]) == (1, "failure")
    for report in (passing, failing):
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(report)]
        assert errors == []
        assert report["rules_diff"]["changes"] and report["attack"] is not None  # the optional parts are exercised
        assert {c["id"] for c in report["checks"]} == set(CHECK_IDS)
    assert any(f["line"] for c in failing["checks"] for f in c["findings"])
    # the schema is no formality: what it rejects, a consumer could not read
    broken = json.loads(json.dumps(failing))
    broken["checks"][0]["findings"][0]["severity"] = "fatal"
    assert not validator.is_valid(broken)
    del broken["rules_diff"]["changes"][0]["kind"]
    assert len(list(validator.iter_errors(broken))) == 2


def _schema_names(node: object) -> set[str]:
    names: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties":
                names.update(value)
            names.update(_schema_names(value))
    elif isinstance(node, list):
        for value in node:
            names.update(_schema_names(value))
    return names


def test_report_doc_describes_every_field_of_the_schema() -> None:
    text = (ROOT / "docs" / "report.md").read_text()
    missing = sorted(name for name in _schema_names(REPORT_SCHEMA) if f"`{name}`" not in text)
    assert missing == []
    assert "report-v1.schema.json" in text


def test_cli_doc_covers_every_command_option_and_choice() -> None:
    import argparse

    from bot.cli import build_parser

    text = (ROOT / "docs" / "cli.md").read_text()
    sections = {part.split("`", 1)[0]: part for part in text.split("\n## `")[1:]}
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(sections) == set(commands)
    missing = []
    for name, command in commands.items():
        section = sections[name]
        synopsis = section.split("```")[1]
        if "Exit codes: `0`" not in section:
            missing.append(f"{name}: exit codes")
        for action in command._actions:
            if action.dest == "help":
                continue
            if action.option_strings or not action.choices:
                words = [o for o in action.option_strings if o.startswith("--")] or [str(action.metavar)]
                missing += [f"{name}: {w}" for w in words if w not in synopsis or f"`{w}" not in section]
            missing += [f"{name}: {c}" for c in action.choices or () if str(c) not in synopsis]
    assert missing == [], "document these in docs/cli.md"
    for variable in ("NO_COLOR", "FORCE_COLOR"):
        assert f"| `{variable}` |" in text


def test_commands_doc_agrees_with_the_code_and_templates() -> None:
    from bot import commands
    from bot.render import phrases

    text = " ".join((ROOT / "docs" / "commands.md").read_text().replace("\n> ", " ").split())
    reply = phrases("commands.yml")["unauthorised"].format(login="login", repo="owner/repo")
    assert reply in text
    assert (commands.REPLY_WINDOW, commands.ACK_WINDOW) == (3600.0, 30.0)
    assert "one polite reply per pull request per hour" in text and "every 30 seconds" in text
    assert {"write", "maintain", "admin"} == commands.ALLOWED and "**write, maintain or admin**" in text
    assert commands.parse_commands("/recheck\n@Falco-Rules-Bot[bot] HELP\n> /recheck", "falco-rules-bot") == [
        "recheck", "help"]  # fmt: skip
    assert commands.parse_commands("please /recheck this", "falco-rules-bot") == []
    sentence = yaml.safe_load((ROOT / "config" / "defaults.yml").read_text())["checks"]["agreement"]
    assert f"`{sentence['comment_sentence']}`" in text


def test_a_setting_documented_by_a_comment_above_it() -> None:
    source = (ROOT / "bot" / "settings.py").read_text()
    line = next(li for li in source.splitlines() if li.strip().startswith("workers:"))
    code, comment = line.split("  # ", 1)
    edited = source.replace(line, f"    # {comment[:10]}\n    # {comment[10:]}\n{code}")
    fields = {s.name: s.comment for s in build.settings_fields(edited)}
    assert fields["workers"] == f"{comment[:10]} {comment[10:]}".strip() != ""
    assert fields["log_level"] == {s.name: s.comment for s in build.settings_fields(source)}["log_level"]
