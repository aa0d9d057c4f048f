"""Commands in pull request comments: where they count, in which forms; the agreement sentence."""

from __future__ import annotations

import pytest

from bot.commands import help_text, is_agreement, parse_commands, policy_summary, visible_lines
from bot.policy import resolve_policy

SLUG = "falco-rules-bot"
SENTENCE = "I have read the CNCF contributor agreement and I agree to it."


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/recheck", ["recheck"]),
        ("/ReCheck", ["recheck"]),
        ("  /recheck  ", ["recheck"]),
        ("Looks fine.\n/ReCheck\n", ["recheck"]),
        ("Looks fine.\r\n/recheck\r\n", ["recheck"]),
        ("/recheck please", []),
        ("please /recheck", []),
        ("/rechecks", []),
        ("`/recheck`", []),
        ("```\n/recheck\n```", []),
        ("~~~sh\n/recheck\n~~~", []),
        ("````\n```\n/recheck\n````\n", []),
        ("```\ncode\n```\n/recheck", ["recheck"]),
        ("    /recheck", []),
        ("\t/recheck", []),
        ("> /recheck", []),
        ("   > /recheck", []),
        (">/recheck", []),
        ("@falco-rules-bot recheck", ["recheck"]),
        ("@Falco-Rules-Bot   RECHECK", ["recheck"]),
        ("@falco-rules-bot[bot] recheck", ["recheck"]),
        ("@falco-rules-bot help", ["help"]),
        ("@falco-rules-bot help\n/recheck", ["help", "recheck"]),
        ("/recheck\n/recheck", ["recheck"]),
        ("@other-bot recheck", []),
        ("@falco-rules-bot recheck now", []),
        ("@falco-rules-bot dance", []),
        ("> @falco-rules-bot help", []),
        ("hello @falco-rules-bot help", []),
        ("", []),
    ],
)
def test_commands(body: str, expected: list[str]) -> None:
    assert parse_commands(body, SLUG) == expected


@pytest.mark.parametrize(
    ("body", "signed"),
    [
        (SENTENCE, True),
        (SENTENCE.upper(), True),
        ("  I have read the CNCF   contributor agreement\tand I agree to it.  ", True),
        (f"Hi!\n\n{SENTENCE}\nThanks", True),
        (f"> {SENTENCE}", False),
        (f"```\n{SENTENCE}\n```", False),
        (f"    {SENTENCE}", False),
        (f"I think: {SENTENCE}", False),
        (SENTENCE.rstrip("."), False),
        ("I have read the CNCF contributor agreement", False),
        ("", False),
    ],
)
def test_agreement_sentence(body: str, signed: bool) -> None:
    assert is_agreement(body, SENTENCE) is signed


def test_an_empty_sentence_never_matches() -> None:
    assert not is_agreement("\n\n", "   ")


def test_visible_lines_drop_code_and_quotes() -> None:
    body = "a\n```\nb\n```\n> c\n    d\ne"
    assert visible_lines(body) == ["a", "e"]


def test_an_unclosed_fence_hides_the_rest() -> None:
    assert parse_commands("```\n/recheck", SLUG) == []


def test_help_names_the_commands_who_may_use_them_and_the_policy() -> None:
    policy, _ = resolve_policy("checks:\n  agreement:\n    mode: comment\n")
    text = help_text(SLUG, "falco/rules", policy, True, [])
    assert "/recheck" in text and f"@{SLUG} recheck" in text and f"@{SLUG} help" in text
    assert "write" in text and "falco/rules" in text
    assert "`comment`" in text and "I have read the CNCF contributor agreement" in text
    assert ".github/falco-rules-bot.yml" in text


def test_help_on_the_defaults_reports_policy_problems() -> None:
    policy, findings = resolve_policy("nonsense: 1\n")
    text = help_text(SLUG, "o/r", policy, True, [f.message for f in findings])
    assert "nonsense" in text
    default, _ = resolve_policy(None)
    assert "defaults" in help_text(SLUG, "o/r", default, False, [])


def test_policy_summary_lines() -> None:
    policy, _ = resolve_policy("checks:\n  rules:\n    warnings_fail: true\n  dco:\n    enabled: false\n")
    summary = policy_summary(policy)
    assert "warnings fail" in summary
    assert "DCO sign-off (off" in summary
    assert "engine 0.62.0" in summary


def test_draft_mode_follows_the_policy() -> None:
    from bot.commands import draft_mode

    assert draft_mode(resolve_policy(None)[0]) == "review"
    skip, _ = resolve_policy("pull_requests:\n  review_drafts: false\n")
    assert draft_mode(skip) == "skip"
    assert "not reviewed until ready" in policy_summary(skip)
