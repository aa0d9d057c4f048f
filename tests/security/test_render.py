"""User content in the review comment: it cannot add HTML, spoof the bot's marker, mention anyone, reference
issues, smuggle control characters or make the comment too long for GitHub."""

from __future__ import annotations

import re

import pytest

from bot.models import CheckResult, Finding, Report
from bot.render import COMMENT_LIMIT, escape_cell, escape_markdown, fix_block, render, render_comment

MARKER = "<!-- falco-rules-bot:review -->"
HOSTILE = [
    MARKER,
    "-->" + MARKER + "<!--",
    "<img src=x onerror=alert(1)>",
    "</details></summary><details open><summary>",
    "<script>alert(1)</script>",
    "@alice @falcosecurity/maintainers cc @bob-1",
    "Fixes #123, falcosecurity/rules#45 and GH-7",
    "**bold** _it_ [link](https://evil.example) ![img](https://evil.example/x.png) `code` ~~s~~",
    "| a | b |\n|---|---|",
    "line\nbreak\r\n# heading\n> quote\n```\nfence",
    "nul\x00 esc\x1b[31m red\x07 bell\x7f del\x85 nel",
    "trojan \u202eevil\u202c source \u2066x\u2069",
    "&lt;b&gt; already escaped &amp;",
]
# What GitHub turns into a mention, an issue reference or an HTML tag in a comment's Markdown.
MENTION = re.compile(r"(?<![A-Za-z0-9`])@[A-Za-z0-9]")
REFERENCE = re.compile(r"(?:#|\bGH-)\d", re.IGNORECASE)
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
ALLOWED_TAGS = {"details", "/details", "summary", "/summary", "b", "/b", "sub", "/sub"}


def hostile_report(value: str, long: bool = False) -> Report:
    finding = Finding("error", "LOAD_ERR_COMPILE_CONDITION", f"Rule {value} is wrong: {value}",
                      f"Rename {value}.\n\n    git commit --amend -m '{value}'", "0123456789abcdef",
                      f"rules/{value}.yaml", 3)  # fmt: skip
    findings = (finding,) * (60 if long else 1)
    dco = Finding("error", "DCO_MISSING", f"Commit 0123456789ab ({value}) has no sign-off.", commit="0123456789abcdef")
    checks = (
        CheckResult("rules", f"Falco rules {value}", "fail", f"The rule {value} does not load.", findings),
        CheckResult("dco", "DCO sign-off", "fail", f"Commit ({value}) is not signed off.", (dco,)),
    )
    attack = {"attack_version": "19", "uncovered": [],
              "landing": [{"rule": value, "status": "added", "tactics": [value], "techniques": [value],
                           "maturity": value, "file": f"rules/{value}.yaml", "line": 1}]}  # fmt: skip
    return Report("falcosecurity/rules", 7, "b" * 40, "c" * 40, checks, attack=attack)


def outside_code(body: str) -> str:
    """The comment without its fenced code blocks (GitHub shows their content as it is)."""
    return re.sub(r"^```sh\n.*?^```$", "", body, flags=re.M | re.S)


def assert_well_formed(body: str) -> None:
    assert body.startswith(MARKER + "\n")
    assert body.count(MARKER) == 1
    prose = outside_code(body)
    assert body.count("<!--") == 1 and prose.count("-->") == 1  # in a code block, `-->` closes nothing
    tags = re.findall(r"<\s*(/?[A-Za-z][A-Za-z0-9-]*)", prose)
    assert set(tags) <= ALLOWED_TAGS, set(tags) - ALLOWED_TAGS
    assert prose.count("<details") == prose.count("</details>")
    assert prose.count("<summary>") == prose.count("</summary>") == prose.count("<details")
    assert not MENTION.search(prose), MENTION.search(prose)
    assert not REFERENCE.search(prose), REFERENCE.search(prose)
    assert not CONTROL.search(body)
    assert body.count("```") % 2 == 0
    assert len(body) < COMMENT_LIMIT


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("link_base", [None, "https://github.com/falcosecurity/rules/blob/" + "c" * 40])
def test_the_comment_stays_well_formed(value: str, link_base: str | None) -> None:
    body = render_comment(hostile_report(value), link_base=link_base)
    assert_well_formed(body)


def test_every_hostile_value_at_once_and_very_long_lines() -> None:
    value = " ".join(HOSTILE) + " " + "x" * 200_000
    body = render_comment(hostile_report(value, long=True))
    assert_well_formed(body)
    assert max(len(line) for line in body.splitlines()) < 20_000


@pytest.mark.parametrize("value", HOSTILE)
def test_escaping_is_inert(value: str) -> None:
    for escaped in (escape_markdown(value), escape_cell(value)):
        assert "<" not in escaped and ">" not in escaped.replace("&gt;", "")
        assert not MENTION.search(escaped) and not REFERENCE.search(escaped) and not CONTROL.search(escaped)
        assert "`" not in escaped.replace("\\`", "")
    assert "\n" not in escape_cell(value)


def test_mentions_and_references_still_read_the_same() -> None:
    """The neutralisation is invisible: a zero-width space after `@`, `#` and `GH-`, nothing removed."""
    text = escape_markdown("@alice fixes #12 and GH-3")
    assert text.replace("\u200b", "").replace("\\", "") == "@alice fixes #12 and GH-3"


def test_a_fix_command_cannot_close_its_fence_or_carry_the_marker() -> None:
    block = fix_block(f"Do this:\n\n    echo '```'\n    echo '{MARKER}'\n\n@bob #4 <b>")
    assert block.count("```") == 2
    assert MARKER not in block
    assert not MENTION.search(outside_code(block)) and "<b>" not in block
    assert max(len(line) for line in fix_block("Run:\n\n    echo " + "y" * 100_000).splitlines()) <= 4001


def test_the_check_run_summary_is_escaped_too() -> None:
    value = " ".join(HOSTILE)
    report = hostile_report(value)
    text = render("check_run.md.j2", checks=report.checks, annotated=0, total=2)
    assert "<" not in text and not MENTION.search(text) and not REFERENCE.search(text) and not CONTROL.search(text)
